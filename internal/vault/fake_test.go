package vault

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeVault is an httptest server that answers like Vault for logins,
// signing, token lookups and health, and records what it was sent.
type fakeVault struct {
	t   *testing.T
	srv *httptest.Server
	pki *testPKI

	lease      int64         // lease_duration of login tokens, seconds
	health     atomic.Int32  // sys/health status; 0 = 200
	loginGate  chan struct{} // when set, logins wait for it to close
	loginError string        // when set, logins answer 400 with it

	mu       sync.Mutex
	logins   int
	issued   int               // tokens issued so far
	valid    map[string]bool   // tokens the fake accepts
	requests []*http.Request   // every request, body read
	bodies   []map[string]any  // their JSON bodies
	refuse   map[string]string // sign path -> error to answer with 400
}

func newFakeVault(t *testing.T) *fakeVault {
	fv := &fakeVault{t: t, pki: newTestPKI(t), lease: 3600, valid: map[string]bool{"static-token": true}, refuse: map[string]string{}}
	fv.srv = httptest.NewServer(http.HandlerFunc(fv.serve))
	t.Cleanup(fv.srv.Close)
	return fv
}

func (fv *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	fv.mu.Lock()
	fv.requests = append(fv.requests, r)
	fv.bodies = append(fv.bodies, body)
	fv.mu.Unlock()
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.URL.Path == "/v1/sys/health":
		code := int(fv.health.Load())
		if code == 0 {
			code = 200
		}
		reply(code, map[string]any{"initialized": true})
	case strings.HasSuffix(r.URL.Path, "/login"):
		if fv.loginGate != nil {
			select {
			case <-fv.loginGate:
			case <-r.Context().Done():
				return
			}
		}
		if fv.loginError != "" {
			reply(400, map[string]any{"errors": []string{fv.loginError}})
			return
		}
		fv.mu.Lock()
		fv.logins++
		fv.issued++
		tok := fmt.Sprintf("login-token-%d", fv.issued)
		fv.valid[tok] = true
		fv.mu.Unlock()
		reply(200, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": fv.lease, "renewable": true}})
	case r.URL.Path == "/v1/auth/token/lookup-self":
		if !fv.tokenOK(r) {
			reply(403, map[string]any{"errors": []string{"permission denied"}})
			return
		}
		reply(200, map[string]any{"data": map[string]any{"ttl": 1800}})
	case strings.HasPrefix(r.URL.Path, "/v1/pki/"):
		if !fv.tokenOK(r) {
			reply(403, map[string]any{"errors": []string{"1 error occurred:\n\t* permission denied\n\n"}})
			return
		}
		fv.mu.Lock()
		msg := fv.refuse[r.URL.Path]
		fv.mu.Unlock()
		if msg != "" {
			reply(400, map[string]any{"errors": []string{msg}})
			return
		}
		reply(200, map[string]any{"data": map[string]any{
			"certificate":   pemOf(fv.pki.leaf),
			"issuing_ca":    pemOf(fv.pki.inter),
			"ca_chain":      []string{pemOf(fv.pki.inter), pemOf(fv.pki.root)},
			"serial_number": "01:02",
		}})
	default:
		reply(404, map[string]any{"errors": []string{}})
	}
}

func (fv *fakeVault) tokenOK(r *http.Request) bool {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return fv.valid[r.Header.Get("X-Vault-Token")]
}

func (fv *fakeVault) revokeAll() {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	fv.valid = map[string]bool{}
}

func (fv *fakeVault) counts() (logins, requests int) {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return fv.logins, len(fv.requests)
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testCSR = []byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n")

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFakeSignAndHeaders(t *testing.T) {
	fv := newFakeVault(t)
	c := mustNew(t, Config{Server: fv.srv.URL, Namespace: "team-a", Auth: AppRole{RoleID: "rid", SecretID: "sid"}})
	ctx := context.Background()
	is, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: testCSR, CommonName: "web.example.com", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(is.Chain) != 2 || !is.Chain[0].Equal(fv.pki.leaf) || !is.CA.Equal(fv.pki.root) || is.Serial != "01:02" {
		t.Fatalf("issued = %s CA %v serial %q", names(is.Chain), is.CA.Subject, is.Serial)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3 (login, sign, health)", got)
	}
	fv.mu.Lock()
	defer fv.mu.Unlock()
	want := []struct{ method, path, ns, token string }{
		{"POST", "/v1/auth/approle/login", "team-a", ""},
		{"POST", "/v1/pki/sign/web", "team-a", "login-token-1"},
		{"GET", "/v1/sys/health", "", ""},
	}
	for i, w := range want {
		r := fv.requests[i]
		if r.Method != w.method || r.URL.Path != w.path || r.Header.Get("X-Vault-Namespace") != w.ns ||
			r.Header.Get("X-Vault-Token") != w.token || r.Header.Get("X-Vault-Request") != "true" {
			t.Errorf("request %d = %s %s ns=%q token=%q, want %+v", i, r.Method, r.URL.Path,
				r.Header.Get("X-Vault-Namespace"), r.Header.Get("X-Vault-Token"), w)
		}
	}
	if b := fv.bodies[0]; b["role_id"] != "rid" || b["secret_id"] != "sid" || len(b) != 2 {
		t.Errorf("login body = %v", b)
	}
	if b := fv.bodies[1]; b["ttl"] != "1h0m0s" || b["common_name"] != "web.example.com" {
		t.Errorf("sign body = %v", b)
	}
}

func TestFakeServerPathPrefix(t *testing.T) {
	fv := newFakeVault(t)
	mux := http.NewServeMux()
	mux.Handle("/vault/", http.StripPrefix("/vault", http.HandlerFunc(fv.serve)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := mustNew(t, Config{Server: srv.URL + "/vault/", Auth: Token{Token: " static-token\n"}})
	if _, err := c.Sign(context.Background(), "/pki/sign/web", SignRequest{CSR: testCSR}); err != nil {
		t.Fatal(err)
	}
}

func TestFakeTokenReuseAndExpiry(t *testing.T) {
	fv := newFakeVault(t)
	fv.lease = 60
	clock := &fakeClock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: AppRole{RoleID: "r", SecretID: "s"}, Now: clock.Now})
	ctx := context.Background()
	sign := func() {
		t.Helper()
		if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: testCSR}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance    time.Duration
		wantLogins int
		wantCalls  uint64
	}{
		{0, 1, 2},                // login + sign
		{0, 1, 3},                // reuse
		{39 * time.Second, 1, 4}, // still before 2/3 of 60s
		{time.Second, 2, 6},      // at 40s: log in again
		{39*time.Second + 999*time.Millisecond, 2, 7}, // 39.999s into the new token
		{time.Millisecond, 3, 9},
	}
	for i, s := range steps {
		clock.Add(s.advance)
		sign()
		logins, _ := fv.counts()
		if logins != s.wantLogins || c.Calls() != s.wantCalls {
			t.Fatalf("step %d: logins %d calls %d, want %d and %d", i, logins, c.Calls(), s.wantLogins, s.wantCalls)
		}
	}
	exp, known := c.TokenExpiry()
	if !known || !exp.Equal(clock.Now().Add(60*time.Second)) {
		t.Errorf("TokenExpiry() = %v, %v; want %v", exp, known, clock.Now().Add(time.Minute))
	}
}

func TestFakeLeaseZeroNeverExpires(t *testing.T) {
	fv := newFakeVault(t)
	fv.lease = 0
	clock := &fakeClock{now: time.Now()}
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: AppRole{RoleID: "r", SecretID: "s"}, Now: clock.Now})
	for range 3 {
		if _, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR}); err != nil {
			t.Fatal(err)
		}
		clock.Add(100 * 365 * 24 * time.Hour)
	}
	if logins, _ := fv.counts(); logins != 1 {
		t.Errorf("logins = %d, want 1", logins)
	}
	if exp, known := c.TokenExpiry(); !known || !exp.IsZero() {
		t.Errorf("TokenExpiry() = %v, %v; want zero, true", exp, known)
	}
}

func TestFakeSingleFlightLogin(t *testing.T) {
	fv := newFakeVault(t)
	fv.loginGate = make(chan struct{})
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: AppRole{RoleID: "r", SecretID: "s"}})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
			errs <- err
		})
	}
	// Let the login through once it has arrived.
	waitFor(t, func() bool { _, reqs := fv.counts(); return reqs >= 1 })
	close(fv.loginGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if logins, reqs := fv.counts(); logins != 1 || reqs != n+1 {
		t.Errorf("logins %d, requests %d; want 1 and %d", logins, reqs, n+1)
	}
}

func TestFakeLoginErrorShared(t *testing.T) {
	fv := newFakeVault(t)
	fv.loginError = "invalid role or secret ID"
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: AppRole{RoleID: "r", SecretID: "s"}})
	_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
	want := "vault: POST /v1/auth/approle/login: 400: invalid role or secret ID"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if c.Calls() != 1 {
		t.Errorf("Calls() = %d, want 1: no sign without a token", c.Calls())
	}
}

func TestFakeLeaderCanceled(t *testing.T) {
	fv := newFakeVault(t)
	fv.loginGate = make(chan struct{})
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: AppRole{RoleID: "r", SecretID: "s"}})
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Sign(leaderCtx, "pki/sign/web", SignRequest{CSR: testCSR})
		leaderErr <- err
	}()
	waitFor(t, func() bool { _, reqs := fv.counts(); return reqs >= 1 })
	waiterErr := make(chan error, 1)
	go func() {
		_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
		waiterErr <- err
	}()
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v, want context.Canceled", err)
	}
	close(fv.loginGate)
	if err := <-waiterErr; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func TestFakeReloginOn403(t *testing.T) {
	fv := newFakeVault(t)
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: AppRole{RoleID: "r", SecretID: "s"}})
	ctx := context.Background()
	if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: testCSR}); err != nil {
		t.Fatal(err)
	}
	fv.revokeAll()
	before := c.Calls()
	if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: testCSR}); err != nil {
		t.Fatal(err)
	}
	if got := c.Calls() - before; got != 3 {
		t.Errorf("calls = %d, want 3 (refused sign, login, sign)", got)
	}
}

func TestFakeStatic403NoRetry(t *testing.T) {
	fv := newFakeVault(t)
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: Token{Token: "wrong"}})
	_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
	if !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("err = %v, want ErrPermissionDenied", err)
	}
	if want := "vault: POST /v1/pki/sign/web: 403: 1 error occurred: * permission denied"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.Path != "/v1/pki/sign/web" {
		t.Errorf("errors.As ResponseError = %+v", re)
	}
	if c.Calls() != 1 {
		t.Errorf("Calls() = %d, want 1", c.Calls())
	}
	err = c.CheckLogin(context.Background())
	if !errors.Is(err, ErrPermissionDenied) || err.Error() != "Vault refused the token: permission denied" {
		t.Errorf("CheckLogin() = %v", err)
	}
}

func TestFakeCheckLoginRecordsTTL(t *testing.T) {
	fv := newFakeVault(t)
	clock := &fakeClock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: Token{Token: "static-token"}, Now: clock.Now})
	if _, known := c.TokenExpiry(); known {
		t.Error("expiry known before any lookup")
	}
	if err := c.CheckLogin(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exp, known := c.TokenExpiry(); !known || !exp.Equal(clock.Now().Add(30*time.Minute)) {
		t.Errorf("TokenExpiry() = %v, %v", exp, known)
	}
}

func TestFakeRoleRefusal(t *testing.T) {
	fv := newFakeVault(t)
	fv.refuse["/v1/pki/sign/web"] = "common name x.example.com not allowed by this role"
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: Token{Token: "static-token"}})
	_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR, CommonName: "x.example.com"})
	want := "vault: POST /v1/pki/sign/web: 400: common name x.example.com not allowed by this role"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestFakeSecretsNotInErrors(t *testing.T) {
	fv := newFakeVault(t)
	fv.loginError = "no role with secret_id super-secret-id or jwt eyJ.secret.jwt"
	for secret, auth := range map[string]Auth{
		"super-secret-id": AppRole{RoleID: "r", SecretID: "super-secret-id"},
		"eyJ.secret.jwt":  Kubernetes{Role: "r", JWT: func(context.Context) (string, error) { return "eyJ.secret.jwt", nil }},
	} {
		c := mustNew(t, Config{Server: fv.srv.URL, Auth: auth})
		_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("%T: err = %v", auth, err)
		}
	}
}

func TestFakeKubernetesLogin(t *testing.T) {
	fv := newFakeVault(t)
	fv.lease = 60
	clock := &fakeClock{now: time.Now()}
	var jwts atomic.Int32
	c := mustNew(t, Config{Server: fv.srv.URL, Now: clock.Now, Auth: Kubernetes{
		Path: "/v1/auth/kubernetes-east",
		Role: "issuer",
		JWT: func(context.Context) (string, error) {
			return fmt.Sprintf("jwt-%d", jwts.Add(1)), nil
		},
	}})
	for range 2 {
		if _, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute)
	}
	fv.mu.Lock()
	defer fv.mu.Unlock()
	if fv.requests[0].URL.Path != "/v1/auth/kubernetes-east/login" || fv.bodies[0]["role"] != "issuer" || fv.bodies[0]["jwt"] != "jwt-1" {
		t.Errorf("first login %s %v", fv.requests[0].URL.Path, fv.bodies[0])
	}
	if fv.bodies[2]["jwt"] != "jwt-2" || jwts.Load() != 2 {
		t.Errorf("second login %v; JWT called %d times", fv.bodies[2], jwts.Load())
	}

	boom := mustNew(t, Config{Server: fv.srv.URL, Auth: Kubernetes{Role: "r", JWT: func(context.Context) (string, error) {
		return "", errors.New("serviceaccounts \"x\" is forbidden")
	}}})
	_, err := boom.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
	if err == nil || !strings.Contains(err.Error(), "getting a service account token: serviceaccounts") || boom.Calls() != 0 {
		t.Errorf("err = %v, calls %d", err, boom.Calls())
	}
}

func TestFakeHealth(t *testing.T) {
	fv := newFakeVault(t)
	c := mustNew(t, Config{Server: fv.srv.URL, Namespace: "ns", Auth: Token{Token: "t"}})
	tests := []struct {
		code    int
		want    error
		wantMsg string
	}{
		{200, nil, ""},
		{429, nil, ""},
		{472, nil, ""},
		{473, nil, ""},
		{501, ErrNotInitialized, "Vault is not initialized"},
		{503, ErrSealed, "Vault is sealed"},
		{474, nil, "error calling Vault /v1/sys/health: status 474"},
		{500, nil, "error calling Vault /v1/sys/health: status 500 (Internal Server Error)"},
	}
	for _, tt := range tests {
		fv.health.Store(int32(tt.code))
		err := c.Health(context.Background())
		switch {
		case tt.wantMsg == "" && err != nil:
			t.Errorf("%d: %v, want nil", tt.code, err)
		case tt.wantMsg != "" && (err == nil || err.Error() != tt.wantMsg):
			t.Errorf("%d: %v, want %q", tt.code, err, tt.wantMsg)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%d: %v is not %v", tt.code, err, tt.want)
		}
	}
	fv.mu.Lock()
	for _, r := range fv.requests {
		if r.Header.Get("X-Vault-Namespace") != "" || r.Header.Get("X-Vault-Token") != "" {
			t.Errorf("health request with namespace %q / a token", r.Header.Get("X-Vault-Namespace"))
		}
	}
	fv.mu.Unlock()

	// A server that is not there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	gone := mustNew(t, Config{Server: "http://" + addr, Auth: Token{Token: "t"}})
	err = gone.Health(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "error calling Vault /v1/sys/health: ") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Health() on a closed port = %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("Health() error %v does not wrap the *net.OpError", err)
	}
}

// TestFakeEnvironmentIgnored sets every VAULT_* variable vault/api reads;
// none may change what the client does.
func TestFakeEnvironmentIgnored(t *testing.T) {
	fv := newFakeVault(t)
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "static-token") // valid at the fake: must not be used
	t.Setenv("VAULT_NAMESPACE", "env-namespace")
	t.Setenv("VAULT_HEADERS", `{"X-Env":"1"}`)
	t.Setenv("VAULT_CACERT", "/nonexistent/ca.pem")
	t.Setenv("VAULT_SKIP_VERIFY", "not-a-bool")
	t.Setenv("VAULT_MAX_RETRIES", "9")
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: Token{Token: "wrong"}})
	_, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: testCSR})
	if !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("err = %v, want ErrPermissionDenied: VAULT_TOKEN must be ignored", err)
	}
	if err := c.Health(context.Background()); err != nil {
		t.Fatalf("Health: %v (VAULT_ADDR must be ignored)", err)
	}
	fv.mu.Lock()
	defer fv.mu.Unlock()
	for _, r := range fv.requests {
		if r.Header.Get("X-Vault-Namespace") != "" || r.Header.Get("X-Env") != "" {
			t.Errorf("%s: headers from the environment: %v", r.URL.Path, r.Header)
		}
	}
	if c.Calls() != 2 {
		t.Errorf("Calls() = %d, want 2: no retries", c.Calls())
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no auth", Config{Server: "https://v"}, "no auth method"},
		{"empty token", Config{Server: "https://v", Auth: Token{Token: " \n"}}, "token is empty"},
		{"approle without secret", Config{Server: "https://v", Auth: AppRole{RoleID: "r"}}, "secret ID is empty"},
		{"approle without role", Config{Server: "https://v", Auth: AppRole{SecretID: "s"}}, "role ID is empty"},
		{"approle bad path", Config{Server: "https://v", Auth: AppRole{Path: "a/../b", RoleID: "r", SecretID: "s"}}, `".." segments`},
		{"kubernetes without role", Config{Server: "https://v", Auth: Kubernetes{JWT: func(context.Context) (string, error) { return "", nil }}}, "role is empty"},
		{"kubernetes without JWT", Config{Server: "https://v", Auth: Kubernetes{Role: "r"}}, "no service account token source"},
		{"certificate without cert", Config{Server: "https://v", Auth: Certificate{}}, "no certificate"},
		{"certificate over http", Config{Server: "http://v", Auth: Certificate{Cert: tlsCertFor(t)}}, "needs an https server"},
		{"bad CA bundle", Config{Server: "https://v", CABundle: []byte("not pem"), Auth: Token{Token: "t"}}, "CA bundle holds no PEM certificate"},
		{"client cert without key", Config{Server: "https://v", ClientCert: &tls.Certificate{Certificate: [][]byte{{1}}}, Auth: Token{Token: "t"}}, "no private key"},
		{"bad server", Config{Server: "v:8200", Auth: Token{Token: "t"}}, "want an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := New(Config{Server: "https://v", Auth: &Token{Token: "pointer works"}}); err != nil {
		t.Errorf("New with *Token: %v", err)
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	fv := newFakeVault(t)
	c := mustNew(t, Config{Server: fv.srv.URL, Auth: Token{Token: "static-token"}})
	if _, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{}); err == nil || !strings.Contains(err.Error(), "no CSR") {
		t.Errorf("no CSR: %v", err)
	}
	if _, err := c.Sign(context.Background(), "pki/../sys/seal", SignRequest{CSR: testCSR}); err == nil {
		t.Error("a path with .. was sent")
	}
	if c.Calls() != 0 {
		t.Errorf("Calls() = %d, want 0", c.Calls())
	}
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

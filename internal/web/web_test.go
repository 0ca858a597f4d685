package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/estate"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func at(t time.Time) *time.Time { return &t }

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "72h": 72 * time.Hour, "0d": 0, "90m": 90 * time.Minute, "106751d": 106751 * 24 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "-1h", "3x", "1.5d", "soon", "106752d", "99999999999999999999d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) took it", in)
		}
	}
}

func TestLayoutTimeline(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rows := []estate.Row{
		{Kind: estate.KindCertificate, Namespace: "a", Name: "old", NotBefore: at(now.Add(-40 * day)), NotAfter: at(now.Add(-day)), State: estate.StateExpired},
		{Kind: estate.KindCertificate, Namespace: "a", Name: "soon", NotBefore: at(now.Add(-20 * day)), NotAfter: at(now.Add(3 * day)), RenewalTime: at(now.Add(-day)), State: estate.StateReady},
		{Kind: estate.KindClusterIssuer, Name: "root", NotBefore: at(now.Add(-3000 * day)), NotAfter: at(now.Add(3000 * day)), State: estate.StateReady},
		{Kind: estate.KindCertificate, Namespace: "a", Name: "pending", State: estate.StatePending},
	}
	tl := layoutTimeline(rows, now, 30*day)
	if len(tl.Rows) != 3 || tl.Left != 1 {
		t.Fatalf("%d bars and %d left out, want 3 and 1", len(tl.Rows), tl.Left)
	}
	if tl.Today <= tl.X0 || tl.Today >= tl.X1 {
		t.Errorf("today at %v, outside the axis %v..%v", tl.Today, tl.X0, tl.X1)
	}
	for i, want := range []string{"expired", "soon", "ok"} {
		if got := tl.Rows[i].Class; got != want {
			t.Errorf("bar %s is %q, want %q", tl.Rows[i].Row.Name, got, want)
		}
	}
	old, soon, root := tl.Rows[0], tl.Rows[1], tl.Rows[2]
	if old.X+old.W > tl.Today {
		t.Errorf("the expired bar ends at %v, after today %v", old.X+old.W, tl.Today)
	}
	if !soon.HasRenew || soon.Renew >= tl.Today || soon.Renew <= soon.X {
		t.Errorf("renewal marker of soon at %v (has %v), want inside its bar before today", soon.Renew, soon.HasRenew)
	}
	if !root.CutLeft || !root.CutRight || root.X != tl.X0 || root.X+root.W != tl.X1 {
		t.Errorf("the ten-year CA is not cut to the axis: %+v", root)
	}
	if len(tl.Ticks) == 0 || len(tl.Ticks) > 15 {
		t.Errorf("%d ticks", len(tl.Ticks))
	}
	if soon.Y <= old.Y || root.Y <= soon.Y {
		t.Error("rows are not drawn in their order")
	}
}

func ready(status cmv1.ConditionStatus) []cmv1.IssuerCondition {
	return []cmv1.IssuerCondition{{Type: "Ready", Status: status}}
}

// seed000 is the bootstrapping of a CA issuer as cert-manager documents
// it: a selfSigned ClusterIssuer issues a CA Certificate, whose Secret a
// CA ClusterIssuer signs with, for leaf Certificates.
func seed000(leaves int) graphInput {
	in := graphInput{
		ClusterIssuers: []cmv1.ClusterIssuer{
			{ObjectMeta: metav1.ObjectMeta{Name: "selfsigned"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}, Status: cmv1.IssuerStatus{Conditions: ready(cmv1.ConditionTrue)}},
			{ObjectMeta: metav1.ObjectMeta{Name: "ca"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root-ca"}}}, Status: cmv1.IssuerStatus{Conditions: ready(cmv1.ConditionTrue)}},
		},
		Certificates: []cmv1.Certificate{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "cert-manager", Name: "root-ca"},
			Spec:       cmv1.CertificateSpec{IsCA: true, SecretName: "root-ca", IssuerRef: cmv1.ObjectReference{Name: "selfsigned", Kind: "ClusterIssuer"}},
		}},
	}
	for i := range leaves {
		in.Certificates = append(in.Certificates, cmv1.Certificate{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "client-" + string(rune('a'+i))},
			Spec:       cmv1.CertificateSpec{SecretName: "client-tls", IssuerRef: cmv1.ObjectReference{Name: "ca", Kind: "ClusterIssuer"}},
		})
	}
	return in
}

func TestBuildGraphSeed000(t *testing.T) {
	in := seed000(3)
	in.Certificates = append(in.Certificates, cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "orphan"},
		Spec:       cmv1.CertificateSpec{SecretName: "orphan", IssuerRef: cmv1.ObjectReference{Name: "gone"}},
	})
	g := buildGraph(in)
	layer := map[string]int{}
	for _, n := range g.Nodes {
		layer[n.ID] = n.Layer
		if n.X < 0 || n.Y < 0 || n.X+n.W > float64(g.Width) || n.Y+n.H > float64(g.Height) {
			t.Errorf("node %s at %v,%v is outside the %dx%d drawing", n.ID, n.X, n.Y, g.Width, g.Height)
		}
	}
	want := map[string]int{
		"ClusterIssuer//selfsigned": 0, "Certificate/cert-manager/root-ca": 1, "ClusterIssuer//ca": 2,
		"Certificate/apps/client-a": 3, "Certificate/apps/client-c": 3,
		"Issuer/apps/gone": 0, "Certificate/apps/orphan": 1,
	}
	for id, l := range want {
		if got, ok := layer[id]; !ok || got != l {
			t.Errorf("node %s in column %d (present %v), want %d", id, got, ok, l)
		}
	}
	edges := map[string]string{}
	for _, e := range g.Edges {
		edges[e.From+" → "+e.To] = e.Label
		if !strings.HasPrefix(e.Path, "M") {
			t.Errorf("edge %s → %s has no path", e.From, e.To)
		}
	}
	for edge, label := range map[string]string{
		"ClusterIssuer//selfsigned → Certificate/cert-manager/root-ca": "issues",
		"Certificate/cert-manager/root-ca → ClusterIssuer//ca":         "signs",
		"ClusterIssuer//ca → Certificate/apps/client-b":                "issues",
	} {
		if edges[edge] != label {
			t.Errorf("edge %s is %q, want %q", edge, edges[edge], label)
		}
	}
	for _, n := range g.Nodes {
		if n.ID == "Issuer/apps/gone" && (n.State != estate.StateMissing || !strings.Contains(n.Class(), "bad")) {
			t.Errorf("the missing issuer is %q (%s)", n.State, n.Class())
		}
	}
}

func TestBuildGraphManyLeaves(t *testing.T) {
	g := buildGraph(seed000(graphMaxLeaves + 5))
	certs, more := 0, ""
	for _, n := range g.Nodes {
		switch {
		case n.Kind == estate.KindCertificate:
			certs++
		case strings.HasPrefix(n.ID, nodeMore):
			more = n.Name
		}
	}
	if certs != graphMaxLeaves+1 || more != "+5 more Certificates" {
		t.Errorf("%d Certificates drawn and %q, want %d and +5 more", certs, more, graphMaxLeaves+1)
	}
}

// informerCache is a fake client as the view's cache; nothing is watched.
type informerCache struct{ client.Client }

func (informerCache) GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error) {
	return nil, io.EOF
}

// fakeAuth accepts the tokens it knows; alice may list Certificates in
// namespace "a" only, and nothing else.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (*User, error) {
	if token == "alice-token" {
		return &User{Name: "alice"}, nil
	}
	return nil, nil
}

func (fakeAuth) Allowed(_ context.Context, u *User, a Access) (bool, error) {
	return u.Name == "alice" && a.Resource == "certificates" && a.Namespace == "a", nil
}

func testServer(t *testing.T, auth Auth) (*Server, []byte) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := cmv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ca := pkitest.CA(t, "Test CA")
	leaf, key := pkitest.Leaf(t, ca, "web.a.svc", nil, "web.a.svc")
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		&cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web", Labels: map[string]string{"app": "web"}},
			Spec:   cmv1.CertificateSpec{SecretName: "web-tls", DNSNames: []string{"web.a.svc"}, IssuerRef: cmv1.ObjectReference{Name: "ca"}},
			Status: cmv1.CertificateStatus{Conditions: []cmv1.CertificateCondition{{Type: "Ready", Status: cmv1.ConditionTrue, Reason: "Ready"}}}},
		&cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "db", Labels: map[string]string{"app": "db"}},
			Spec: cmv1.CertificateSpec{SecretName: "db-tls", DNSNames: []string{"db.b.svc"}, IssuerRef: cmv1.ObjectReference{Name: "ca"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: pki.EncodeCertificatesPEM(leaf, ca.Certificate), corev1.TLSPrivateKeyKey: keyPEM}},
		&cmv1.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "ca"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "ca"}}}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	s, err := New(Options{Listener: ln, Cache: informerCache{c}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return s, keyPEM
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPagesWithoutAuth(t *testing.T) {
	s, keyPEM := testServer(t, nil)
	rec := get(t, s, "/")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `data-name="web"`) || !strings.Contains(body, `data-name="db"`) {
		t.Fatalf("inventory: %d, lacks web or db:\n%s", rec.Code, body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if body := get(t, s, "/?namespace=a").Body.String(); strings.Contains(body, `data-name="db"`) || !strings.Contains(body, `data-name="web"`) {
		t.Error("the namespace filter keeps db or drops web")
	}
	if body := get(t, s, "/?selector=app%3Ddb&fragment=1").Body.String(); strings.Contains(body, `data-name="web"`) || strings.Contains(body, "<html") {
		t.Errorf("the label filter or the fragment is wrong:\n%s", body)
	}
	if rec := get(t, s, "/?expiring-within=soon"); !strings.Contains(rec.Body.String(), "give a duration") {
		t.Error("a bad duration is not reported")
	}
	for _, path := range []string{"/timeline", "/graph", "/object/certificates/a/web", "/object/issuers/a/ca", "/static/app.js", "/static/app.css", "/static/favicon.svg"} {
		rec := get(t, s, path)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), strings.TrimSpace(string(keyPEM))) || strings.Contains(rec.Body.String(), "PRIVATE KEY") {
			t.Errorf("%s shows the private key", path)
		}
	}
	obj := get(t, s, "/object/certificates/a/web").Body.String()
	for _, want := range []string{"web.a.svc", "CN=Test CA", "Secret a/web-tls, tls.crt", "SHA-256"} {
		if !strings.Contains(obj, want) {
			t.Errorf("the certificate page lacks %q", want)
		}
	}
	if rec := get(t, s, "/object/certificates/a/nothing"); rec.Code != http.StatusNotFound {
		t.Errorf("a missing object: %d", rec.Code)
	}
	if rec := get(t, s, "/object/certificates/web"); rec.Code != http.StatusNotFound {
		t.Errorf("a namespaced kind without namespace: %d", rec.Code)
	}
	var rep estate.Report
	if err := json.Unmarshal(get(t, s, "/api/inventory?namespace=b").Body.Bytes(), &rep); err != nil || len(rep.Items) != 1 || rep.Items[0].Name != "db" {
		t.Errorf("/api/inventory?namespace=b: %v %+v", err, rep.Items)
	}
}

func TestPagesWithAuth(t *testing.T) {
	s, _ := testServer(t, fakeAuth{})
	if rec := get(t, s, "/"); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `name="token"`) {
		t.Errorf("no token: %d, want 401 and the login form", rec.Code)
	}
	for _, path := range []string{"/api/inventory", "/events", "/?fragment=1"} {
		if rec := get(t, s, path, "Authorization", "Bearer mallory"); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "<form") {
			t.Errorf("%s with a refused token: %d", path, rec.Code)
		}
	}
	rec := get(t, s, "/", "Authorization", "Bearer alice-token")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `data-name="web"`) || strings.Contains(body, `data-name="db"`) || !strings.Contains(body, "alice") {
		t.Errorf("alice sees namespace b, or not a: %d\n%s", rec.Code, body)
	}
	if strings.Contains(body, `data-kind="Issuer"`) {
		t.Error("alice sees Issuers she may not list")
	}
	if rec := get(t, s, "/object/certificates/b/db", "Authorization", "Bearer alice-token"); rec.Code != http.StatusForbidden {
		t.Errorf("alice gets a Certificate of namespace b: %d", rec.Code)
	}
	// The login form sets the cookie the pages then accept.
	form := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {"alice-token"}}.Encode()))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	login := httptest.NewRecorder()
	s.ServeHTTP(login, form)
	cookies := login.Result().Cookies()
	if login.Code != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d %v", login.Code, cookies)
	}
	if rec := get(t, s, "/", "Cookie", tokenCookie+"="+cookies[0].Value); rec.Code != http.StatusOK {
		t.Errorf("with the cookie: %d", rec.Code)
	}
}

// openEvents opens the server's event stream for at most 10 s and returns
// its header and its lines; it is closed when the test ends.
func openEvents(t *testing.T, srv *httptest.Server) (http.Header, *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp.Header, bufio.NewScanner(resp.Body)
}

func TestEventStream(t *testing.T) {
	s, _ := testServer(t, nil)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close) // after the streams close: cleanups run last first
	header, lines := openEvents(t, srv)
	if ct := header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	next := func(prefix string) string {
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), prefix) {
				return lines.Text()
			}
		}
		t.Fatalf("the stream ended before %q: %v", prefix, lines.Err())
		return ""
	}
	next("event: hello")
	s.hub.notify(estate.KindCertificate)
	s.hub.notify(estate.KindIssuer)
	next("event: change")
	if data := next("data:"); !strings.Contains(data, `"Certificate"`) {
		t.Errorf("change event %q does not name Certificate", data)
	}
}

func TestAPIServerAuth(t *testing.T) {
	var reviews, sars int
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			switch o := obj.(type) {
			case *authnv1.TokenReview:
				reviews++
				if o.Spec.Token == "good" {
					o.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "bob", Groups: []string{"dev"}}}
				}
			case *authzv1.SubjectAccessReview:
				sars++
				ra := o.Spec.ResourceAttributes
				o.Status.Allowed = o.Spec.User == "bob" && o.Spec.Groups[0] == "dev" && ra.Verb == "list" && ra.Resource == "certificates" && ra.Namespace == "a"
			}
			return nil
		},
	}).Build()
	now := time.Now()
	a := &APIServerAuth{Client: c, Now: func() time.Time { return now }}
	ctx := context.Background()
	u, err := a.Authenticate(ctx, "good")
	if err != nil || u == nil || u.Name != "bob" {
		t.Fatalf("Authenticate(good) = %v, %v", u, err)
	}
	if u, err := a.Authenticate(ctx, "bad"); err != nil || u != nil {
		t.Errorf("Authenticate(bad) = %v, %v", u, err)
	}
	_, _ = a.Authenticate(ctx, "good")
	if reviews != 2 {
		t.Errorf("%d TokenReviews, want 2 (the answer is kept)", reviews)
	}
	for ns, want := range map[string]bool{"a": true, "b": false} {
		for range 2 {
			if got, err := a.Allowed(ctx, u, Access{Verb: "list", Group: "cert-manager.io", Resource: "certificates", Namespace: ns}); err != nil || got != want {
				t.Errorf("Allowed(list certificates in %s) = %v, %v", ns, got, err)
			}
		}
	}
	if sars != 2 {
		t.Errorf("%d SubjectAccessReviews, want 2", sars)
	}
	now = now.Add(time.Minute)
	_, _ = a.Authenticate(ctx, "good")
	if reviews != 3 {
		t.Error("an expired answer was used")
	}
}

func TestShortDuration(t *testing.T) {
	day := 24 * time.Hour
	for d, want := range map[time.Duration]string{
		30 * day: "30d", 30*day - time.Hour: "29d 23h", 5 * time.Hour: "5h", 90 * time.Minute: "1h 30m",
		65 * time.Second: "1m 5s", 2 * time.Second: "2s", 0: "0s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestGenerationBetweenPageAndStream: a change between a page's listing
// and its event stream is not lost. The page carries the count of changes
// it saw, the stream's hello the count now; the script fetches the view
// again when they differ (app.js).
func TestGenerationBetweenPageAndStream(t *testing.T) {
	s, _ := testServer(t, nil)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close) // after the streams close: cleanups run last first
	pageGeneration := func() string {
		body := get(t, s, "/").Body.String()
		m := regexp.MustCompile(`id="live"[^>]* data-generation="(\d+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the page has no generation:\n%s", body)
		}
		return m[1]
	}
	helloGeneration := func() string {
		_, lines := openEvents(t, srv)
		for lines.Scan() {
			if lines.Text() == "event: hello" && lines.Scan() {
				var hello struct {
					Generation *uint64 `json:"generation"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(lines.Text(), "data: ")), &hello); err != nil || hello.Generation == nil {
					t.Fatalf("hello %q: %v", lines.Text(), err)
				}
				return strconv.FormatUint(*hello.Generation, 10)
			}
		}
		t.Fatalf("no hello: %v", lines.Err())
		return ""
	}
	page := pageGeneration()
	if hello := helloGeneration(); hello != page {
		t.Errorf("nothing changed, but the page says %s and the hello %s", page, hello)
	}
	page = pageGeneration()
	s.hub.notify(estate.KindCSR)
	if hello := helloGeneration(); hello == page {
		t.Errorf("a change after the page was listed: the page and the hello both say %s", page)
	}
}

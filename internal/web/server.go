// Package web serves certplane's read-only web view of a cluster's
// certificates: the inventory of `certplane status` with its filters, an
// expiry timeline, the issuer graph and a page per object, live through
// server-sent events that the controllers' informers drive. HTML, CSS and
// JavaScript are embedded; nothing is fetched from elsewhere.
//
// With an Auth, every request carries a bearer token (a header, or the
// cookie the login page sets), the apiserver reviews it, and each kind and
// namespace is shown only if a SubjectAccessReview allows the user to list
// it, as kube-rbac-proxy does. Without one, whoever reaches the address
// sees what the controllers read.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/certplane/certplane/internal/estate"
)

// The web view reads, beyond what the controllers already do, the Events
// of the object a page shows, and reviews its users' tokens and access.
// +kubebuilder:rbac:groups="",resources=events,verbs=list
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

//go:embed assets templates
var files embed.FS

// Cache is what the web view needs of the controllers' cache: reads, and
// informers to follow changes.
type Cache interface {
	client.Reader
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// Options configure the web view.
type Options struct {
	// Listener is what the view is served on; the caller listens, so that
	// an address in use fails at start.
	Listener net.Listener
	// Cache holds the objects shown.
	Cache Cache
	// Live reads what the cache does not hold: Secrets certplane did not
	// write (CAs of issuers), the data of those it did (SecretLabels) and
	// Events. If nil, Cache.
	Live client.Reader
	// SecretLabels, if set, select the Secrets of Certificates, which the
	// cache holds without their data: their certificates are read from
	// Live, a page at a time, when a page is drawn. If nil, the Secrets in
	// Cache are shown as they are there.
	SecretLabels map[string]string
	// Auth, if not nil, authenticates and authorizes each request. If nil,
	// there is no login and everything is shown.
	Auth Auth
	// ClusterResourceNamespace holds the ClusterIssuers' CA Secrets. If
	// empty, cert-manager.
	ClusterResourceNamespace string
	// TLSCertFile and TLSKeyFile, if set, serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// Warn is how close an expiry must be to need attention. If zero, 30
	// days, as `certplane status`.
	Warn time.Duration
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

// Server is the web view. It is a controller-runtime Runnable that runs on
// every replica, leader or not.
type Server struct {
	o     Options
	hub   *hub
	pages map[string]*template.Template
	mux   *http.ServeMux
	log   logr.Logger
}

// New checks o and prepares the pages.
func New(o Options) (*Server, error) {
	if o.Listener == nil || o.Cache == nil {
		return nil, errors.New("web: a listener and a cache are needed")
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return nil, errors.New("web: give both a TLS certificate and its key, or neither")
	}
	if o.Live == nil {
		o.Live = o.Cache
	}
	if o.ClusterResourceNamespace == "" {
		o.ClusterResourceNamespace = estate.DefaultClusterResourceNamespace
	}
	if o.Warn == 0 {
		o.Warn = estate.DefaultWarn
	}
	s := &Server{o: o, hub: newHub(), pages: map[string]*template.Template{}, log: logr.Discard()}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"inventory", "timeline", "graph", "object", "login"} {
		t, err := template.Must(base.Clone()).ParseFS(files, "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		s.pages[p] = t
	}
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(assets)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.Handle("GET /{$}", s.authenticated(s.inventory))
	mux.Handle("GET /timeline", s.authenticated(s.timeline))
	mux.Handle("GET /graph", s.authenticated(s.graph))
	mux.Handle("GET /object/{resource}/{name}", s.authenticated(s.object))
	mux.Handle("GET /object/{resource}/{namespace}/{name}", s.authenticated(s.object))
	mux.Handle("GET /api/inventory", s.authenticated(s.inventoryJSON))
	mux.Handle("GET /events", s.authenticated(s.events))
	s.mux = mux
	return s, nil
}

// NeedLeaderElection is false: every replica serves the view.
func (s *Server) NeedLeaderElection() bool { return false }

// ServeHTTP serves the view, with headers that keep the pages to their own
// origin's scripts and styles.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// Start follows the informers and serves until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	s.log = logf.FromContext(ctx).WithName("web")
	if err := s.watch(ctx); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// Requests, event streams included, end with ctx.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() {
		if s.o.TLSCertFile != "" {
			done <- srv.ServeTLS(s.o.Listener, s.o.TLSCertFile, s.o.TLSKeyFile)
		} else {
			done <- srv.Serve(s.o.Listener)
		}
	}()
	s.log.Info("serving the web view", "address", s.o.Listener.Addr().String(), "authentication", s.o.Auth != nil)
	select {
	case err := <-done:
		return fmt.Errorf("web view: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("web view: %w", err)
	}
	return nil
}

// watch adds a handler to the informer of every kind shown, whose events
// wake the event streams. Kinds the cluster does not serve are skipped.
func (s *Server) watch(ctx context.Context) error {
	for _, r := range watched() {
		inf, err := s.o.Cache.GetInformer(ctx, r.newObject())
		if isNotServed(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("web view: watching %s: %w", r.Plural, err)
		}
		kind := r.Kind
		reg, err := inf.AddEventHandler(changeHandler(func() { s.hub.notify(kind) }))
		if err != nil {
			return fmt.Errorf("web view: watching %s: %w", r.Plural, err)
		}
		go func() {
			<-ctx.Done()
			_ = inf.RemoveEventHandler(reg)
		}()
	}
	return nil
}

// query is a page's filters, as `certplane status` takes them.
type query struct {
	Namespace      string
	ExpiringWithin string
	Selector       string
	Error          string
	filter         estate.Filter
}

func parseQuery(r *http.Request) query {
	v := r.URL.Query()
	q := query{Namespace: strings.TrimSpace(v.Get("namespace")), ExpiringWithin: strings.TrimSpace(v.Get("expiring-within")), Selector: strings.TrimSpace(v.Get("selector"))}
	q.filter.Namespace = q.Namespace
	var errs []string
	if q.ExpiringWithin != "" {
		d, err := parseDuration(q.ExpiringWithin)
		if err != nil {
			errs = append(errs, err.Error())
		}
		q.filter.ExpiringWithin = d
	}
	if q.Selector != "" {
		sel, err := labels.Parse(q.Selector)
		if err != nil {
			errs = append(errs, fmt.Sprintf("label selector %q: %v", q.Selector, err))
		} else {
			q.filter.Selector = sel
		}
	}
	q.Error = strings.Join(errs, "; ")
	return q
}

// maxDays is the most days a time.Duration holds (about 292 years).
const maxDays = int(math.MaxInt64 / int64(24*time.Hour))

// parseDuration reads a Go duration, or a number of days such as 30d.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == days && n <= maxDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("expiring within %q: give a duration such as 720h or 30d", s)
	}
	return d, nil
}

// page is what a template is given.
type page struct {
	Title, Page string
	User        string
	Auth        bool
	Query       query
	Namespaces  []string
	Now         time.Time
	Report      *estate.Report
	Timeline    *timeline
	Graph       *graph
	Object      *objectView
	Skipped     []string
	Warn        time.Duration
	Message     string
	// Generation is the hub's count of changes the page's data has seen;
	// the event stream's hello tells the script the count now, so that a
	// change between the page and its stream is not missed.
	Generation uint64
}

func (s *Server) now() time.Time {
	if s.o.Now != nil {
		return s.o.Now()
	}
	return time.Now()
}

// render writes the page, or with ?fragment=1 only its view, which is
// what the script fetches when something changed.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p *page) {
	v := viewerOf(r.Context())
	if v.user != nil {
		p.User = v.user.Name
	}
	p.Auth = s.o.Auth != nil
	p.Now = s.now()
	p.Warn = s.o.Warn
	t := s.pages[name]
	tmpl := "layout.html"
	if r.URL.Query().Get("fragment") == "1" {
		tmpl = "view"
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		s.log.Error(err, "rendering a page", "page", name)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(buf.String()))
}

func (s *Server) inventory(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r)
	snap := s.gather(r.Context(), q.Namespace)
	p := &page{Title: "Inventory", Page: "inventory", Query: q, Namespaces: snap.namespaces, Skipped: snap.skipped, Generation: snap.generation}
	if q.Error == "" {
		p.Report = estate.NewReport(&snap.input, estate.Options{Now: s.now(), Warn: s.o.Warn, Filter: q.filter})
	}
	s.render(w, r, "inventory", p)
}

func (s *Server) inventoryJSON(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r)
	if q.Error != "" {
		http.Error(w, q.Error, http.StatusBadRequest)
		return
	}
	snap := s.gather(r.Context(), q.Namespace)
	rep := estate.NewReport(&snap.input, estate.Options{Now: s.now(), Warn: s.o.Warn, Filter: q.filter})
	rep.Skipped = append(rep.Skipped, snap.skipped...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(rep)
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r)
	snap := s.gather(r.Context(), q.Namespace)
	p := &page{Title: "Expiry timeline", Page: "timeline", Query: q, Namespaces: snap.namespaces, Skipped: snap.skipped, Generation: snap.generation}
	if q.Error == "" {
		now := s.now()
		p.Report = estate.NewReport(&snap.input, estate.Options{Now: now, Warn: s.o.Warn, Filter: q.filter})
		p.Timeline = layoutTimeline(p.Report.Items, now, s.o.Warn)
	}
	s.render(w, r, "timeline", p)
}

func (s *Server) graph(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r)
	snap := s.gather(r.Context(), q.Namespace)
	states := map[string]string{}
	for _, row := range estate.Build(&snap.input, s.now()) {
		states[rowKey(row.Kind, row.Namespace, row.Name)] = row.State
	}
	in := &snap.input
	p := &page{Title: "Issuer graph", Page: "graph", Query: q, Namespaces: snap.namespaces, Skipped: snap.skipped, Generation: snap.generation}
	p.Graph = buildGraph(graphInput{
		Certificates: in.Certificates, Issuers: in.Issuers, ClusterIssuers: in.ClusterIssuers,
		CSRs: in.CertificateSigningRequests, PCRs: in.PodCertificateRequests,
		ClusterResourceNamespace: s.o.ClusterResourceNamespace, States: states,
	})
	s.render(w, r, "graph", p)
}

// events streams a "change" event, naming the kinds that changed, each
// time the informers see a change: at most two a second, with a comment
// every 15 s to keep proxies from closing the stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	sub, cancel := s.hub.subscribe()
	defer cancel()
	ctx := r.Context()
	// Read after subscribing: every later change is streamed, and the page
	// learns whether any came between its listing and now.
	if _, err := fmt.Fprintf(w, "retry: 2000\nevent: hello\ndata: {\"generation\":%d}\n\n", s.hub.generation()); err != nil {
		return
	}
	flusher.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case <-sub.signal:
			data, _ := json.Marshal(map[string][]string{"kinds": sub.take()})
			if _, err := fmt.Fprintf(w, "event: change\ndata: %s\n\n", data); err != nil {
				return
			}
			flusher.Flush()
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// staticHandler serves the embedded assets, cached for a while.
func staticHandler(assets fs.FS) http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		files.ServeHTTP(w, r)
	})
}

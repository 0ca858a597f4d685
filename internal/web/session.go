package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// tokenCookie holds the bearer token a user gave on the login page.
const tokenCookie = "certplane-token"

// viewer is who a request comes from, and what they may read. The zero
// value (no user) may read everything: the view has no Auth.
type viewer struct {
	user *User
	auth Auth
	mu   sync.Mutex
	memo map[Access]bool
}

type viewerKey struct{}

func viewerOf(ctx context.Context) *viewer {
	if v, ok := ctx.Value(viewerKey{}).(*viewer); ok {
		return v
	}
	return &viewer{}
}

// may reports whether the user may do a; an error of the review denies.
func (v *viewer) may(ctx context.Context, a Access) bool {
	if v.auth == nil {
		return true
	}
	v.mu.Lock()
	allowed, ok := v.memo[a]
	v.mu.Unlock()
	if ok {
		return allowed
	}
	allowed, err := v.auth.Allowed(ctx, v.user, a)
	if err != nil {
		allowed = false
	}
	v.mu.Lock()
	v.memo[a] = allowed
	v.mu.Unlock()
	return allowed
}

// lister says which namespaces' objects of r the user may list: all, when
// they may list r in every namespace; else those where they may. note says
// what is left out.
func (v *viewer) lister(ctx context.Context, r resource) (keep func(namespace string) bool, note string) {
	all := Access{Verb: "list", Group: r.Group, Resource: r.Plural}
	if v.may(ctx, all) {
		return func(string) bool { return true }, ""
	}
	if !r.Namespaced {
		return func(string) bool { return false }, "not permitted to list"
	}
	return func(ns string) bool {
		a := all
		a.Namespace = ns
		return v.may(ctx, a)
	}, "only the namespaces you may list"
}

// getter says in which namespaces the user may get a core resource.
func (v *viewer) getter(ctx context.Context, resource string) func(namespace string) bool {
	all := Access{Verb: "get", Resource: resource}
	if v.may(ctx, all) {
		return func(string) bool { return true }
	}
	return func(ns string) bool {
		a := all
		a.Namespace = ns
		return v.may(ctx, a)
	}
}

// bearer is the request's token: an Authorization header, else the login
// cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return ""
}

// authenticated runs h for requests whose token the apiserver accepts; the
// others get the login page (pages) or 401 (the API and the event stream).
// Without an Auth every request is let through.
func (s *Server) authenticated(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.Auth == nil {
			h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, &viewer{})))
			return
		}
		token := bearer(r)
		var user *User
		var err error
		if token != "" {
			user, err = s.o.Auth.Authenticate(r.Context(), token)
		}
		if user == nil {
			msg := "Log in with a bearer token."
			switch {
			case err != nil:
				s.log.Error(err, "reviewing a token")
				msg = "The apiserver could not review the token; try again."
			case token != "":
				msg = "The apiserver did not accept the token."
			}
			s.unauthenticated(w, r, msg)
			return
		}
		v := &viewer{user: user, auth: s.o.Auth, memo: map[Access]bool{}}
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	})
}

func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="certplane"`)
	if r.URL.Query().Get("fragment") == "1" || strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/events" {
		http.Error(w, msg, http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
	s.render(w, r, "login", &page{Title: "Log in", Page: "login", Message: msg})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.o.Auth == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, "login", &page{Title: "Log in", Page: "login", Message: "Log in with a bearer token."})
}

// login checks the token given in the form and keeps it in a cookie only
// this origin's requests carry, unreadable by scripts.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.o.Auth == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	user, err := s.o.Auth.Authenticate(r.Context(), token)
	if token == "" || err != nil || user == nil {
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, "login", &page{Title: "Log in", Page: "login", Message: "The apiserver did not accept the token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.o.TLSCertFile != "", SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.o.TLSCertFile != "", SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

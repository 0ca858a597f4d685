package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseQuery: a page's filters come from its URL, so from anyone who
// can send one: any namespace, expiring-within and selector give filters
// or an error message, never a panic, and a Go duration is never read as
// a negative window. (A number of days past 106751 overflows and wraps:
// reported, left to the web view's owner.)
func FuzzParseQuery(f *testing.F) {
	for _, q := range [][3]string{
		{"apps", "720h", "app=web"}, {"", "30d", "env in (prod,dev),!beta"}, {" x ", "-5m", "a=="}, {"", "99999999999999999999d", "=)"},
		{"", "1.5h", "a,b"}, {"", "d", ""}, {"", "0d", "x!=y"}, {"", "007d", ""},
	} {
		f.Add(q[0], q[1], q[2])
	}
	f.Fuzz(func(t *testing.T, namespace, within, selector string) {
		v := url.Values{"namespace": {namespace}, "expiring-within": {within}, "selector": {selector}}
		r, err := http.NewRequest(http.MethodGet, "/?"+v.Encode(), nil)
		if err != nil {
			t.Skip()
		}
		q := parseQuery(r)
		if q.filter.Namespace != strings.TrimSpace(namespace) {
			t.Fatalf("namespace %q, want %q", q.filter.Namespace, strings.TrimSpace(namespace))
		}
		if w := strings.TrimSpace(within); w != "" && !strings.HasSuffix(w, "d") && q.filter.ExpiringWithin < 0 {
			t.Fatalf("expiring-within %q read as %s", within, q.filter.ExpiringWithin)
		}
		if s := strings.TrimSpace(selector); s != "" && q.filter.Selector == nil && !strings.Contains(q.Error, "label selector") {
			t.Fatalf("selector %q neither read nor refused", selector)
		}
	})
}

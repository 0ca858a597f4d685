package requestpolicy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything at all", true},
		{"**", "x", true},
		{"example.com", "example.com", true},
		{"example.com", "example.co", false},
		{"example.com", "www.example.com", false},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", ".example.com", true},
		{"*example.com", "example.com", true},
		{"*example.com", "evilexample.com", true},
		{"www.*.com", "www.example.com", true},
		{"www.*.com", "www.com", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"a*b*c", "acb", false},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"spiffe://example.org/ns/*/sa/*", "spiffe://example.org/ns/default/sa/web", true},
		{"spiffe://example.org/ns/*/sa/*", "spiffe://example.org/ns/default/web", false},
		{"*@example.com", "alice@example.com", true},
		{"*@example.com", "alice@example.com.evil", false},
		{"my-ca-*", "my-ca-prod", true},
		{"*Issuer", "ClusterIssuer", true},
		{"*Issuer", "Issuers", false},
		{"é*", "été", true},
		{"*é", "thé", true},
		{"?", "a", false}, // only * is special
		{"a?c", "a?c", true},
		{"Example.com", "example.com", false}, // case matters
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestMatchAnyAll(t *testing.T) {
	patterns := []string{"*.example.com", "example.com"}
	if !matchAll(patterns, []string{"example.com", "a.example.com"}) {
		t.Error("matchAll refused values that each match a pattern")
	}
	if matchAll(patterns, []string{"example.com", "example.org"}) {
		t.Error("matchAll allowed example.org")
	}
	if !matchAll(nil, nil) || matchAny(nil, "x") || matchAll([]string{}, []string{"x"}) {
		t.Error("empty patterns must allow no value")
	}
}

// reference is match by a regular expression: every * is .*, the rest
// literal.
func reference(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`).MatchString(s)
}

func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"*.example.com", "www.example.com"},
		{"a*b*c", "aXbYc"},
		{"", ""},
		{"*", ""},
		{"**a**", "bab"},
		{"é*", "été"},
		{"a*a*a*a*a*a*b", strings.Repeat("a", 200)},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 256 || len(s) > 1024 {
			return
		}
		got := match(pattern, s)
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // regexp reads invalid UTF-8 as U+FFFD; match compares bytes
		}
		if want := reference(pattern, s); got != want {
			t.Fatalf("match(%q, %q) = %v, the regular expression says %v", pattern, s, got, want)
		}
	})
}

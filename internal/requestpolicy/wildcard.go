package requestpolicy

import "strings"

// match reports whether s matches pattern, in which every "*" stands for
// any run of characters, the empty one included, and every other byte for
// itself. An empty pattern matches only the empty string.
//
// It runs in O(len(pattern)·len(s)) time without recursion: on a mismatch
// it lets the most recent "*" swallow one more byte and tries again from
// there; earlier stars never need revisiting, because the most recent one
// can absorb anything they could.
func match(pattern, s string) bool {
	if strings.IndexByte(pattern, '*') < 0 {
		return pattern == s
	}
	p, i := 0, 0
	star, resume := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			resume++
			p, i = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchAny reports whether s matches one of patterns.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// matchAll reports whether every one of values matches one of patterns.
func matchAll(patterns, values []string) bool {
	for _, v := range values {
		if !matchAny(patterns, v) {
			return false
		}
	}
	return true
}

package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// ErrNoProfiles is returned by OrderWithProfile when the server's directory
// lists no profiles: it does not implement the ACME profiles extension.
var ErrNoProfiles = errors.New("acme: the ACME server does not support certificate profiles")

// ErrProfileNotOffered is returned by OrderWithProfile for a profile the
// server does not list.
var ErrProfileNotOffered = errors.New("acme: the ACME server does not offer the profile")

// Profiles are the profiles the server's directory lists in meta.profiles
// (draft-aaron-acme-profiles), name to description.
func Profiles(ctx context.Context, c *xacme.Client) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.DirectoryURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("acme: directory: %s", res.Status)
	}
	return parseProfiles(io.LimitReader(res.Body, 1<<20))
}

// parseProfiles reads meta.profiles of a directory document.
func parseProfiles(r io.Reader) (map[string]string, error) {
	var dir struct {
		Meta struct {
			Profiles map[string]string `json:"profiles"`
		} `json:"meta"`
	}
	if err := json.NewDecoder(r).Decode(&dir); err != nil {
		return nil, fmt.Errorf("acme: directory: %w", err)
	}
	return dir.Meta.Profiles, nil
}

// OrderWithProfile places a new order (RFC 8555 section 7.4) for ids that
// asks for profile, which golang.org/x/crypto/acme cannot send
// (golang/go#73101), and returns the order's URL; x/crypto's GetOrder reads
// it from there. The account must be registered (c.KID set) with an RSA
// key. A bad nonce is retried with the fresh one, as RFC 8555 section 6.5
// asks.
func OrderWithProfile(ctx context.Context, c *xacme.Client, ids []xacme.AuthzID, profile string, notAfter time.Time) (string, error) {
	profiles, err := Profiles(ctx, c)
	if err != nil {
		return "", err
	}
	if len(profiles) == 0 {
		return "", ErrNoProfiles
	}
	if _, ok := profiles[profile]; !ok {
		names := make([]string, 0, len(profiles))
		for n := range profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("%w %q (it offers %s)", ErrProfileNotOffered, profile, strings.Join(names, ", "))
	}
	key, ok := c.Key.(*rsa.PrivateKey)
	if !ok || c.KID == "" {
		return "", errors.New("acme: ordering with a profile needs a registered account with an RSA key")
	}
	dir, err := c.Discover(ctx)
	if err != nil {
		return "", err
	}
	type identifier struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	body := struct {
		Identifiers []identifier `json:"identifiers"`
		NotAfter    string       `json:"notAfter,omitempty"`
		Profile     string       `json:"profile"`
	}{Profile: profile}
	for _, id := range ids {
		body.Identifiers = append(body.Identifiers, identifier{Type: id.Type, Value: id.Value})
	}
	if !notAfter.IsZero() {
		body.NotAfter = notAfter.UTC().Format(time.RFC3339)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	nonce, err := fetchNonce(ctx, c.HTTPClient, dir.NonceURL)
	if err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		jws, err := signJWS(key, string(c.KID), nonce, dir.OrderURL, payload)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, dir.OrderURL, bytes.NewReader(jws))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/jose+json")
		if c.UserAgent != "" {
			req.Header.Set("User-Agent", c.UserAgent)
		}
		res, err := c.HTTPClient.Do(req)
		if err != nil {
			return "", err
		}
		data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		_ = res.Body.Close()
		if res.StatusCode == http.StatusCreated {
			if loc := res.Header.Get("Location"); loc != "" {
				return loc, nil
			}
			return "", errors.New("acme: new order: the server gave no Location")
		}
		problem := &xacme.Error{StatusCode: res.StatusCode, Header: res.Header}
		var doc struct {
			Type   string `json:"type"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(data, &doc) == nil {
			problem.ProblemType, problem.Detail = doc.Type, doc.Detail
		}
		if doc.Type == "urn:ietf:params:acme:error:badNonce" && attempt < 5 {
			if nonce = res.Header.Get("Replay-Nonce"); nonce == "" {
				if nonce, err = fetchNonce(ctx, c.HTTPClient, dir.NonceURL); err != nil {
					return "", err
				}
			}
			continue
		}
		return "", problem
	}
}

func fetchNonce(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return "", err
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	_ = res.Body.Close()
	nonce := res.Header.Get("Replay-Nonce")
	if nonce == "" {
		return "", errors.New("acme: the server gave no nonce")
	}
	return nonce, nil
}

// signJWS is the flattened JWS (RFC 7515) of payload, signed RS256 by the
// account key and identified by its URL, as RFC 8555 section 6.2 asks.
func signJWS(key *rsa.PrivateKey, kid, nonce, url string, payload []byte) ([]byte, error) {
	protected, err := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "nonce": nonce, "url": url})
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	p, b := enc.EncodeToString(protected), enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(p + "." + b))
	sig, err := key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"protected": p, "payload": b, "signature": enc.EncodeToString(sig)})
}

package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Health asks Vault whether it is initialised and unsealed, as
// cert-manager's Issuer check does: an unauthenticated GET /v1/sys/health
// without the namespace header. 200 (active), 429 (standby), 472 (disaster
// recovery secondary) and 473 (performance standby) are healthy; 501 is
// ErrNotInitialized and 503 ErrSealed; any other status or a failed request
// is an error starting "error calling Vault /v1/sys/health: ".
func (c *Client) Health(ctx context.Context) error {
	const path = "/v1/sys/health"
	u := *c.base
	u.Path = c.base.Path + path
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("error calling Vault %s: %w", path, err)
	}
	req.Header.Set("X-Vault-Request", "true")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("error calling Vault %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusTooManyRequests, 472, 473:
		return nil
	case http.StatusNotImplemented:
		return ErrNotInitialized
	case http.StatusServiceUnavailable:
		return ErrSealed
	}
	if text := http.StatusText(resp.StatusCode); text != "" {
		return fmt.Errorf("error calling Vault %s: status %d (%s)", path, resp.StatusCode, text)
	}
	return fmt.Errorf("error calling Vault %s: status %d", path, resp.StatusCode)
}

// CheckLogin logs in when the client has no fresh token, then looks the
// token up (GET /v1/auth/token/lookup-self) and records when it expires
// (see TokenExpiry). A token Vault refuses is an error that is
// ErrPermissionDenied: "Vault refused the token: permission denied". A
// login method's refused token is replaced by a new login once, as Sign
// does.
func (c *Client) CheckLogin(ctx context.Context) error {
	const path = "/v1/auth/token/lookup-self"
	start := c.now()
	a, err := c.authed(ctx, request{method: http.MethodGet, path: path})
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusForbidden && re.Path == path {
			return &refusedError{resp: re}
		}
		return err
	}
	var d struct {
		TTL json.Number `json:"ttl"`
	}
	if len(a.Data) == 0 || json.Unmarshal(a.Data, &d) != nil {
		return fmt.Errorf("vault: GET %s: the answer holds no token data", path)
	}
	ttl, err := d.TTL.Int64()
	if err != nil {
		return fmt.Errorf("vault: GET %s: the token's ttl %q is not a number of seconds", path, d.TTL)
	}
	var expiry time.Time
	if ttl > 0 {
		expiry = start.Add(time.Duration(ttl) * time.Second)
	}
	c.mu.Lock()
	c.expiry, c.known = expiry, true
	c.mu.Unlock()
	return nil
}

// Package vault is a client for the PKI secrets engine of HashiCorp Vault
// that behaves as cert-manager's Vault issuer does, with no Kubernetes in
// it: it logs in (a static token, AppRole, Kubernetes service account
// tokens or a TLS client certificate), signs certificate requests with
// the request body cert-manager sends, turns Vault's answer into a chain
// and a CA the way cert-manager does, and checks the server's health and
// the token.
//
// The client speaks Vault's HTTP API with net/http; it uses nothing of
// github.com/hashicorp/vault/api at run time (that package's NewClient
// reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_HEADERS, VAULT_CACERT
// and more from the environment and retries on its own), so no VAULT_*
// variable changes what it does, and every HTTP request it makes is one
// that Calls counts. It never retries by itself, except to log in once more
// when Vault refuses a token it got from a login.
//
// A login's token is kept and shared by all goroutines until two thirds of
// its lease have passed (by Config.Now); then the next request logs in
// again. Only one login runs at a time; requests that need a token while it
// runs wait for it and use its result.
//
// Errors name the request ("vault: POST /v1/pki/sign/web: 400: ..."), are
// one line, and never hold a token, a secret ID, a JWT or a private key.
package vault

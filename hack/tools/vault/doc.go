// Package vault pins the Vault server the tests run (bin/vault). Vault's
// server is BUSL-1.1: it lives in this nested module, is built as a separate
// program by hack/tools.sh, and is never linked into certplane, which uses
// only Vault's MPL-2.0 API client (github.com/hashicorp/vault/api).
package vault

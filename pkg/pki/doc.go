// Package pki is certplane's X.509 core: key generation and PEM encoding,
// PKCS#10 requests, certificate issuance, chains and bundles, and
// inspection.
//
// It imports only the standard library and golang.org/x/crypto, so it can be
// used without Kubernetes. Every private key is a crypto.Signer, so a key
// held in a hardware module fits wherever a key read from a file does.
// Randomness and time are always parameters; the package never logs.
// Its errors start with "pki: " and wrap their cause with %w.
package pki

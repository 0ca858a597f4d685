package pki

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// Usage is a key usage as Kubernetes names it in
// CertificateSigningRequest.spec.usages and cert-manager in
// Certificate.spec.usages, such as "digital signature" or "server auth".
type Usage string

// The 23 usage names Kubernetes knows.
const (
	UsageSigning           Usage = "signing"
	UsageDigitalSignature  Usage = "digital signature"
	UsageContentCommitment Usage = "content commitment"
	UsageKeyEncipherment   Usage = "key encipherment"
	UsageKeyAgreement      Usage = "key agreement"
	UsageDataEncipherment  Usage = "data encipherment"
	UsageCertSign          Usage = "cert sign"
	UsageCRLSign           Usage = "crl sign"
	UsageEncipherOnly      Usage = "encipher only"
	UsageDecipherOnly      Usage = "decipher only"
	UsageAny               Usage = "any"
	UsageServerAuth        Usage = "server auth"
	UsageClientAuth        Usage = "client auth"
	UsageCodeSigning       Usage = "code signing"
	UsageEmailProtection   Usage = "email protection"
	UsageSMIME             Usage = "s/mime"
	UsageIPsecEndSystem    Usage = "ipsec end system"
	UsageIPsecTunnel       Usage = "ipsec tunnel"
	UsageIPsecUser         Usage = "ipsec user"
	UsageTimestamping      Usage = "timestamping"
	UsageOCSPSigning       Usage = "ocsp signing"
	UsageMicrosoftSGC      Usage = "microsoft sgc"
	UsageNetscapeSGC       Usage = "netscape sgc"
)

var keyUsages = map[Usage]x509.KeyUsage{
	UsageSigning:           x509.KeyUsageDigitalSignature,
	UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	UsageContentCommitment: x509.KeyUsageContentCommitment,
	UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	UsageCertSign:          x509.KeyUsageCertSign,
	UsageCRLSign:           x509.KeyUsageCRLSign,
	UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[Usage]x509.ExtKeyUsage{
	UsageAny:             x509.ExtKeyUsageAny,
	UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// Usages lists every usage name Kubernetes knows, in its documented order.
func Usages() []Usage {
	return []Usage{
		UsageSigning, UsageDigitalSignature, UsageContentCommitment, UsageKeyEncipherment,
		UsageKeyAgreement, UsageDataEncipherment, UsageCertSign, UsageCRLSign,
		UsageEncipherOnly, UsageDecipherOnly, UsageAny, UsageServerAuth, UsageClientAuth,
		UsageCodeSigning, UsageEmailProtection, UsageSMIME, UsageIPsecEndSystem,
		UsageIPsecTunnel, UsageIPsecUser, UsageTimestamping, UsageOCSPSigning,
		UsageMicrosoftSGC, UsageNetscapeSGC,
	}
}

// ParseUsages converts usage names to the x509 key usage bits and extended
// key usages they stand for. An unknown name is an ErrUnknownUsage.
func ParseUsages(usages []Usage) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var (
		ku  x509.KeyUsage
		eku []x509.ExtKeyUsage
	)
	for _, u := range usages {
		if k, ok := keyUsages[u]; ok {
			ku |= k
			continue
		}
		e, ok := extKeyUsages[u]
		if !ok {
			return 0, nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownUsage, string(u), usageList())
		}
		if !slices.Contains(eku, e) {
			eku = append(eku, e)
		}
	}
	return ku, eku, nil
}

// UsageNames names the usages a certificate carries, key usages first, each
// by its canonical Kubernetes name ("digital signature", not "signing").
// Extended key usages Kubernetes has no name for are left out.
func UsageNames(ku x509.KeyUsage, eku []x509.ExtKeyUsage) []Usage {
	var names []Usage
	for _, u := range Usages() {
		if u == UsageSigning {
			continue // alias of digital signature
		}
		if k, ok := keyUsages[u]; ok && ku&k != 0 {
			names = append(names, u)
		}
	}
	for _, e := range eku {
		for _, u := range Usages() {
			if u == UsageSMIME {
				continue // alias of email protection
			}
			if v, ok := extKeyUsages[u]; ok && v == e {
				names = append(names, u)
			}
		}
	}
	return names
}

func usageList() string {
	names := make([]string, 0, 23)
	for _, u := range Usages() {
		names = append(names, string(u))
	}
	return strings.Join(names, ", ")
}

package certificates

// RecordCSRSigned counts a certificate issued for a CertificateSigningRequest
// (certplane_csr_signed_total), whichever controller signed it.
func RecordCSRSigned(signer string) { signedTotal.WithLabelValues(signer).Inc() }

// RecordCSRFailed counts a CertificateSigningRequest marked Failed
// (certplane_csr_failed_total).
func RecordCSRFailed(signer, reason string) { failedTotal.WithLabelValues(signer, reason).Inc() }

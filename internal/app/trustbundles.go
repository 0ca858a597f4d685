package app

import (
	certv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/controller/certmanager"
	"github.com/certplane/certplane/internal/podcertpolicy"
)

// The ClusterTrustBundle publishers' controller names.
const (
	// ClusterTrustBundles publishes the CAs certplane signs with from
	// files: the kubernetes.io signers and certplane.io/spiffe.
	ClusterTrustBundles = "clustertrustbundles"
	// IssuerClusterTrustBundles publishes every ready CA Issuer's and
	// ClusterIssuer's CA.
	IssuerClusterTrustBundles = "issuer-clustertrustbundles"
)

// setupTrustBundles publishes each signer's CA as a signer-linked
// ClusterTrustBundle, where the cluster serves them: the kubernetes.io
// signers certplane signs for and certplane.io/spiffe, from their files,
// and every ready CA Issuer and ClusterIssuer.
func setupTrustBundles(mgr ctrl.Manager, cfg *rest.Config, o Options, enabled Controllers, issuers *certmanager.Issuers) error {
	fromFiles := enabled.Enabled(ClusterTrustBundles, true)
	fromIssuers := issuers != nil && enabled.Enabled(IssuerClusterTrustBundles, true)
	if !fromFiles && !fromIssuers {
		return nil
	}
	served, err := resourceServed(cfg, certv1.SchemeGroupVersion.String(), "clustertrustbundles")
	if err != nil || !served {
		return err
	}
	// The requests other controllers cache already are read for the
	// certificates of a rotated-out CA.
	pcrs := false
	if enabled.Enabled(PodCertificateRequests, true) {
		if pcrs, err = resourceServed(cfg, certv1.SchemeGroupVersion.String(), "podcertificaterequests"); err != nil {
			return err
		}
	}
	if fromFiles {
		cas := map[string]certificates.CASource{}
		csrSigning := enabled.Enabled(CSRSigning, onByDefault(CSRSigning, o))
		if csrSigning {
			files, err := o.Signing.CAs()
			if err != nil {
				return err
			}
			for signer, f := range files {
				cas[signer] = f
			}
		}
		if enabled.Enabled(PodCertificateRequests, true) {
			// Checked and loaded by setupPodCertificates.
			if ca, err := SPIFFECA(o.spiffe()); err == nil && ca != nil {
				cas[podcertpolicy.SPIFFESigner] = ca
			}
		}
		if len(cas) > 0 {
			if err := (&certificates.ClusterTrustBundlePublisher{Client: mgr.GetClient(), CAs: cas, CSRs: csrSigning, PodCertificateRequests: pcrs}).SetupWithManager(mgr); err != nil {
				return err
			}
		}
	}
	if fromIssuers {
		return (&certmanager.ClusterTrustBundlePublisher{
			Client: mgr.GetClient(), Secrets: mgr.GetAPIReader(), Issuers: issuers,
			CSRs: enabled.Enabled(CertificateSigningRequestsIssuer, true), PodCertificateRequests: pcrs,
		}).SetupWithManager(mgr)
	}
	return nil
}

package app

import (
	"slices"
	"strings"
	"testing"
)

func TestEnabledControllers(t *testing.T) {
	all := []string{CSRSigning, CSRApproving, CSRCleaner, IssuersController, ClusterIssuersController, CertificatesController,
		CertificateRequestsApprover, CertificateRequestsIssuer, CertificateSigningRequestsIssuer,
		CertificateRequestsIssuerACME, OrdersController, ChallengesController, CertificateRequestPoliciesController, PodCertificateRequests, BundlesController, ClusterTrustBundles, IssuerClusterTrustBundles}
	without := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
	}
	cases := map[string]struct {
		opts Options
		want []string
	}{
		"default in up":                     {Options{EnableKubernetesSigners: true}, all},
		"default in controller":             {Options{}, without(CSRSigning)},
		"star":                              {Options{EnableKubernetesSigners: true, Controllers: []string{"*"}}, all},
		"empty runs none":                   {Options{EnableKubernetesSigners: true, Controllers: []string{}}, nil},
		"one left out":                      {Options{EnableKubernetesSigners: true, Controllers: []string{"*", "-csrsigning"}}, without(CSRSigning)},
		"left out before the star":          {Options{EnableKubernetesSigners: true, Controllers: []string{"-csrsigning", "*"}}, without(CSRSigning)},
		"kube-controller-manager's name":    {Options{EnableKubernetesSigners: true, Controllers: []string{"*", "-certificatesigningrequest-signing-controller"}}, without(CSRSigning)},
		"named without the star":            {Options{Controllers: []string{"csrsigning", "certificates"}}, []string{CSRSigning, CertificatesController}},
		"signer named in controller":        {Options{Controllers: []string{"*", "csrsigning"}}, all},
		"approver off by the old flag":      {Options{DisableCertificateRequestApprover: true}, without(CSRSigning, CertificateRequestsApprover)},
		"approver off by name":              {Options{Controllers: []string{"*", "-certificaterequests-approver"}}, without(CSRSigning, CertificateRequestsApprover)},
		"approver named beats the old flag": {Options{DisableCertificateRequestApprover: true, Controllers: []string{"*", "certificaterequests-approver"}}, without(CSRSigning)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := EnabledControllers(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseControllersRefusesUnknownNames(t *testing.T) {
	for _, item := range []string{"csrsign", "-nope", "", "**"} {
		_, err := ParseControllers([]string{"*", item})
		if err == nil || !strings.Contains(err.Error(), "known are csrsigning, csrapproving") {
			t.Errorf("%q: %v, want an error listing the known names", item, err)
		}
	}
}

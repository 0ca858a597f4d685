package app

import (
	"fmt"
	"slices"
	"strings"
)

// The names of certplane's controllers, as --controllers takes them. The
// certificates.k8s.io ones are kube-controller-manager's (its long names are
// accepted too); the cert-manager.io ones are cert-manager's where it has
// one controller for the job.
const (
	CSRSigning                       = "csrsigning"
	CSRApproving                     = "csrapproving"
	CSRCleaner                       = "csrcleaner"
	IssuersController                = "issuers"
	ClusterIssuersController         = "clusterissuers"
	CertificatesController           = "certificates"
	CertificateRequestsApprover      = "certificaterequests-approver"
	CertificateRequestsIssuer        = "certificaterequests-issuer"
	CertificateSigningRequestsIssuer = "certificatesigningrequests-issuer"
	PodCertificateRequests           = "podcertificaterequests"
	CertificateRequestsIssuerACME    = "certificaterequests-issuer-acme"
	OrdersController                 = "orders"
	ChallengesController             = "challenges"
	// CertificateRequestPoliciesController is approver-policy's
	// CertificateRequestPolicies, enforced on every path that issues.
	CertificateRequestPoliciesController = "certificaterequestpolicies"
	controllersAll                       = "*"
	controllerOffPrefix                  = "-"
)

// ControllerNames lists every controller, in the order they start.
var ControllerNames = []string{
	CSRSigning, CSRApproving, CSRCleaner,
	IssuersController, ClusterIssuersController, CertificatesController,
	CertificateRequestsApprover, CertificateRequestsIssuer, CertificateSigningRequestsIssuer,
	CertificateRequestsIssuerACME, OrdersController, ChallengesController,
	CertificateRequestPoliciesController, PodCertificateRequests, BundlesController, ClusterTrustBundles, IssuerClusterTrustBundles,
}

// controllerAliases are kube-controller-manager's long names.
var controllerAliases = map[string]string{
	"certificatesigningrequest-signing-controller":   CSRSigning,
	"certificatesigningrequest-approving-controller": CSRApproving,
	"certificatesigningrequest-cleaner-controller":   CSRCleaner,
}

// Controllers is which controllers run. It is read from a --controllers
// value with kube-controller-manager's syntax: "*" turns on every
// controller that is on by default, a name turns one on, "-name" turns one
// off; an explicit name wins over "*" whatever the order. An empty list
// runs none.
type Controllers struct {
	all      bool
	explicit map[string]bool
}

// ParseControllers reads a --controllers list. A name it does not know is
// an error that lists the names it does.
func ParseControllers(items []string) (Controllers, error) {
	c := Controllers{explicit: map[string]bool{}}
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == controllersAll {
			c.all = true
			continue
		}
		on := true
		name := item
		if strings.HasPrefix(item, controllerOffPrefix) {
			on, name = false, item[1:]
		}
		if alias, ok := controllerAliases[name]; ok {
			name = alias
		}
		if !slices.Contains(ControllerNames, name) {
			return Controllers{}, fmt.Errorf("unknown controller %q in --controllers: known are %s", item, strings.Join(ControllerNames, ", "))
		}
		c.explicit[name] = on
	}
	return c, nil
}

// AllControllers runs every controller that is on by default.
func AllControllers() Controllers { return Controllers{all: true} }

// Enabled reports whether the named controller runs; onByDefault says
// whether "*" includes it.
func (c Controllers) Enabled(name string, onByDefault bool) bool {
	if on, ok := c.explicit[name]; ok {
		return on
	}
	return c.all && onByDefault
}

// Explicit reports whether the list names the controller, on or off.
func (c Controllers) Explicit(name string) bool {
	_, ok := c.explicit[name]
	return ok
}

// EnabledControllers names the controllers NewManager runs with o, in
// ControllerNames' order (the cert-manager.io ones run only where their
// CRDs are served).
func EnabledControllers(o Options) ([]string, error) {
	if o.Controllers == nil {
		o.Controllers = []string{controllersAll}
	}
	c, err := ParseControllers(o.Controllers)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range ControllerNames {
		if c.Enabled(name, onByDefault(name, o)) {
			names = append(names, name)
		}
	}
	return names, nil
}

// onByDefault says whether "*" includes the named controller under o.
func onByDefault(name string, o Options) bool {
	switch name {
	case CSRSigning:
		return o.EnableKubernetesSigners
	case CertificateRequestsApprover:
		return !o.DisableCertificateRequestApprover
	}
	return true
}

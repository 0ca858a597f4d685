package clusterpki

import (
	"fmt"
	"net"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/certplane/certplane/pkg/pki"
)

// Config is the file `certplane pki init --config` reads: the tree's
// settings, named as in kubeadm's configuration where it has them.
type Config struct {
	NodeName         string   `json:"nodeName,omitempty"`
	AdvertiseAddress string   `json:"advertiseAddress,omitempty"`
	ServiceCIDR      string   `json:"serviceCIDR,omitempty"`
	DNSDomain        string   `json:"dnsDomain,omitempty"`
	CertSANs         []string `json:"certSANs,omitempty"`
	KeyAlgorithm     string   `json:"keyAlgorithm,omitempty"`
	Validity         string   `json:"validity,omitempty"`
	CAValidity       string   `json:"caValidity,omitempty"`
	Server           string   `json:"server,omitempty"`
}

// ParseConfig reads a Config from YAML or JSON and turns it into Options
// (without Dir). Unknown fields are errors.
func ParseConfig(data []byte) (Options, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Options{}, fmt.Errorf("reading configuration: %w", err)
	}
	o := Options{
		NodeName:    c.NodeName,
		ServiceCIDR: c.ServiceCIDR,
		DNSDomain:   c.DNSDomain,
		CertSANs:    c.CertSANs,
		Server:      c.Server,
	}
	if c.AdvertiseAddress != "" {
		if o.AdvertiseAddress = net.ParseIP(c.AdvertiseAddress); o.AdvertiseAddress == nil {
			return Options{}, fmt.Errorf("advertiseAddress %q is not an IP address", c.AdvertiseAddress)
		}
	}
	if c.KeyAlgorithm != "" {
		spec, err := pki.ParseKeySpec(c.KeyAlgorithm)
		if err != nil {
			return Options{}, err
		}
		o.Key = spec
	}
	for _, d := range []struct {
		name, text string
		to         *time.Duration
	}{{"validity", c.Validity, &o.Validity}, {"caValidity", c.CAValidity, &o.CAValidity}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v <= 0 {
			return Options{}, fmt.Errorf("%s %q is not a positive duration such as 8760h", d.name, d.text)
		}
		*d.to = v
	}
	return o, nil
}

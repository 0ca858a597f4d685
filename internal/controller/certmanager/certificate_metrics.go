package certmanager

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/crpolicy"
)

var (
	certLabels     = []string{"name", "namespace", "issuer_name", "issuer_kind", "issuer_group"}
	expirationDesc = prometheus.NewDesc("certmanager_certificate_expiration_timestamp_seconds",
		"The timestamp after which the certificate expires, expressed in Unix Epoch Time.", certLabels, nil)
	notAfterDesc = prometheus.NewDesc("certmanager_certificate_not_after_timestamp_seconds",
		"The timestamp after which the certificate is invalid, expressed in Unix Epoch Time.", certLabels, nil)
	notBeforeDesc = prometheus.NewDesc("certmanager_certificate_not_before_timestamp_seconds",
		"The timestamp before which the certificate is invalid, expressed in Unix Epoch Time.", certLabels, nil)
	renewalDesc = prometheus.NewDesc("certmanager_certificate_renewal_timestamp_seconds",
		"The timestamp after which the certificate should be renewed, expressed in Unix Epoch Time.", certLabels, nil)
	readyDesc = prometheus.NewDesc("certmanager_certificate_ready_status",
		"The ready status of the certificate.", append([]string{"condition"}, certLabels...), nil)
)

// CertificateCollector exports cert-manager's certificate metrics, with
// its names and labels, so that existing dashboards and alerts keep
// working. It reads the cached Certificates when scraped.
type CertificateCollector struct {
	// Cache holds the Certificates: its informer's own objects are read
	// (certcache.Of), not copies.
	Cache Informers
}

// Describe sends the metrics' descriptions.
func (c *CertificateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{expirationDesc, notAfterDesc, notBeforeDesc, renewalDesc, readyDesc} {
		ch <- d
	}
}

// Collect sends one sample per Certificate and metric. The Certificates
// are the cache's own objects, read through their summary, not copies: at
// 100,000 Certificates a copy per scrape was 300 MB of garbage, and a copy
// of a compact Certificate is decoded. A Certificate's label pairs are
// built once and shared by its seven samples (certSample);
// prometheus.NewConstMetric builds them again for every sample, 375 MB per
// scrape at 100,000 Certificates.
func (c *CertificateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	store, err := certificateStore(ctx, c.Cache)
	if err != nil {
		return
	}
	times := [...]*prometheus.Desc{expirationDesc, notAfterDesc, notBeforeDesc, renewalDesc}
	for _, o := range store.List() {
		sum, ok := certcache.Of(o)
		obj, isObj := o.(metav1.Object)
		if !ok || !isObj {
			continue
		}
		ref := sum.IssuerRef
		// Sorted by label name, as client_golang sorts them.
		pairs := [...]*dto.LabelPair{
			labelPair("issuer_group", crpolicy.Group(ref)), labelPair("issuer_kind", crpolicy.Kind(ref)),
			labelPair("issuer_name", ref.Name), labelPair("name", obj.GetName()), labelPair("namespace", obj.GetNamespace()),
		}
		labels := pairs[:]
		for j, t := range [...]int64{sum.NotAfter, sum.NotAfter, sum.NotBefore, sum.RenewalTime} {
			ch <- certSample{desc: times[j], value: float64(t), labels: labels}
		}
		current := cmv1.ConditionUnknown
		if sum.Ready != "" {
			current = sum.Ready
		}
		for k, s := range readyConditions {
			v := 0.0
			if s == current {
				v = 1
			}
			ch <- certSample{desc: readyDesc, value: v, labels: append([]*dto.LabelPair{readyPairs[k]}, labels...)}
		}
	}
}

var (
	readyConditions = [...]cmv1.ConditionStatus{cmv1.ConditionTrue, cmv1.ConditionFalse, cmv1.ConditionUnknown}
	readyPairs      = [...]*dto.LabelPair{labelPair("condition", "True"), labelPair("condition", "False"), labelPair("condition", "Unknown")}
)

func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// certSample is one gauge sample of a Certificate, whose label pairs
// (sorted by name, matching desc's labels) it shares with the
// Certificate's other samples.
type certSample struct {
	desc   *prometheus.Desc
	value  float64
	labels []*dto.LabelPair
}

// Desc is the sample's metric.
func (m certSample) Desc() *prometheus.Desc { return m.desc }

// Write fills out with the sample.
func (m certSample) Write(out *dto.Metric) error {
	v := m.value
	out.Label = m.labels
	out.Gauge = &dto.Gauge{Value: &v}
	return nil
}

// observeIssued records, in certplane_issuance_duration_seconds, the
// issuance of crt (as it was before the issuance) that ended at now.
func observeIssued(crt *cmv1.Certificate, now time.Time) {
	certificates.ObserveIssuance(certificates.KindCertificate, crpolicy.Kind(crt.Spec.IssuerRef), issuanceStart(crt, now), now)
}

// issuanceStart is when an issuance was called for: the Issuing=True
// condition's transition; else, for a first issuance, the Certificate's
// creation; else its renewal time once passed. Zero when none of these
// tells (a changed spec, issued at once).
func issuanceStart(crt *cmv1.Certificate, now time.Time) time.Time {
	if c := findCondition(crt.Status.Conditions, "Issuing"); c != nil && c.Status == cmv1.ConditionTrue && c.LastTransitionTime != nil {
		return c.LastTransitionTime.Time
	}
	if crt.Status.Revision == nil {
		return crt.CreationTimestamp.Time
	}
	if at := crt.Status.RenewalTime; at != nil && !at.After(now) {
		return at.Time
	}
	return time.Time{}
}

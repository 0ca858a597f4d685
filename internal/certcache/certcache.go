// Package certcache holds cert-manager Certificates compactly, as the
// manager's cache keeps them: the metadata as it is, a few fields read from
// every cached Certificate without a copy (issuer, times, Ready and
// Issuing), and the spec and status as JSON compressed against a dictionary
// of what Certificates have in common. At rest, a Certificate costs some
// 450 bytes so, against some 1,600 as the typed object.
//
// A Certificate is a client.Object whose DeepCopyObject returns the whole
// *cmv1.Certificate: the controller-runtime cache copies every object it
// hands out (Get, List), so its readers get typed Certificates as before.
// Who reads the cache's own objects (index functions, predicates, event
// handlers, List with UnsafeDisableDeepCopy) meets a *Certificate and reads
// its metadata and summary, or calls Full.
package certcache

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sjson "sigs.k8s.io/json"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// Certificate is a cert-manager Certificate as the cache holds it.
type Certificate struct {
	Meta
	Summary
	// body is the spec and status, JSON compressed against dictionary.
	body []byte
}

// Summary is what the readers of the cache's own objects read of a
// Certificate: the metrics collector, the issuer index, the predicates.
type Summary struct {
	// IssuerRef is spec.issuerRef.
	IssuerRef cmv1.ObjectReference
	// NotBefore, NotAfter and RenewalTime are the status's times in Unix
	// seconds, zero when not set.
	NotBefore, NotAfter, RenewalTime int64
	// Ready is the status of the Ready condition, "" when there is none.
	Ready cmv1.ConditionStatus
	// IssuingStatus and IssuingReason are those of the Issuing condition,
	// "" when there is none.
	IssuingStatus cmv1.ConditionStatus
	IssuingReason string
}

// Summarize is the summary of a typed Certificate.
func Summarize(crt *cmv1.Certificate) Summary {
	st := &crt.Status
	out := Summary{IssuerRef: crt.Spec.IssuerRef, NotBefore: unix(st.NotBefore), NotAfter: unix(st.NotAfter), RenewalTime: unix(st.RenewalTime)}
	for i := range st.Conditions {
		switch c := &st.Conditions[i]; c.Type {
		case "Ready":
			out.Ready = c.Status
		case "Issuing":
			out.IssuingStatus, out.IssuingReason = c.Status, c.Reason
		}
	}
	return out
}

// Of is the summary of an object of the cache: a Certificate in either
// form (the cache keeps one typed that Compact refused); false for any
// other object.
func Of(o any) (Summary, bool) {
	switch c := o.(type) {
	case *Certificate:
		return c.Summary, true
	case *cmv1.Certificate:
		return Summarize(c), true
	}
	return Summary{}, false
}

// GetObjectKind has no kind: the cache sets it on the copies it hands out.
func (c *Certificate) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns the whole Certificate, as Full; a body that
// cannot be read (Compact checked that it can) gives the metadata alone.
func (c *Certificate) DeepCopyObject() runtime.Object {
	full, err := c.Full()
	if err != nil {
		return &cmv1.Certificate{ObjectMeta: c.ObjectMeta()}
	}
	return full
}

// Full returns the whole Certificate, a new object.
func (c *Certificate) Full() (*cmv1.Certificate, error) {
	var b body
	if err := decode(c.body, &b); err != nil {
		return nil, fmt.Errorf("certificate %s/%s: %w", c.namespace, c.name, err)
	}
	return &cmv1.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmv1.GroupVersion.String(), Kind: "Certificate"},
		ObjectMeta: c.ObjectMeta(),
		Spec:       b.Spec,
		Status:     b.Status,
	}, nil
}

// body is what Certificate compresses.
type body struct {
	Spec   cmv1.CertificateSpec   `json:"spec"`
	Status cmv1.CertificateStatus `json:"status"`
}

// Compact returns crt in the cache's form, or an error if its spec and
// status would not read back the same (then the cache keeps crt as it is).
// It shares crt's metadata (the caller drops crt) and its issuer reference
// and condition strings, which the cache's interner has made shared
// copies.
func Compact(crt *cmv1.Certificate) (*Certificate, error) {
	in := body{Spec: crt.Spec, Status: crt.Status}
	data, err := encode(in)
	if err != nil {
		return nil, fmt.Errorf("certificate %s/%s: %w", crt.Namespace, crt.Name, err)
	}
	var back body
	if err := decode(data, &back); err != nil {
		return nil, fmt.Errorf("certificate %s/%s: %w", crt.Namespace, crt.Name, err)
	}
	if !equality.Semantic.DeepEqual(in, back) {
		return nil, fmt.Errorf("certificate %s/%s: its spec and status do not read back the same", crt.Namespace, crt.Name)
	}
	return &Certificate{Meta: NewMeta(&crt.ObjectMeta), Summary: Summarize(crt), body: data}, nil
}

func unix(t *metav1.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

// Size is the number of bytes of the compressed spec and status.
func (c *Certificate) Size() int { return len(c.body) }

// dictionary holds what most Certificates' JSON has: every field name in
// the order encoding/json writes them, and the common values. flate finds
// in it the longer part of a Certificate's 600 bytes, which then takes some
// 70. Changing it changes nothing stored: the cache is made anew at every
// start.
var dictionary = func() []byte {
	t := metav1.Unix(1767225600, 0)
	one, size, limit, yes := 1, 256, int32(1), true
	var d bytes.Buffer
	for _, b := range []body{{
		Spec: cmv1.CertificateSpec{
			Subject:    &cmv1.X509Subject{Organizations: []string{""}, Countries: []string{""}, OrganizationalUnits: []string{""}, Localities: []string{""}, Provinces: []string{""}, StreetAddresses: []string{""}, PostalCodes: []string{""}, SerialNumber: "-"},
			CommonName: "-", Duration: &metav1.Duration{Duration: 2160 * 3600e9}, RenewBefore: &metav1.Duration{Duration: 720 * 3600e9},
			DNSNames: []string{".svc.cluster.local", ".example.com"}, IPAddresses: []string{"127.0.0.1"}, URIs: []string{"spiffe://"}, EmailAddresses: []string{"@"},
			SecretName: "-tls", SecretTemplate: &cmv1.CertificateSecretTemplate{Annotations: map[string]string{"-": "-"}, Labels: map[string]string{"-": "-"}},
			IssuerRef: cmv1.ObjectReference{Name: "ca-issuer", Kind: "ClusterIssuer", Group: "cert-manager.io"}, IsCA: true,
			Usages:               []cmv1.KeyUsage{"digital signature", "key encipherment", "server auth", "client auth"},
			PrivateKey:           &cmv1.CertificatePrivateKey{RotationPolicy: "Always", Encoding: "PKCS8", Algorithm: "RSA", Size: 2048},
			RevisionHistoryLimit: &limit, EncodeUsagesInRequest: &yes,
		},
		Status: cmv1.CertificateStatus{
			Conditions:      []cmv1.CertificateCondition{{Type: "Issuing", Status: cmv1.ConditionFalse, LastTransitionTime: &t, Reason: "Pending", Message: "Issuing certificate as Secret does not exist", ObservedGeneration: 1}},
			LastFailureTime: &t, NotBefore: &t, NotAfter: &t, RenewalTime: &t, Revision: &one, NextPrivateKeySecretName: new(string), FailedIssuanceAttempts: &one,
		},
	}, {
		Spec: cmv1.CertificateSpec{
			Duration: &metav1.Duration{Duration: 2160 * 3600e9}, DNSNames: []string{".example.com"}, SecretName: "-tls",
			IssuerRef:  cmv1.ObjectReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"},
			Usages:     []cmv1.KeyUsage{"digital signature", "key encipherment"},
			PrivateKey: &cmv1.CertificatePrivateKey{RotationPolicy: "Always", Algorithm: "ECDSA", Size: size},
		},
		Status: cmv1.CertificateStatus{
			Conditions: []cmv1.CertificateCondition{{Type: "Ready", Status: cmv1.ConditionTrue, LastTransitionTime: &t, Reason: "Ready", Message: "Certificate is up to date and has not expired", ObservedGeneration: 1}},
			NotBefore:  &t, NotAfter: &t, RenewalTime: &t, Revision: &one,
		},
	}} {
		data, err := json.Marshal(b)
		if err != nil {
			panic(err) // a literal above that cannot be written is a bug caught by every test
		}
		d.Write(data)
	}
	return d.Bytes()
}()

var (
	writers = sync.Pool{New: func() any {
		w, err := flate.NewWriterDict(nil, flate.DefaultCompression, dictionary)
		if err != nil {
			panic(err) // only for a level out of range
		}
		return w
	}}
	readers = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), dictionary) }}
	buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func encode(b body) ([]byte, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(buf)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// decode reads a body encode wrote, as the apiserver's JSON is read
// (case-sensitive, integers kept).
func decode(data []byte, b *body) error {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(data), dictionary); err != nil {
		return err
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return fmt.Errorf("reading the cached spec and status: %w", err)
	}
	if err := sjson.UnmarshalCaseSensitivePreserveInts(buf.Bytes(), b); err != nil {
		return fmt.Errorf("reading the cached spec and status: %w", err)
	}
	return nil
}

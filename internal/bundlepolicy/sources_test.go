package bundlepolicy

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
)

func sources(in []Input) string {
	var s []string
	for _, i := range in {
		s = append(s, i.Source+"="+string(i.Data))
	}
	return strings.Join(s, "; ")
}

func TestConfigMapInputs(t *testing.T) {
	yes := true
	cm := func(name string, data map[string]string, bin map[string][]byte) corev1.ConfigMap {
		return corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "cert-manager"}, Data: data, BinaryData: bin}
	}
	cases := map[string]struct {
		ref        trustv1alpha1.SourceObjectKeySelector
		found      []corev1.ConfigMap
		want       string
		wantReason string
	}{
		"by name and key": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Name: "root", Key: "ca.crt"},
			found: []corev1.ConfigMap{cm("root", map[string]string{"ca.crt": "A", "other": "B"}, nil)},
			want:  `ConfigMap cert-manager/root key "ca.crt"=A`},
		"key from binaryData": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Name: "root", Key: "ca.crt"},
			found: []corev1.ConfigMap{cm("root", nil, map[string][]byte{"ca.crt": []byte("A")})},
			want:  `ConfigMap cert-manager/root key "ca.crt"=A`},
		"data wins over binaryData": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Name: "root", Key: "ca.crt"},
			found: []corev1.ConfigMap{cm("root", map[string]string{"ca.crt": "A"}, map[string][]byte{"ca.crt": []byte("B")})},
			want:  `ConfigMap cert-manager/root key "ca.crt"=A`},
		"all keys, sorted": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Name: "root", IncludeAllKeys: &yes},
			found: []corev1.ConfigMap{cm("root", map[string]string{"z": "Z", "a": "A"}, map[string][]byte{"b": []byte("B")})},
			want:  `ConfigMap cert-manager/root key "a"=A; ConfigMap cert-manager/root key "z"=Z; ConfigMap cert-manager/root key "b"=B`},
		"selector, objects by name": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Selector: &metav1.LabelSelector{}, Key: "k"},
			found: []corev1.ConfigMap{cm("y", map[string]string{"k": "Y"}, nil), cm("x", map[string]string{"k": "X"}, nil)},
			want:  `ConfigMap cert-manager/x key "k"=X; ConfigMap cert-manager/y key "k"=Y`},
		"selector matching nothing": {
			ref: trustv1alpha1.SourceObjectKeySelector{Selector: &metav1.LabelSelector{}, Key: "k"}, want: ""},
		"missing object": {
			ref: trustv1alpha1.SourceObjectKeySelector{Name: "root", Key: "ca.crt"}, wantReason: "SourceNotFound: ConfigMap cert-manager/root not found"},
		"missing key": {
			ref:        trustv1alpha1.SourceObjectKeySelector{Name: "root", Key: "ca.crt"},
			found:      []corev1.ConfigMap{cm("root", map[string]string{"other": "B"}, nil)},
			wantReason: `SourceNotFound: ConfigMap cert-manager/root has no key "ca.crt"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ConfigMapInputs(&c.ref, "cert-manager", c.found)
			checkInputs(t, got, err, c.want, c.wantReason)
		})
	}
}

func TestSecretInputs(t *testing.T) {
	yes := true
	secret := func(name string, typ corev1.SecretType, data map[string]string) corev1.Secret {
		s := corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "cert-manager"}, Type: typ, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	cases := map[string]struct {
		ref        trustv1alpha1.SourceObjectKeySelector
		found      []corev1.Secret
		want       string
		wantReason string
	}{
		"by name and key": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Name: "ca", Key: "ca.crt"},
			found: []corev1.Secret{secret("ca", corev1.SecretTypeTLS, map[string]string{"ca.crt": "A", "tls.key": "K"})},
			want:  `Secret cert-manager/ca key "ca.crt"=A`},
		"all keys of an Opaque Secret": {
			ref:   trustv1alpha1.SourceObjectKeySelector{Name: "ca", IncludeAllKeys: &yes},
			found: []corev1.Secret{secret("ca", corev1.SecretTypeOpaque, map[string]string{"b": "B", "a": "A"})},
			want:  `Secret cert-manager/ca key "a"=A; Secret cert-manager/ca key "b"=B`},
		"all keys of a TLS Secret would include the key": {
			ref:        trustv1alpha1.SourceObjectKeySelector{Name: "ca", IncludeAllKeys: &yes},
			found:      []corev1.Secret{secret("ca", corev1.SecretTypeTLS, map[string]string{"tls.key": "K"})},
			wantReason: "SourceBuildError: Secret cert-manager/ca is a kubernetes.io/tls Secret: includeAllKeys would include its private key"},
		"missing": {
			ref: trustv1alpha1.SourceObjectKeySelector{Name: "ca", Key: "ca.crt"}, wantReason: "SourceNotFound: Secret cert-manager/ca not found"},
		"missing key": {
			ref:        trustv1alpha1.SourceObjectKeySelector{Name: "ca", Key: "ca.crt"},
			found:      []corev1.Secret{secret("ca", corev1.SecretTypeOpaque, nil)},
			wantReason: `SourceNotFound: Secret cert-manager/ca has no key "ca.crt"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := SecretInputs(&c.ref, "cert-manager", c.found)
			checkInputs(t, got, err, c.want, c.wantReason)
		})
	}
}

func checkInputs(t *testing.T, got []Input, err error, want, wantReason string) {
	t.Helper()
	if wantReason != "" {
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Reason+": "+e.Message, wantReason) {
			t.Fatalf("error %v, want %q", err, wantReason)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := sources(got); s != want {
		t.Errorf("inputs %q, want %q", s, want)
	}
}

func TestSelects(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"trust": "yes"}}
	cases := []struct {
		ref    *trustv1alpha1.SourceObjectKeySelector
		name   string
		labels map[string]string
		want   bool
	}{
		{&trustv1alpha1.SourceObjectKeySelector{Name: "root"}, "root", nil, true},
		{&trustv1alpha1.SourceObjectKeySelector{Name: "root"}, "other", nil, false},
		{&trustv1alpha1.SourceObjectKeySelector{Selector: sel}, "any", map[string]string{"trust": "yes"}, true},
		{&trustv1alpha1.SourceObjectKeySelector{Selector: sel}, "any", map[string]string{"trust": "no"}, false},
		{nil, "root", nil, false},
	}
	for i, c := range cases {
		if got := Selects(c.ref, c.name, c.labels); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func TestDebianPackageVersion(t *testing.T) {
	status := `Package: bash
Status: install ok installed
Version: 5.2.15-2+b7

Package: ca-certificates
Status: install ok installed
Priority: standard
Version: 20230311+deb12u1
Description: Common CA certificates
 Contains the certificate authorities shipped with Mozilla's browser.
 Version: not this one

Package: openssl
Status: install ok installed
Version: 3.0.19-1~deb12u1
`
	removed := strings.Replace(status, "install ok installed\nPriority", "deinstall ok config-files\nPriority", 1)
	cases := map[string]struct{ status, pkg, want string }{
		"installed":     {status, "ca-certificates", "20230311+deb12u1"},
		"last one":      {status, "openssl", "3.0.19-1~deb12u1"},
		"not installed": {removed, "ca-certificates", ""},
		"absent":        {status, "ca-certificates-java", ""},
		"empty file":    {"", "ca-certificates", ""},
	}
	for name, c := range cases {
		if got := DebianPackageVersion([]byte(c.status), c.pkg); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

func TestDefaultCAs(t *testing.T) {
	v := DefaultCAVersion("ca-certificates", "20230311+deb12u1", []byte("bundle"))
	// The first 8 bytes of the bundle's SHA-256, in hex.
	if !strings.HasPrefix(v, "ca-certificates-20230311+deb12u1-") || len(v) != len("ca-certificates-20230311+deb12u1-")+16 {
		t.Errorf("version %q", v)
	}
	if DefaultCAVersion("ca-certificates", "", []byte("bundle")) == v || !strings.Contains(DefaultCAVersion("ca-certificates", "", nil), "-unknown-") {
		t.Error("an unknown version is not named unknown")
	}
	if DefaultCAVersion("ca-certificates", "1", []byte("a")) == DefaultCAVersion("ca-certificates", "1", []byte("b")) {
		t.Error("different bundles of one version report the same value")
	}
	if _, err := DefaultCAsInput(nil); err == nil || !strings.Contains(err.Error(), "no default CA bundle") {
		t.Errorf("no default CAs: %v", err)
	}
	in, err := DefaultCAsInput(&DefaultCAs{PEM: []byte("x"), Version: v})
	if err != nil || in.Source != "the default CAs ("+v+")" {
		t.Errorf("input %+v, %v", in, err)
	}
}

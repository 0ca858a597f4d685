package certmanager

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

type noEvents struct{}

func (noEvents) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {}

// refuseSecrets makes the apiserver refuse Secret creates and updates with
// err, as it refuses an invalid label or a Secret over its size limit.
func refuseSecrets(err error) interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Secret); ok && obj.GetGenerateName() == "" {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
	}
}

// TestCertificateBadInput: what the apiserver accepts in a Certificate but
// refuses in its Secret, and a Certificate for an external issuer, end with
// a Ready condition that says why, and a refusal is a failed issuance (with
// its backoff), not an error retried at once.
func TestCertificateBadInput(t *testing.T) {
	invalidLabel := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "tls", field.ErrorList{
		field.Invalid(field.NewPath("metadata", "labels"), "bad key!", "name part must consist of alphanumeric characters"),
	})
	tooLarge := apierrors.NewRequestEntityTooLargeError("limit is 3145728")
	tests := []struct {
		name       string
		ref        cmv1.ObjectReference
		template   *cmv1.CertificateSecretTemplate
		refuse     error
		issueFirst bool // issue without the template and the refusal, then add them
		wantReason string
		wantMsg    string
		wantReq    time.Duration // RequeueAfter, if not zero
	}{
		{
			name: "invalid Secret label", ref: cmv1.ObjectReference{Name: "ss"},
			template: &cmv1.CertificateSecretTemplate{Labels: map[string]string{"bad key!": "v"}}, refuse: invalidLabel,
			wantReason: "Failed", wantMsg: `the apiserver refused Secret "tls": Secret "tls" is invalid`, wantReq: time.Hour,
		},
		{
			name: "Secret too large", ref: cmv1.ObjectReference{Name: "ss"}, refuse: tooLarge,
			wantReason: "Failed", wantMsg: "limit is 3145728", wantReq: time.Hour,
		},
		{
			name: "invalid label added to an issued Certificate", ref: cmv1.ObjectReference{Name: "ss"},
			template: &cmv1.CertificateSecretTemplate{Annotations: map[string]string{"a/b/c": "x"}}, refuse: invalidLabel, issueFirst: true,
			wantReason: "Failed", wantMsg: `the apiserver refused Secret "tls"`,
		},
		{
			name: "external issuer", ref: cmv1.ObjectReference{Name: "ext", Kind: "FooIssuer", Group: "example.com"},
			wantReason: "DoesNotExist", wantMsg: "Issuing certificate as Secret does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			if err := cmv1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			crt := &cmv1.Certificate{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "crt", UID: "uid-crt", Generation: 1},
				Spec: cmv1.CertificateSpec{
					SecretName: "tls", DNSNames: []string{"a.example"}, IssuerRef: tt.ref,
					PrivateKey: &cmv1.CertificatePrivateKey{Algorithm: "ECDSA"},
				},
			}
			if !tt.issueFirst {
				crt.Spec.SecretTemplate = tt.template
			}
			ss := &cmv1.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ss"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}}
			base := fake.NewClientBuilder().WithScheme(scheme).WithObjects(crt, ss).WithStatusSubresource(crt, &cmv1.CertificateRequest{}).Build()
			var refuse error
			c := interceptor.NewClient(base, interceptor.Funcs{
				Create: func(ctx context.Context, _ client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					if refuse != nil {
						return refuseSecrets(refuse).Create(ctx, base, obj, opts...)
					}
					return base.Create(ctx, obj, opts...)
				},
				Update: func(ctx context.Context, _ client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
					if refuse != nil {
						return refuseSecrets(refuse).Update(ctx, base, obj, opts...)
					}
					return base.Update(ctx, obj, opts...)
				},
			})
			r := &CertificateReconciler{
				Reader: c, Secrets: c, APIReader: c, Writer: c, Status: c.Status(), Events: noEvents{},
				Issuers: &Issuers{Reader: c, Secrets: c, APIReader: c, ClusterResourceNamespace: "cert-manager"},
				Now:     time.Now, Rand: rand.Reader,
			}
			req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "crt"}}
			if tt.issueFirst {
				if _, err := r.Reconcile(ctx, req); err != nil {
					t.Fatal(err)
				}
				got := &cmv1.Certificate{}
				if err := c.Get(ctx, req.NamespacedName, got); err != nil {
					t.Fatal(err)
				}
				if c := findCondition(got.Status.Conditions, "Ready"); c == nil || c.Status != cmv1.ConditionTrue {
					t.Fatalf("first issuance: Ready %+v", c)
				}
				got.Spec.SecretTemplate = tt.template
				got.Generation++
				if err := base.Update(ctx, got); err != nil {
					t.Fatal(err)
				}
			}
			refuse = tt.refuse
			res, err := r.Reconcile(ctx, req)
			if err != nil {
				t.Fatalf("Reconcile: %v (an error is retried at once, with no condition)", err)
			}
			got := &cmv1.Certificate{}
			if err := c.Get(ctx, req.NamespacedName, got); err != nil {
				t.Fatal(err)
			}
			ready := findCondition(got.Status.Conditions, "Ready")
			if ready == nil || ready.Status != cmv1.ConditionFalse || ready.Reason != tt.wantReason || !strings.Contains(ready.Message, tt.wantMsg) {
				t.Fatalf("Ready = %+v, want False %s %q", ready, tt.wantReason, tt.wantMsg)
			}
			if tt.wantReq != 0 && res.RequeueAfter != tt.wantReq {
				t.Errorf("RequeueAfter = %s, want %s (the first backoff)", res.RequeueAfter, tt.wantReq)
			}
			if tt.wantReason == "Failed" && !tt.issueFirst && (got.Status.FailedIssuanceAttempts == nil || *got.Status.FailedIssuanceAttempts != 1) {
				t.Errorf("failedIssuanceAttempts = %v, want 1", got.Status.FailedIssuanceAttempts)
			}
		})
	}
}

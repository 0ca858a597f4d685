package certificates

import (
	"context"
	"strings"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/certplane/certplane/internal/csrpolicy"
)

// CSRApprovingReconciler approves what may be approved without a person:
// kubelet client requests after a SubjectAccessReview, as upstream does,
// and, when ApproveKubeletServing is set, kubelet serving requests whose
// node exists and owns every SAN. Nothing else, and it never denies.
type CSRApprovingReconciler struct {
	Reader client.Reader
	// APIReader reads Nodes straight from the apiserver, so that no Node
	// cache (and no list or watch permission on Nodes) is needed.
	APIReader client.Reader
	Creator   client.Writer
	Approval  client.SubResourceWriter
	Events    eventRecorder
	// ApproveKubeletServing turns on the kubelet-serving rule.
	ApproveKubeletServing bool
	Now                   func() time.Time
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=kubernetes.io/kube-apiserver-client-kubelet;kubernetes.io/kubelet-serving,verbs=approve
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get

// Reconcile approves one request if a rule allows it.
func (r *CSRApprovingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certv1.CertificateSigningRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	st := csrpolicy.StateOf(csr)
	if st.Approved || st.Denied || st.Issued {
		return ctrl.Result{}, nil
	}
	parsed, err := csrpolicy.ParseRequest(csr.Spec.SignerName, csr.Spec.Request)
	if err != nil {
		return ctrl.Result{}, nil // the signer fails it
	}
	log := logf.FromContext(ctx)
	if kind := csrpolicy.KubeletClientKind(csr, parsed); kind != "" {
		// As upstream: a node renewing its own certificate may pass as
		// selfnodeclient or, failing that, as nodeclient.
		kinds := []string{kind}
		if kind == "selfnodeclient" {
			kinds = append(kinds, "nodeclient")
		}
		for _, k := range kinds {
			allowed, err := r.review(ctx, csr, k)
			if err != nil {
				return ctrl.Result{}, err
			}
			if allowed {
				return ctrl.Result{}, r.approve(ctx, csr, csrpolicy.ApprovalMessage(k))
			}
		}
		log.V(1).Info("subject access review denied kubelet client request", "rule", kind)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if csr.Spec.SignerName == csrpolicy.KubeletServing && r.ApproveKubeletServing {
		if err := csrpolicy.Validate(csrpolicy.KubeletServing, parsed, csr.Spec.Usages); err != nil {
			return ctrl.Result{}, nil // can never be approved; the signer fails it if someone does
		}
		node := &corev1.Node{}
		name := strings.TrimPrefix(parsed.Subject.CommonName, "system:node:")
		if err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, node); err != nil {
			if !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			node = nil
		}
		msg, err := csrpolicy.ServingApproval(csr, parsed, node)
		if err != nil {
			log.V(1).Info("not approving kubelet serving request", "reason", err.Error())
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		return ctrl.Result{}, r.approve(ctx, csr, msg)
	}
	return ctrl.Result{}, nil
}

// review asks the apiserver whether the requester may create the
// certificatesigningrequests/<kind> subresource, as upstream does.
func (r *CSRApprovingReconciler) review(ctx context.Context, csr *certv1.CertificateSigningRequest, kind string) (bool, error) {
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: kind, Verb: "create", Version: "*",
		},
	}}
	if err := r.Creator.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

func (r *CSRApprovingReconciler) approve(ctx context.Context, csr *certv1.CertificateSigningRequest, message string) error {
	now := metav1.NewTime(time.Now())
	if r.Now != nil {
		now = metav1.NewTime(r.Now())
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: csrpolicy.ReasonAutoApproved, Message: message,
		LastUpdateTime: now, LastTransitionTime: now,
	})
	if err := r.Approval.Update(ctx, csr); err != nil {
		if apierrors.IsConflict(err) {
			return err
		}
		return client.IgnoreNotFound(err)
	}
	r.Events.Eventf(csr, nil, corev1.EventTypeNormal, csrpolicy.ReasonAutoApproved, "Approve", "%s", message)
	return nil
}

// SetupWithManager watches CertificateSigningRequests.
func (r *CSRApprovingReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&certv1.CertificateSigningRequest{}).
		Named("csrapproving").
		Complete(r)
}

package trust

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
	"github.com/certplane/certplane/internal/bundlepolicy"
)

// FieldManager is the server-side apply field manager of targets:
// trust-manager's own, so that certplane takes over the targets a
// trust-manager wrote, keys and all, and drops the keys it no longer
// writes.
const FieldManager = "trust-manager"

// TargetWriter writes targets, ConfigMaps or Secrets named as their
// Bundle.
type TargetWriter interface {
	// Apply applies body, the JSON of a target without its namespace,
	// with server-side apply to the object in namespace, and returns its
	// resourceVersion.
	Apply(ctx context.Context, kind bundlepolicy.Kind, namespace, name string, body []byte) (string, error)
	// Delete deletes the object if it still has this uid and
	// resourceVersion.
	Delete(ctx context.Context, kind bundlepolicy.Kind, namespace, name string, uid types.UID, resourceVersion string) error
}

// BundleReconciler writes each Bundle's certificates to its targets and
// keeps its Synced condition.
//
// Memory stays flat with the cluster's size: Bundles are cached; targets
// and namespaces are cached as metadata only (Targets), targets filtered
// on the trust.cert-manager.io/bundle label and with their managed fields;
// sources are cached for the trust namespace only (Sources). A target's
// data is never read: its metadata says whether it is current.
type BundleReconciler struct {
	// Reader reads Bundles.
	Reader client.Reader
	// Sources reads ConfigMaps and Secrets of the trust namespace.
	Sources client.Reader
	// Targets reads the metadata of targets and of namespaces. Its
	// objects may be the cache's own: they are read, never modified.
	Targets client.Reader
	// Live reads one target's metadata from the apiserver.
	Live   client.Reader
	Writer TargetWriter
	Status client.SubResourceWriter
	Events eventRecorder
	// Namespace is the trust namespace, the one sources are read from.
	Namespace string
	// DefaultCAs is the machine's CA bundle for useDefaultCAs; nil if none.
	DefaultCAs *bundlepolicy.DefaultCAs
	// FilterExpired drops expired certificates from every bundle.
	FilterExpired bool
	// Workers is how many targets are written at once. If zero, 16.
	Workers int
	Now     func() time.Time
	Rand    io.Reader

	mu sync.Mutex
	// records are what was last written to, or found current in, each
	// target: bundlepolicy.Decide's memory.
	records map[recordKey]bundlepolicy.Record
	// statuses are the statuses last written, by Bundle name.
	statuses map[string]statusRecord
}

type statusRecord struct {
	uid                      types.UID
	generation               int64
	status                   metav1.ConditionStatus
	reason, message, version string
}

type recordKey struct {
	bundle    string
	kind      bundlepolicy.Kind
	namespace string
}

// +kubebuilder:rbac:groups=trust.cert-manager.io,resources=bundles,verbs=get;list;watch
// +kubebuilder:rbac:groups=trust.cert-manager.io,resources=bundles/status,verbs=patch
// +kubebuilder:rbac:groups=trust.cert-manager.io,resources=bundles/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile builds one Bundle and brings its targets up to date.
func (r *BundleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &trustv1alpha1.Bundle{}
	if err := r.Reader.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			// The garbage collector removes its targets.
			r.forget(req.Name, "", nil)
			r.mu.Lock()
			delete(r.statuses, req.Name)
			r.mu.Unlock()
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if b.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	inputs, version, err := r.inputs(ctx, b)
	var bundle *bundlepolicy.Bundle
	if err == nil {
		bundle, err = bundlepolicy.Build(inputs, bundlepolicy.Options{FilterExpired: r.FilterExpired, Now: r.now()})
	}
	if version == "" {
		version = b.Status.DefaultCAPackageVersion
	}
	if perr := (*bundlepolicy.Error)(nil); errors.As(err, &perr) {
		// The targets keep their last good content; a change of a source
		// or of the Bundle brings it back here.
		return ctrl.Result{}, r.setStatus(ctx, b, metav1.ConditionFalse, perr.Reason, perr.Message, version)
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	selected, err := r.namespaces(ctx, b)
	if err != nil {
		return ctrl.Result{}, err
	}
	formats := sync.OnceValues(func() (map[string][]byte, error) {
		return bundlepolicy.Truststores(bundle, b.Spec.Target.AdditionalFormats, r.rand())
	})
	for _, kind := range bundlepolicy.Kinds {
		if err := r.syncKind(ctx, b, kind, bundle, formats, selected); err != nil {
			if serr := r.setStatus(ctx, b, metav1.ConditionFalse, bundlepolicy.FailedReason(kind), err.Error(), version); serr != nil {
				return ctrl.Result{}, errors.Join(err, serr)
			}
			return ctrl.Result{}, err
		}
	}
	msg := "Bundle synced to all namespaces"
	if sel := b.Spec.Target.NamespaceSelector; sel != nil {
		msg = "Bundle synced to the namespaces matching " + metav1.FormatLabelSelector(sel)
	}
	var res ctrl.Result
	if r.FilterExpired {
		// Look again when the first certificate expires, to drop it.
		res.RequeueAfter = bundle.FirstExpiry().Sub(r.now()) + time.Second
	}
	return res, r.setStatus(ctx, b, metav1.ConditionTrue, trustv1alpha1.ReasonSynced, msg, version)
}

// inputs reads every source of b, with the default CAs' version when b
// uses them.
func (r *BundleReconciler) inputs(ctx context.Context, b *trustv1alpha1.Bundle) ([]bundlepolicy.Input, string, error) {
	var (
		all     []bundlepolicy.Input
		version string
	)
	for i, s := range b.Spec.Sources {
		var (
			in  []bundlepolicy.Input
			err error
		)
		switch {
		case s.ConfigMap != nil:
			var found []corev1.ConfigMap
			if found, err = readSources(ctx, r.Sources, r.Namespace, s.ConfigMap, &corev1.ConfigMapList{}, func(l *corev1.ConfigMapList) []corev1.ConfigMap { return l.Items }); err == nil {
				in, err = bundlepolicy.ConfigMapInputs(s.ConfigMap, r.Namespace, found)
			}
		case s.Secret != nil:
			var found []corev1.Secret
			if found, err = readSources(ctx, r.Sources, r.Namespace, s.Secret, &corev1.SecretList{}, func(l *corev1.SecretList) []corev1.Secret { return l.Items }); err == nil {
				in, err = bundlepolicy.SecretInputs(s.Secret, r.Namespace, found)
			}
		case s.InLine != "":
			in = []bundlepolicy.Input{bundlepolicy.InLineInput(i, s.InLine)}
		case s.UseDefaultCAs != nil && *s.UseDefaultCAs:
			var d bundlepolicy.Input
			if d, err = bundlepolicy.DefaultCAsInput(r.DefaultCAs); err == nil {
				in, version = []bundlepolicy.Input{d}, r.DefaultCAs.Version
			}
		}
		if err != nil {
			return nil, "", err
		}
		all = append(all, in...)
	}
	return all, version, nil
}

// readSources fetches the objects a configMap or secret source selects in
// the trust namespace: the named one (none if it does not exist) or those
// matching the selector.
func readSources[T any, L client.ObjectList](ctx context.Context, c client.Reader, ns string, ref *trustv1alpha1.SourceObjectKeySelector, list L, items func(L) []T) ([]T, error) {
	sel, err := bundlepolicy.SourceSelector(ref)
	if err != nil {
		return nil, err
	}
	opts := []client.ListOption{client.InNamespace(ns)}
	if sel != nil {
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	} else {
		opts = append(opts, client.MatchingFields{"metadata.name": ref.Name})
	}
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("reading the sources in %s: %w", ns, err)
	}
	return items(list), nil
}

// namespaces names the namespaces b's targets go to.
func (r *BundleReconciler) namespaces(ctx context.Context, b *trustv1alpha1.Bundle) ([]string, error) {
	list := metadataList("v1", "Namespace")
	if err := r.Targets.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	nss := make([]bundlepolicy.Namespace, 0, len(list.Items))
	for _, ns := range list.Items {
		nss = append(nss, bundlepolicy.Namespace{Name: ns.Name, Labels: ns.Labels, Terminating: ns.DeletionTimestamp != nil})
	}
	selected, err := bundlepolicy.SelectNamespaces(b.Spec.Target.NamespaceSelector, nss)
	if err != nil {
		r.Events.Eventf(b, nil, corev1.EventTypeWarning, "NamespaceSelectorError", "Sync", "%v", err)
	}
	return selected, err
}

// syncKind brings b's targets of one kind up to date: written where stale
// or missing, removed where no longer selected.
func (r *BundleReconciler) syncKind(ctx context.Context, b *trustv1alpha1.Bundle, kind bundlepolicy.Kind, bundle *bundlepolicy.Bundle,
	formats func() (map[string][]byte, error), selected []string) error {
	list := metadataList("v1", string(kind))
	if err := r.Targets.List(ctx, list, client.MatchingLabels{trustv1alpha1.BundleLabelKey: b.Name}); err != nil {
		return fmt.Errorf("listing %ss: %w", kind, err)
	}
	cached := make([]bundlepolicy.Target, 0, len(list.Items))
	byNS := make(map[string]*metav1.PartialObjectMetadata, len(list.Items))
	for i := range list.Items {
		cached = append(cached, targetOf(&list.Items[i]))
		byNS[list.Items[i].Namespace] = &list.Items[i]
	}
	if bundlepolicy.Template(&b.Spec.Target, kind) == nil {
		selected = nil // no target of this kind: remove any left over
	}
	want := bundlepolicy.Want{Bundle: b.Name, UID: b.UID, Hash: bundlepolicy.Hash(bundle.PEM, &b.Spec.Target, kind), Keys: bundlepolicy.Keys(&b.Spec.Target, kind)}
	steps := bundlepolicy.Plan(want, selected, cached, r.recordsOf(b.Name, kind), FieldManager)
	r.forget(b.Name, kind, selected)
	if len(steps) == 0 {
		return nil
	}
	logf.FromContext(ctx).V(1).Info("syncing targets", "kind", kind, "steps", len(steps))
	// One body for every target of this kind: encoded once, it is the same
	// bytes for a thousand namespaces.
	body := sync.OnceValues(func() ([]byte, error) {
		stores, err := formats()
		if err != nil {
			return nil, err
		}
		return targetBody(b, kind, want.Hash, bundle.PEM, stores)
	})
	return r.parallel(len(steps), func(i int) error {
		s := steps[i]
		key := recordKey{bundle: b.Name, kind: kind, namespace: s.Namespace}
		switch s.Action {
		case bundlepolicy.Verify:
			current, err := r.verify(ctx, b.Name, kind, want, key)
			if err != nil || current {
				return err
			}
			fallthrough
		case bundlepolicy.Write:
			return r.write(ctx, b.Name, kind, want, body, key)
		case bundlepolicy.Remove:
			return r.remove(ctx, b.Name, kind, byNS[s.Namespace], key)
		}
		return nil
	})
}

// verify reads a target's metadata from the apiserver, past a cache that
// may lag behind the reconciler's own write, and records the target when
// it is current.
func (r *BundleReconciler) verify(ctx context.Context, name string, kind bundlepolicy.Kind, want bundlepolicy.Want, key recordKey) (bool, error) {
	live := Metadata(string(kind))
	err := r.Live.Get(ctx, types.NamespacedName{Namespace: key.namespace, Name: name}, live)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s %s/%s: %w", kind, key.namespace, name, err)
	}
	t := targetOf(live)
	if !bundlepolicy.Current(want, &t, FieldManager) {
		return false, nil
	}
	r.record(key, bundlepolicy.Record{Hash: want.Hash, ResourceVersion: live.ResourceVersion})
	return true, nil
}

// write applies one target.
func (r *BundleReconciler) write(ctx context.Context, name string, kind bundlepolicy.Kind, want bundlepolicy.Want, body func() ([]byte, error), key recordKey) error {
	data, err := body()
	if err != nil {
		return err
	}
	rv, err := r.Writer.Apply(ctx, kind, key.namespace, name, data)
	if err != nil {
		if terminating(err) {
			// A namespace being deleted refuses new objects, and one just
			// deleted has none; their events bring the Bundle back.
			return nil
		}
		return fmt.Errorf("writing %s %s/%s: %w", kind, key.namespace, name, err)
	}
	r.record(key, bundlepolicy.Record{Hash: want.Hash, ResourceVersion: rv})
	return nil
}

// targetBody is the JSON of b's target of kind, without a namespace: the
// bundle under its key, the truststores, the Bundle's label, the hash, the
// template's metadata and the Bundle as controller owner.
func targetBody(b *trustv1alpha1.Bundle, kind bundlepolicy.Kind, hash, pemText string, stores map[string][]byte) ([]byte, error) {
	tmpl := bundlepolicy.Template(&b.Spec.Target, kind)
	labels := map[string]string{}
	maps.Copy(labels, tmpl.Metadata.Labels)
	labels[trustv1alpha1.BundleLabelKey] = b.Name
	annotations := map[string]string{}
	maps.Copy(annotations, tmpl.Metadata.Annotations)
	annotations[trustv1alpha1.BundleHashAnnotationKey] = hash
	owner := metav1ac.OwnerReference().WithAPIVersion(trustv1alpha1.GroupVersion.String()).WithKind(trustv1alpha1.BundleKind).
		WithName(b.Name).WithUID(b.UID).WithController(true).WithBlockOwnerDeletion(true)
	if kind == bundlepolicy.KindSecret {
		data := map[string][]byte{tmpl.Key: []byte(pemText)}
		maps.Copy(data, stores)
		s := &corev1ac.SecretApplyConfiguration{}
		s.WithAPIVersion("v1").WithKind(string(kind)).WithName(b.Name).
			WithLabels(labels).WithAnnotations(annotations).WithOwnerReferences(owner).WithData(data)
		return json.Marshal(s)
	}
	c := &corev1ac.ConfigMapApplyConfiguration{}
	c.WithAPIVersion("v1").WithKind(string(kind)).WithName(b.Name).
		WithLabels(labels).WithAnnotations(annotations).WithOwnerReferences(owner).WithData(map[string]string{tmpl.Key: pemText})
	if len(stores) > 0 {
		c.WithBinaryData(stores)
	}
	return json.Marshal(c)
}

// terminating reports whether a write failed because its namespace is
// being deleted or is gone.
func terminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) || apierrors.IsNotFound(err)
}

// remove takes the Bundle's keys, label, hash and ownership out of a
// target in a namespace no longer selected: the object is deleted when no
// one else set a key in it, as trust-manager does.
func (r *BundleReconciler) remove(ctx context.Context, name string, kind bundlepolicy.Kind, cached *metav1.PartialObjectMetadata, key recordKey) error {
	defer r.drop(key)
	t := targetOf(cached)
	if !bundlepolicy.OthersLeft(&t, FieldManager) {
		err := r.Writer.Delete(ctx, kind, key.namespace, name, cached.UID, cached.ResourceVersion)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s %s/%s: %w", kind, key.namespace, name, err)
		}
		return nil
	}
	// An apply of nothing gives up every field the field manager owned.
	empty, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": string(kind), "metadata": map[string]any{"name": name}})
	if err != nil {
		return err
	}
	if _, err := r.Writer.Apply(ctx, kind, key.namespace, name, empty); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the bundle from %s %s/%s: %w", kind, key.namespace, name, err)
	}
	return nil
}

// setStatus sets the Synced condition and defaultCAVersion, writing only
// when they change; an Event tells each change of the condition.
func (r *BundleReconciler) setStatus(ctx context.Context, b *trustv1alpha1.Bundle, status metav1.ConditionStatus, reason, msg, version string) error {
	before := b.DeepCopy()
	old := meta.FindStatusCondition(b.Status.Conditions, trustv1alpha1.BundleConditionSynced)
	changed := old == nil || old.Status != status || old.Reason != reason || old.Message != msg
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{
		Type: trustv1alpha1.BundleConditionSynced, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: b.Generation, LastTransitionTime: metav1.NewTime(r.now()),
	})
	b.Status.DefaultCAPackageVersion = version
	if !changed && old.ObservedGeneration == b.Generation && before.Status.DefaultCAPackageVersion == version {
		return nil
	}
	// The cache may not show the status written a moment ago yet.
	written := statusRecord{uid: b.UID, generation: b.Generation, status: status, reason: reason, message: msg, version: version}
	r.mu.Lock()
	last := r.statuses[b.Name]
	r.mu.Unlock()
	if last == written {
		return nil
	}
	if err := r.Status.Patch(ctx, b, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("updating the status of Bundle %s: %w", b.Name, err)
	}
	r.mu.Lock()
	if r.statuses == nil {
		r.statuses = map[string]statusRecord{}
	}
	r.statuses[b.Name] = written
	r.mu.Unlock()
	if changed {
		typ := corev1.EventTypeNormal
		if status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		r.Events.Eventf(b, nil, typ, reason, "Sync", "%s", msg)
	}
	return nil
}

func (r *BundleReconciler) recordsOf(bundle string, kind bundlepolicy.Kind) map[string]bundlepolicy.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bundlepolicy.Record{}
	for k, v := range r.records {
		if k.bundle == bundle && k.kind == kind {
			out[k.namespace] = v
		}
	}
	return out
}

func (r *BundleReconciler) record(k recordKey, rec bundlepolicy.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.records == nil {
		r.records = map[recordKey]bundlepolicy.Record{}
	}
	r.records[k] = rec
}

func (r *BundleReconciler) drop(k recordKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.records, k)
}

// forget drops the records of a Bundle's targets of kind ("": all kinds)
// outside the namespaces kept.
func (r *BundleReconciler) forget(bundle string, kind bundlepolicy.Kind, keep []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.records {
		if k.bundle == bundle && (kind == "" || k.kind == kind) {
			if _, found := slices.BinarySearch(keep, k.namespace); !found {
				delete(r.records, k)
			}
		}
	}
}

// ours reports whether a target event is the echo of the reconciler's own
// write: its resourceVersion is the one recorded.
func (r *BundleReconciler) ours(kind bundlepolicy.Kind, o client.Object) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[recordKey{bundle: o.GetLabels()[trustv1alpha1.BundleLabelKey], kind: kind, namespace: o.GetNamespace()}]
	return ok && rec.ResourceVersion == o.GetResourceVersion()
}

// parallel runs f for 0..n-1 on the workers and returns the errors joined.
func (r *BundleReconciler) parallel(n int, f func(i int) error) error {
	workers := r.Workers
	if workers <= 0 {
		workers = 16
	}
	workers = min(workers, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func (r *BundleReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *BundleReconciler) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}

func metadataList(apiVersion, kind string) *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(schema.GroupVersionKind{Version: apiVersion, Kind: kind + "List"})
	return l
}

// Metadata is a metadata-only object of the given core kind, as the
// target cache holds them.
func Metadata(kind string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: kind})
	return m
}

func targetOf(o metav1.Object) bundlepolicy.Target {
	return bundlepolicy.Target{
		Namespace: o.GetNamespace(), ResourceVersion: o.GetResourceVersion(),
		Labels: o.GetLabels(), Annotations: o.GetAnnotations(), OwnerReferences: o.GetOwnerReferences(),
		ManagedFields: o.GetManagedFields(), Deleting: o.GetDeletionTimestamp() != nil,
	}
}

// SetupWithManager watches Bundles (the manager's cache), their targets and
// the namespaces (targets, a metadata-only cache), and the ConfigMaps and
// Secrets of the trust namespace (sources).
func (r *BundleReconciler) SetupWithManager(mgr ctrl.Manager, targets, sources cache.Cache) error {
	if err := sources.IndexField(context.Background(), &corev1.ConfigMap{}, "metadata.name", byName); err != nil {
		return err
	}
	if err := sources.IndexField(context.Background(), &corev1.Secret{}, "metadata.name", byName); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).For(&trustv1alpha1.Bundle{}).Named("bundles").
		WithOptions(controller.Options{MaxConcurrentReconciles: 4})
	for _, kind := range bundlepolicy.Kinds {
		b = b.WatchesRawSource(source.Kind(targets, Metadata(string(kind)),
			handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, o *metav1.PartialObjectMetadata) []reconcile.Request {
				if name := o.GetLabels()[trustv1alpha1.BundleLabelKey]; name != "" {
					return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
				}
				return nil
			}),
			predicate.TypedFuncs[*metav1.PartialObjectMetadata]{
				// Only someone else's change matters: the echo of a write
				// of the reconciler's own is ignored.
				UpdateFunc: func(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool { return !r.ours(kind, e.ObjectNew) },
				DeleteFunc: func(event.TypedDeleteEvent[*metav1.PartialObjectMetadata]) bool { return true },
				CreateFunc: func(e event.TypedCreateEvent[*metav1.PartialObjectMetadata]) bool { return !r.ours(kind, e.Object) },
			}))
	}
	b = b.WatchesRawSource(source.Kind(targets, Metadata("Namespace"), handler.TypedEnqueueRequestsFromMapFunc(r.allBundles),
		predicate.TypedFuncs[*metav1.PartialObjectMetadata]{
			UpdateFunc: func(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool {
				return !maps.Equal(e.ObjectOld.Labels, e.ObjectNew.Labels) || (e.ObjectOld.DeletionTimestamp == nil) != (e.ObjectNew.DeletionTimestamp == nil)
			},
		}))
	b = b.WatchesRawSource(source.Kind(sources, &corev1.ConfigMap{}, handler.TypedEnqueueRequestsFromMapFunc(
		bundlesReading[*corev1.ConfigMap](r, func(s trustv1alpha1.BundleSource) *trustv1alpha1.SourceObjectKeySelector { return s.ConfigMap }))))
	b = b.WatchesRawSource(source.Kind(sources, &corev1.Secret{}, handler.TypedEnqueueRequestsFromMapFunc(
		bundlesReading[*corev1.Secret](r, func(s trustv1alpha1.BundleSource) *trustv1alpha1.SourceObjectKeySelector { return s.Secret }))))
	return b.Complete(r)
}

func byName(o client.Object) []string { return []string{o.GetName()} }

// allBundles enqueues every Bundle: a namespace came, went or changed its
// labels.
func (r *BundleReconciler) allBundles(ctx context.Context, _ *metav1.PartialObjectMetadata) []reconcile.Request {
	var l trustv1alpha1.BundleList
	if err := r.Reader.List(ctx, &l); err != nil {
		logf.FromContext(ctx).Error(err, "listing Bundles")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(l.Items))
	for _, b := range l.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: b.Name}})
	}
	return reqs
}

// bundlesReading enqueues the Bundles with a source (of the kind ref
// picks) that reads the changed object.
func bundlesReading[T client.Object](r *BundleReconciler, ref func(trustv1alpha1.BundleSource) *trustv1alpha1.SourceObjectKeySelector) handler.TypedMapFunc[T, reconcile.Request] {
	return func(ctx context.Context, o T) []reconcile.Request {
		var l trustv1alpha1.BundleList
		if err := r.Reader.List(ctx, &l); err != nil {
			logf.FromContext(ctx).Error(err, "listing Bundles")
			return nil
		}
		var reqs []reconcile.Request
		for _, b := range l.Items {
			if slices.ContainsFunc(b.Spec.Sources, func(s trustv1alpha1.BundleSource) bool {
				return bundlepolicy.Selects(ref(s), o.GetName(), o.GetLabels())
			}) {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: b.Name}})
			}
		}
		return reqs
	}
}

package trust

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/certplane/certplane/internal/bundlepolicy"
)

// metadataOnly asks kube-apiserver to answer with the object's metadata
// only: a write of a 200 kB bundle then does not bring 200 kB back.
const metadataOnly = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// RESTWriter is the TargetWriter of a core/v1 REST client.
type RESTWriter struct {
	Client rest.Interface
}

func resource(kind bundlepolicy.Kind) string {
	if kind == bundlepolicy.KindSecret {
		return "secrets"
	}
	return "configmaps"
}

// Apply applies body with the field manager FieldManager, forcing
// conflicts as trust-manager does.
func (w RESTWriter) Apply(ctx context.Context, kind bundlepolicy.Kind, namespace, name string, body []byte) (string, error) {
	raw, err := w.Client.Patch(types.ApplyPatchType).Namespace(namespace).Resource(resource(kind)).Name(name).
		Param("fieldManager", FieldManager).Param("force", "true").
		SetHeader("Accept", metadataOnly).Body(body).DoRaw(ctx)
	if err != nil {
		return "", err
	}
	var m metav1.PartialObjectMetadata
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("reading the answer to the apply: %w", err)
	}
	return m.ResourceVersion, nil
}

// Delete deletes with a UID and resourceVersion precondition.
func (w RESTWriter) Delete(ctx context.Context, kind bundlepolicy.Kind, namespace, name string, uid types.UID, resourceVersion string) error {
	opts, err := json.Marshal(&metav1.DeleteOptions{
		TypeMeta:      metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
		Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &resourceVersion},
	})
	if err != nil {
		return err
	}
	return w.Client.Delete().Namespace(namespace).Resource(resource(kind)).Name(name).
		SetHeader("Content-Type", "application/json").Body(opts).Do(ctx).Error()
}

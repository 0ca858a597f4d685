// Package config holds certplane's Kubernetes manifests. The controller's
// ClusterRole and the CRDs are embedded so that `certplane up` installs
// exactly what a cluster deployment installs.
package config

import "embed"

// ControllerRole is rbac/role.yaml: the controllers' ClusterRole, generated
// from the +kubebuilder:rbac markers.
//
//go:embed rbac/role.yaml
var ControllerRole []byte

// CRDs holds crd/bases/*.yaml: the cert-manager.io/v1 CustomResourceDefinitions,
// generated from api/certmanager/v1.
//
//go:embed crd/bases/*.yaml
var CRDs embed.FS

// Package config holds certplane's Kubernetes manifests. The controller's
// ClusterRole is embedded so that `certplane up` grants its own controllers
// exactly what a cluster deployment grants them.
package config

import _ "embed"

// ControllerRole is rbac/role.yaml: the controllers' ClusterRole, generated
// from the +kubebuilder:rbac markers.
//
//go:embed rbac/role.yaml
var ControllerRole []byte

// Package config holds certplane's Kubernetes manifests. The controller's
// ClusterRole, the CRDs and the approval policy are embedded so that
// `certplane up` installs exactly what a cluster deployment installs.
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

// Policies holds the admission policies and their bindings in policy/: who
// may approve or deny CertificateRequests, and the requester's identity
// recorded in them and in Certificates.
//
//go:embed policy/certificaterequest-approval-policy.yaml policy/certificaterequest-approval-binding.yaml
//go:embed policy/certificaterequest-identity-policy.yaml policy/certificaterequest-identity-binding.yaml
//go:embed policy/certificate-identity-policy.yaml policy/certificate-identity-binding.yaml
var Policies embed.FS

// AggregatedRoles is rbac/aggregated_roles.yaml: cert-manager's ClusterRoles
// that add the cert-manager.io resources to view, edit and admin.
//
//go:embed rbac/aggregated_roles.yaml
var AggregatedRoles []byte

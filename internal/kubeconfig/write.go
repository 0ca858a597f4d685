package kubeconfig

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Spec describes a kubeconfig with one cluster, one user with a client
// certificate, and the context "<user>@<cluster>" joining them, all data
// embedded, as kubeadm writes them.
type Spec struct {
	ClusterName string
	Server      string
	CA          []byte
	User        string
	Certificate []byte
	Key         []byte
}

// Marshal encodes the kubeconfig as YAML.
func (s Spec) Marshal() ([]byte, error) {
	ctx := s.User + "@" + s.ClusterName
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[s.ClusterName] = &clientcmdapi.Cluster{Server: s.Server, CertificateAuthorityData: s.CA}
	cfg.AuthInfos[s.User] = &clientcmdapi.AuthInfo{ClientCertificateData: s.Certificate, ClientKeyData: s.Key}
	cfg.Contexts[ctx] = &clientcmdapi.Context{Cluster: s.ClusterName, AuthInfo: s.User}
	cfg.CurrentContext = ctx
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: encoding: %w", err)
	}
	return data, nil
}

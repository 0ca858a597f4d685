package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// restConfig loads the kubeconfig as kubectl does: --kubeconfig, else
// $KUBECONFIG, else ~/.kube/config, else the in-cluster service account.
func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, kubeconfigError(rules, err)
	}
	return cfg, nil
}

// kubeconfigError says which kubeconfig was tried and how to give one, in
// place of client-go's advice to set KUBERNETES_MASTER.
func kubeconfigError(rules *clientcmd.ClientConfigLoadingRules, err error) error {
	const how = "give one with --kubeconfig FILE or set KUBECONFIG"
	paths, from := rules.Precedence, "$KUBECONFIG"
	switch {
	case rules.ExplicitPath != "":
		paths, from = []string{rules.ExplicitPath}, "--kubeconfig"
	case os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "":
		from = "the default, as $KUBECONFIG is not set"
	}
	tried := strings.Join(paths, ", ")
	if errors.Is(err, fs.ErrNotExist) {
		return &messageError{msg: fmt.Sprintf("kubeconfig %s (from %s) does not exist: %s", tried, from, how), err: err}
	}
	if !clientcmd.IsEmptyConfig(err) {
		return &messageError{msg: fmt.Sprintf("kubeconfig %s (from %s): %s", tried, from, strings.TrimPrefix(err.Error(), "invalid configuration: ")), err: err}
	}
	exists := false
	for _, p := range paths {
		if _, statErr := os.Stat(p); statErr == nil {
			exists = true
		}
	}
	if !exists {
		return &messageError{msg: fmt.Sprintf("no kubeconfig found at %s (from %s): %s", tried, from, how), err: err}
	}
	return &messageError{msg: fmt.Sprintf("kubeconfig %s (from %s) names no cluster to connect to, as it is empty or has no current context: %s", tried, from, how), err: err}
}

func clientset(kubeconfig string) (*kubernetes.Clientset, *rest.Config, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg, err
}

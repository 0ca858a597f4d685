package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/internal/app"
	"github.com/certplane/certplane/internal/controller/certificates"
)

// BenchmarkApprovedToIssued approves a batch of 100 CertificateSigningRequests
// at once and waits until every one carries its certificate, against a real
// kube-apiserver and etcd with the signer running in-process as in `certplane
// up`. It reports requests issued per second and the latency from each
// approval to the certificate being visible to a watcher.
func BenchmarkApprovedToIssued(b *testing.B) {
	const batch = 100
	cp := startControlPlane(b)
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig("super-admin.conf"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	cs := kubernetes.NewForConfigOrDie(cfg)
	mgr, err := app.NewManager(cfg, app.Options{
		EnableKubernetesSigners: true,
		Signing:                 certificates.SigningFiles{CertFile: filepath.Join(cp.PKIDir(), "ca.crt"), KeyFile: filepath.Join(cp.PKIDir(), "ca.key")},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	mgr.GetCache().WaitForCacheSync(ctx)

	var latencies []time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		reqs := make([]*certv1.CertificateSigningRequest, batch)
		if err := parallel(batch, func(i int) error {
			r := newRequest(b, fmt.Sprintf("bench-%d-%03d", round, i), "bench")
			created, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, r, metav1.CreateOptions{})
			reqs[i] = created
			return err
		}); err != nil {
			b.Fatal(err)
		}
		w, err := cs.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{ResourceVersion: reqs[batch-1].ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		approvedAt := sync.Map{}
		b.StartTimer()
		go func() {
			_ = parallel(batch, func(i int) error {
				approvedAt.Store(reqs[i].Name, time.Now())
				return approve(ctx, cs, reqs[i])
			})
		}()
		issued := map[string]bool{}
		timeout := time.After(2 * time.Minute)
		for len(issued) < batch {
			select {
			case ev, open := <-w.ResultChan():
				if !open {
					b.Fatal("the watch closed")
				}
				c, ok := ev.Object.(*certv1.CertificateSigningRequest)
				if !ok || ev.Type != watch.Modified || len(c.Status.Certificate) == 0 || issued[c.Name] {
					continue
				}
				issued[c.Name] = true
				if at, ok := approvedAt.Load(c.Name); ok {
					latencies = append(latencies, time.Since(at.(time.Time)))
				}
			case <-timeout:
				b.Fatalf("%d of %d issued after 2 minutes", len(issued), batch)
			}
		}
		b.StopTimer()
		w.Stop()
		b.StartTimer()
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "issued/s")
}

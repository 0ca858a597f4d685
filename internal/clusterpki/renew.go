package clusterpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

// RenewableNames lists what Renew takes, besides "all": every leaf
// certificate and every kubeconfig but kubelet.conf.
func RenewableNames() []string {
	var names []string
	for _, s := range certs {
		names = append(names, s.name)
	}
	for _, c := range confs {
		if c.name != "kubelet.conf" {
			names = append(names, c.name)
		}
	}
	slices.Sort(names)
	return names
}

// RenewResult says what Renew replaced and where the old files went.
type RenewResult struct {
	Renewed []string
	// BackupDir holds the replaced certificates, keys and kubeconfigs.
	BackupDir string
}

// Renew reissues the named certificates ("all" for every one) as kubeadm
// certs renew does: with a new key, keeping the subject, the SANs and the
// extended key usages of the old certificate, signed by the same CA. CAs
// are never renewed. It refuses, before writing anything, when a CA key is
// absent. The replaced files are kept under Dir/backup/<time>/ (a suffix
// -2, -3, ... keeps renewals within one second apart).
//
// New keys have the algorithm of the key they replace, unless Options.Key
// names one.
func Renew(opts Options, names []string) (*RenewResult, error) {
	keepAlgorithm := opts.Key.Algorithm == ""
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if slices.Contains(names, "all") {
		names = RenewableNames()
	}
	slices.Sort(names)
	names = slices.Compact(names)
	now := o.Now()
	caCerts := map[string]*pki.CA{}
	loadCA := func(name string) (*pki.CA, error) {
		if ca, ok := caCerts[name]; ok {
			return ca, nil
		}
		base := caBase(name)
		cert, err := requireCert(o.Dir, certPath(o.Dir, base))
		if err != nil {
			return nil, err
		}
		key, err := o.CAKeys.Signer(base)
		if err != nil {
			return nil, fmt.Errorf("cannot renew without the CA key: %w", err)
		}
		ca, err := pki.NewCA(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel(o.Dir, certPath(o.Dir, base)), err)
		}
		caCerts[name] = ca
		return ca, nil
	}

	var out []files.File
	for _, name := range names {
		f, err := renewOne(o, name, now, keepAlgorithm, loadCA)
		if err != nil {
			return nil, fmt.Errorf("renewing %s: %w", name, err)
		}
		out = append(out, f...)
	}
	backup, err := newBackupDir(filepath.Join(o.Dir, "backup"), now)
	if err != nil {
		return nil, err
	}
	if err := files.ReplaceAll(o.Dir, backup, out...); err != nil {
		_ = os.Remove(backup) // only if empty: it may hold the only copy of a file
		return nil, err
	}
	return &RenewResult{Renewed: names, BackupDir: backup}, nil
}

// newBackupDir makes a directory of its own under parent, named by the
// time: <time>, or <time>-2, <time>-3, ... when renewals come within the
// same second.
func newBackupDir(parent string, now time.Time) (string, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", fmt.Errorf("making the backup directory: %w", err)
	}
	base := filepath.Join(parent, now.UTC().Format("20060102T150405Z"))
	for i := 1; ; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) || i >= 1000 {
			return "", fmt.Errorf("making the backup directory: %w", err)
		}
	}
}

func renewOne(o Options, name string, now time.Time, keepAlgorithm bool, loadCA func(string) (*pki.CA, error)) ([]files.File, error) {
	for _, c := range cas {
		if c.name == name {
			return nil, errors.New("CAs are never renewed")
		}
	}
	for _, s := range certs {
		if s.name != name {
			continue
		}
		certFile := certPath(o.Dir, s.base)
		old, err := requireCert(o.Dir, certFile)
		if err != nil {
			return nil, err
		}
		ca, err := loadCA(s.ca)
		if err != nil {
			return nil, err
		}
		certPEM, keyPEM, err := reissue(o, ca, old, now, keepAlgorithm)
		if err != nil {
			return nil, err
		}
		return []files.File{
			{Path: certFile, Data: certPEM, Mode: files.Public},
			{Path: keyPath(o.Dir, s.base), Data: keyPEM, Mode: files.Secret},
		}, nil
	}
	for _, c := range confs {
		if c.name != name || name == "kubelet.conf" {
			continue
		}
		path := filepath.Join(o.Dir, c.name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		old, _, kc, err := kubeconfigCredentials(data, o.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		ca, err := loadCA("ca")
		if err != nil {
			return nil, err
		}
		certPEM, keyPEM, err := reissue(o, ca, old, now, keepAlgorithm)
		if err != nil {
			return nil, err
		}
		spec := kubeconfig.Spec{User: kc.Users[0].Name, Certificate: certPEM, Key: keyPEM}
		if len(kc.Clusters) > 0 {
			spec.ClusterName, spec.Server, spec.CA = kc.Clusters[0].Name, kc.Clusters[0].Server, kc.Clusters[0].CA
		}
		newData, err := spec.Marshal()
		if err != nil {
			return nil, err
		}
		return []files.File{{Path: path, Data: newData, Mode: files.Secret}}, nil
	}
	return nil, fmt.Errorf("unknown certificate: want all or one of %v", RenewableNames())
}

// reissue makes a new key and a certificate for it that keeps old's
// subject, SANs and extended key usages.
func reissue(o Options, ca *pki.CA, old *x509.Certificate, now time.Time, keepAlgorithm bool) (certPEM, keyPEM []byte, err error) {
	spec := o.Key
	if keepAlgorithm {
		spec = specOf(old.PublicKey, spec)
	}
	key, err := pki.GenerateKey(o.Rand, spec)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ca.Issue(o.Rand, now, &pki.Template{
		Subject:        pkix.Name{CommonName: old.Subject.CommonName, Organization: old.Subject.Organization},
		DNSNames:       old.DNSNames,
		IPAddresses:    old.IPAddresses,
		URIs:           old.URIs,
		EmailAddresses: old.EmailAddresses,
		Usages:         leafUsages(pki.UsageNames(0, old.ExtKeyUsage)),
		Duration:       o.Validity,
	}, key.Public())
	if err != nil {
		return nil, nil, err
	}
	return pki.EncodeCertificatesPEM(cert), keyPEM, nil
}

// specOf is the key spec of pub, or fallback for a key it cannot name.
func specOf(pub crypto.PublicKey, fallback pki.KeySpec) pki.KeySpec {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return pki.KeySpec{Algorithm: pki.RSA, Size: k.N.BitLen()}
	case *ecdsa.PublicKey:
		s := pki.KeySpec{Algorithm: pki.ECDSA, Size: k.Curve.Params().BitSize}
		if s.Validate() == nil {
			return s
		}
	case ed25519.PublicKey:
		return pki.Ed25519Key
	}
	return fallback
}

// UserKubeconfig issues a client certificate for user in groups from the
// cluster CA and returns a kubeconfig with it, its key and the CA
// embedded. The server and cluster name are admin.conf's unless Options
// name a server.
func UserKubeconfig(opts Options, user string, groups []string, validity time.Duration) ([]byte, error) {
	if user == "" {
		return nil, errors.New("no user name given")
	}
	server := opts.Server
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if server == "" {
		if data, err := os.ReadFile(filepath.Join(o.Dir, "admin.conf")); err == nil {
			if kc, err := kubeconfig.Parse(data, o.Dir); err == nil && len(kc.Clusters) > 0 {
				o.Server, o.ClusterName = kc.Clusters[0].Server, kc.Clusters[0].Name
			}
		}
	}
	cert, err := requireCert(o.Dir, certPath(o.Dir, "ca"))
	if err != nil {
		return nil, err
	}
	key, err := o.CAKeys.Signer("ca")
	if err != nil {
		return nil, err
	}
	ca, err := pki.NewCA(cert, key)
	if err != nil {
		return nil, err
	}
	if validity > 0 {
		o.Validity = validity
	}
	b := &builder{o: o, now: o.Now(), res: &Result{}}
	return b.newKubeconfig(ca, user, groups, o.Validity)
}

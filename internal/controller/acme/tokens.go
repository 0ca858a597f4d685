package acme

import (
	"context"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
)

// indexChallengeToken indexes HTTP-01 Challenges by their token.
const indexChallengeToken = "spec.token"

// Tokens finds the key authorization of a pending HTTP-01 Challenge in the
// cache: it is the http01.KeyLookup of certplane's solver listener, so that
// every replica serves every token without per-challenge Pods.
type Tokens struct {
	Reader client.Reader
}

// IndexTokens registers the token index Tokens needs.
func IndexTokens(mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(context.Background(), &acmev1.Challenge{}, indexChallengeToken, func(o client.Object) []string {
		ch := o.(*acmev1.Challenge)
		if ch.Spec.Type != acmev1.ACMEChallengeTypeHTTP01 || ch.Spec.Token == "" {
			return nil
		}
		return []string{ch.Spec.Token}
	})
}

// Lookup returns the key authorization for token when a Challenge for host
// (compared case-insensitively) holds it and has not failed.
func (t *Tokens) Lookup(host, token string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list acmev1.ChallengeList
	if err := t.Reader.List(ctx, &list, client.MatchingFields{indexChallengeToken: token}); err != nil {
		return "", false
	}
	for _, ch := range list.Items {
		if strings.EqualFold(strings.TrimSuffix(ch.Spec.DNSName, "."), host) && !ch.Status.State.Failed() {
			return ch.Spec.Key, true
		}
	}
	return "", false
}

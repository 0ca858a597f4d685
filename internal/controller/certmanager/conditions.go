package certmanager

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

func findCondition(cs []cmv1.CertificateCondition, typ string) *cmv1.CertificateCondition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// setCondition puts cond into st; the transition time moves only when the
// condition's status does.
func setCondition(st *cmv1.CertificateStatus, cond cmv1.CertificateCondition, now time.Time) {
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	if c := findCondition(st.Conditions, cond.Type); c != nil {
		cond.LastTransitionTime = c.LastTransitionTime
		if c.Status != cond.Status || cond.LastTransitionTime == nil {
			cond.LastTransitionTime = &t
		}
		*c = cond
		return
	}
	cond.LastTransitionTime = &t
	st.Conditions = append(st.Conditions, cond)
}

func removeCondition(st *cmv1.CertificateStatus, typ string) {
	out := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.Type != typ {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

// changedCondition reports whether the condition of type typ differs
// between before and after in status, reason or message.
func changedCondition(before, after []cmv1.CertificateCondition, typ string) bool {
	b, a := findCondition(before, typ), findCondition(after, typ)
	if b == nil || a == nil {
		return b != a
	}
	return b.Status != a.Status || b.Reason != a.Reason || b.Message != a.Message
}

func statusEqual(a, b *cmv1.CertificateStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

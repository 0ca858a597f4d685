package web

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	certv1 "k8s.io/api/certificates/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/estate"
	"github.com/certplane/certplane/internal/issuerpolicy"
)

// The issuer graph's drawing, in SVG user units.
const (
	graphNodeW  = 210
	graphNodeH  = 44
	graphColW   = 290 // node and the gap its edges cross
	graphRowH   = 60
	graphMargin = 20
	// graphMaxLeaves is how many leaf Certificates of one issuer are drawn;
	// the rest are one "+N more" node.
	graphMaxLeaves = 12
)

// Node kinds of the graph besides the API kinds: a Secret that a CA
// issuer reads and no Certificate writes, the CSRs and the
// PodCertificateRequests of an issuer's signer, and the leaves left out.
const (
	nodeSecret = "Secret"
	nodeCSRs   = "CertificateSigningRequests"
	nodePCRs   = "PodCertificateRequests"
	nodeMore   = "More"
)

// graphInput is what the issuer graph is drawn from.
type graphInput struct {
	Certificates   []cmv1.Certificate
	Issuers        []cmv1.Issuer
	ClusterIssuers []cmv1.ClusterIssuer
	CSRs           []certv1.CertificateSigningRequest
	PCRs           []certv1.PodCertificateRequest
	// ClusterResourceNamespace holds the ClusterIssuers' CA Secrets.
	ClusterResourceNamespace string
	// States are the rows' states by rowKey.
	States map[string]string
}

// graph is the issuer graph laid out: ClusterIssuer → CA Certificate →
// Issuer → leaf Certificates, left to right, as the cert-manager
// documentation's bootstrapping diagram draws it.
type graph struct {
	Width, Height int
	Nodes         []*gnode
	Edges         []gedge
}

type gnode struct {
	ID, Kind, Name, Namespace string
	// Detail is the issuer's type (ca, selfSigned, ...) or a count.
	Detail string
	State  string
	Link   string
	// Shape is "issuer" (a box) or "cert" (rounded ends), as seed 000.
	Shape string
	Layer int
	X, Y  float64
	W, H  float64
	order float64
	label string
}

type gedge struct {
	From, To string
	Label    string
	Path     string
	LX, LY   float64
}

// Label is the node's name as drawn, shortened.
func (n *gnode) Label() string { return n.label }

// Class is the node's CSS class: its shape and state.
func (n *gnode) Class() string {
	state := "unknown"
	switch n.State {
	case estate.StateReady, estate.StateIssued, estate.StateValid:
		state = "ready"
	case estate.StateExpired, estate.StateFailed, estate.StateDenied, estate.StateInvalid, estate.StateMissing, estate.StateNotReady:
		state = "bad"
	case estate.StateIssuing, estate.StatePending, estate.StateApproved:
		state = "busy"
	}
	return "node " + n.Shape + " " + state
}

func rowKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// buildGraph lays out the issuers and Certificates of in.
func buildGraph(in graphInput) *graph {
	g := &graph{}
	nodes := map[string]*gnode{}
	add := func(n *gnode) *gnode {
		if old := nodes[n.ID]; old != nil {
			return old
		}
		if n.State == "" {
			n.State = in.States[rowKey(n.Kind, n.Namespace, n.Name)]
		}
		nodes[n.ID] = n
		g.Nodes = append(g.Nodes, n)
		return n
	}
	edge := func(from, to *gnode, label string) {
		g.Edges = append(g.Edges, gedge{From: from.ID, To: to.ID, Label: label})
	}
	crNS := in.ClusterResourceNamespace
	if crNS == "" {
		crNS = estate.DefaultClusterResourceNamespace
	}

	issuerNode := func(kind, ns, name string, spec *cmv1.IssuerSpec, state string) *gnode {
		n := &gnode{ID: rowKey(kind, ns, name), Kind: kind, Namespace: ns, Name: name, Shape: "issuer", State: state}
		if spec != nil {
			n.Detail = issuerpolicy.Kind(spec)
			n.Link = linkFor(kind, ns, name)
		}
		return add(n)
	}
	for i := range in.ClusterIssuers {
		iss := &in.ClusterIssuers[i]
		issuerNode(estate.KindClusterIssuer, "", iss.Name, &iss.Spec, issuerState(iss.Status.Conditions))
	}
	for i := range in.Issuers {
		iss := &in.Issuers[i]
		issuerNode(estate.KindIssuer, iss.Namespace, iss.Name, &iss.Spec, issuerState(iss.Status.Conditions))
	}
	// Certificates: issued by their issuerRef; the Certificate that writes
	// a CA issuer's Secret signs for that issuer.
	bySecret := map[string]*gnode{}
	certs := slices.Clone(in.Certificates)
	slices.SortFunc(certs, func(a, b cmv1.Certificate) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	leaves := map[string][]*gnode{}
	for i := range certs {
		c := &certs[i]
		n := add(&gnode{ID: rowKey(estate.KindCertificate, c.Namespace, c.Name), Kind: estate.KindCertificate, Namespace: c.Namespace, Name: c.Name,
			Shape: "cert", Link: linkFor(estate.KindCertificate, c.Namespace, c.Name)})
		if c.Spec.IsCA {
			n.Detail = "CA"
		}
		bySecret[c.Namespace+"/"+c.Spec.SecretName] = n
		ref := c.Spec.IssuerRef
		kind, ns := ref.Kind, c.Namespace
		switch {
		case kind == "":
			kind = estate.KindIssuer
		case kind == estate.KindClusterIssuer && (ref.Group == "" || ref.Group == "cert-manager.io"):
			ns = ""
		}
		if ref.Group != "" && ref.Group != "cert-manager.io" {
			kind += "." + ref.Group
		}
		from := nodes[rowKey(kind, ns, ref.Name)]
		if from == nil {
			from = issuerNode(kind, ns, ref.Name, nil, "")
			if kind == estate.KindIssuer || kind == estate.KindClusterIssuer {
				from.State, from.Detail = estate.StateMissing, "not found"
			} else {
				from.Detail = "external"
			}
		}
		leaves[from.ID] = append(leaves[from.ID], n)
		edge(from, n, "issues")
	}
	signs := func(iss *gnode, ns string, spec *cmv1.IssuerSpec) {
		if spec.CA == nil {
			return
		}
		src := bySecret[ns+"/"+spec.CA.SecretName]
		if src == nil {
			src = add(&gnode{ID: rowKey(nodeSecret, ns, spec.CA.SecretName), Kind: nodeSecret, Namespace: ns, Name: spec.CA.SecretName, Shape: "cert", Detail: "CA Secret"})
		}
		edge(src, iss, "signs")
	}
	for i := range in.ClusterIssuers {
		iss := &in.ClusterIssuers[i]
		signs(nodes[rowKey(estate.KindClusterIssuer, "", iss.Name)], crNS, &iss.Spec)
	}
	for i := range in.Issuers {
		iss := &in.Issuers[i]
		signs(nodes[rowKey(estate.KindIssuer, iss.Namespace, iss.Name)], iss.Namespace, &iss.Spec)
	}
	// Requests to an issuer's signer name, one node per issuer and kind.
	requests := func(kind string, signer string) {
		ref, err := issuerpolicy.ParseSignerName(signer)
		if err != nil {
			return
		}
		from := nodes[rowKey(estate.KindIssuer, ref.Namespace, ref.Name)]
		if ref.Cluster {
			from = nodes[rowKey(estate.KindClusterIssuer, "", ref.Name)]
		}
		if from == nil {
			return
		}
		id := rowKey(kind, "", signer)
		n := nodes[id]
		if n == nil {
			n = add(&gnode{ID: id, Kind: kind, Name: signer, Shape: "group", State: estate.StateValid})
			edge(from, n, "issues")
		}
		count, _ := strconv.Atoi(n.Detail)
		n.Detail = strconv.Itoa(count + 1)
	}
	for i := range in.CSRs {
		requests(nodeCSRs, in.CSRs[i].Spec.SignerName)
	}
	for i := range in.PCRs {
		requests(nodePCRs, in.PCRs[i].Spec.SignerName)
	}
	g.prune(leaves)
	g.layout()
	return g
}

func issuerState(conds []cmv1.IssuerCondition) string {
	for _, c := range conds {
		if c.Type == "Ready" {
			if c.Status == cmv1.ConditionTrue {
				return estate.StateReady
			}
			return estate.StateNotReady
		}
	}
	return estate.StatePending
}

// prune leaves out the leaf Certificates of an issuer past
// graphMaxLeaves, for one "+N more" node.
func (g *graph) prune(leaves map[string][]*gnode) {
	out := map[string]bool{}
	for _, e := range g.Edges {
		out[e.From] = true
	}
	drop := map[string]bool{}
	for from, ns := range leaves {
		var plain []*gnode
		for _, n := range ns {
			if !out[n.ID] {
				plain = append(plain, n)
			}
		}
		if len(plain) <= graphMaxLeaves {
			continue
		}
		for _, n := range plain[graphMaxLeaves:] {
			drop[n.ID] = true
		}
		more := &gnode{ID: nodeMore + "/" + from, Kind: "Certificates", Shape: "group", Name: fmt.Sprintf("+%d more Certificates", len(plain)-graphMaxLeaves), Link: "/"}
		g.Nodes = append(g.Nodes, more)
		g.Edges = append(g.Edges, gedge{From: from, To: more.ID, Label: "issues"})
	}
	if len(drop) == 0 {
		return
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *gnode) bool { return drop[n.ID] })
	g.Edges = slices.DeleteFunc(g.Edges, func(e gedge) bool { return drop[e.To] })
}

// layout puts each node in the column of its longest path from a node
// with no edge in, orders each column by the mean row of the nodes its
// edges come from, and draws the edges as curves.
func (g *graph) layout() {
	byID := map[string]*gnode{}
	for _, n := range g.Nodes {
		byID[n.ID] = n
		n.W, n.H = graphNodeW, graphNodeH
		n.label = shorten(n.Name, 28)
		if n.Kind == nodeCSRs || n.Kind == nodePCRs {
			n.label = n.Detail + " " + map[string]string{nodeCSRs: "CSRs", nodePCRs: "pod certificates"}[n.Kind]
			n.Detail = ""
		}
	}
	in := map[string][]string{}
	outs := map[string][]string{}
	for _, e := range g.Edges {
		in[e.To] = append(in[e.To], e.From)
		outs[e.From] = append(outs[e.From], e.To)
	}
	// Longest path layering (Kahn); nodes on a cycle go after what they
	// follow.
	indeg := map[string]int{}
	for id := range byID {
		indeg[id] = len(in[id])
	}
	var queue []*gnode
	for _, n := range g.Nodes {
		if indeg[n.ID] == 0 {
			queue = append(queue, n)
		}
	}
	done := map[string]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		done[n.ID] = true
		for _, to := range outs[n.ID] {
			m := byID[to]
			m.Layer = max(m.Layer, n.Layer+1)
			if indeg[to]--; indeg[to] == 0 {
				queue = append(queue, m)
			}
		}
	}
	for _, n := range g.Nodes {
		if done[n.ID] {
			continue
		}
		for _, from := range in[n.ID] {
			if done[from] {
				n.Layer = max(n.Layer, byID[from].Layer+1)
			}
		}
	}
	layers := 0
	cols := map[int][]*gnode{}
	for _, n := range g.Nodes {
		cols[n.Layer] = append(cols[n.Layer], n)
		layers = max(layers, n.Layer+1)
	}
	kindOrder := map[string]int{estate.KindClusterIssuer: 0, estate.KindIssuer: 1, nodeSecret: 2, estate.KindCertificate: 3, nodeCSRs: 4, nodePCRs: 5, "Certificates": 6}
	maxY := 0.0
	for l := range layers {
		col := cols[l]
		for _, n := range col {
			n.order = -1
			var sum float64
			var count int
			for _, from := range in[n.ID] {
				if p := byID[from]; p.Layer < l {
					sum += p.Y
					count++
				}
			}
			if count > 0 {
				n.order = sum / float64(count)
			}
		}
		slices.SortStableFunc(col, func(a, b *gnode) int {
			return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]),
				cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		y := float64(graphMargin)
		for _, n := range col {
			n.X = float64(graphMargin + l*graphColW)
			n.Y = max(y, n.order)
			y = n.Y + graphRowH
			maxY = max(maxY, n.Y+graphNodeH)
		}
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		a, b := byID[e.From], byID[e.To]
		x1, y1 := a.X+a.W, a.Y+a.H/2
		x2, y2 := b.X, b.Y+b.H/2
		dx := max((x2-x1)/2, 40)
		e.Path = fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
		// The label sits by the arrow's head, where edges fanning out of
		// one node have parted.
		e.LX, e.LY = x2-34, y2-6
	}
	g.Width = graphMargin*2 + max(layers-1, 0)*graphColW + graphNodeW
	g.Height = int(maxY) + graphMargin
	if len(g.Nodes) == 0 {
		g.Width, g.Height = 400, 60
	}
}

// shorten cuts s to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

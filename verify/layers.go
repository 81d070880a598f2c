package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/gnconv/gnconv/graph"
)

// Layer by layer: every module's output in the reference pass (stem
// convs and pools, each Inception unit and each layer of its branches,
// the aux heads' layers, the head) is compared with the value of the file
// that computes it. Which value that is:
//
//   - in a file gnconv wrote, the value named after the module, as the
//     emitter names them (convert/onnx.go: a module's output is its path,
//     "inception4a.branch2.1"; a module used twice is "maxpool_2" the
//     second time; the last layers are "logits", "aux1", "aux2", or
//     "logits.raw" before a final Softmax);
//   - in another file, by the module paths in node names where there are
//     some (torch.onnx.export names a node "/inception4a/branch2/branch2.1/conv/Conv"):
//     the module's output is the value its nodes make that a node outside
//     them reads, followed through a BatchNormalization and a Relu the
//     module ends in but which a sibling module computes;
//   - and for the modules left, by shape and topological order: the next
//     value, after the previous module's, that an operator of the kind
//     that ends such a module makes (a Relu for a conv block with ReLU, a
//     Concat for an Inception unit, ...) with the module's shape.
//
// What cannot be mapped is reported, not guessed.

// LayerReport compares one module's output.
type LayerReport struct {
	Module string `json:"module"`
	// Value is the file's value compared with it ("" when none was found).
	Value string `json:"value,omitempty"`
	// MappedBy says how Value was found: "name", "node names" or "shape
	// and order".
	MappedBy string  `json:"mapped_by,omitempty"`
	Shape    []int   `json:"shape"`
	MaxAbs   float64 `json:"max_abs_error"`
	MaxRel   float64 `json:"max_rel_error"`
	Cosine   float64 `json:"cosine_similarity"`
	Bound    float64 `json:"bound"`
	Compared bool    `json:"compared"`
	Pass     bool    `json:"pass"`
	// Detail says why the module was not compared, or how shapes differ.
	Detail string `json:"detail,omitempty"`
}

// LayersReport is the layer-by-layer comparison of one batch, in network
// order.
type LayersReport struct {
	Batch  []int         `json:"batch_shape"`
	Layers []LayerReport `json:"modules"`
	// Unmapped lists the modules no value of the file could be matched
	// with.
	Unmapped []string `json:"unmapped,omitempty"`
	// First is the first module, in network order, whose error exceeds
	// the bound ("" when none does), and FirstMaxAbs its max abs error.
	First       string  `json:"first_divergence,omitempty"`
	FirstMaxAbs float64 `json:"first_divergence_max_abs,omitempty"`
	Pass        bool    `json:"pass"`
	// Error says why the comparison could not run (Run keeps going).
	Error string `json:"error,omitempty"`
}

// Divergence is the message naming the first diverging module, or "".
func (r *LayersReport) Divergence() string {
	if r == nil || r.First == "" {
		return ""
	}
	return fmt.Sprintf("first divergence at %s (max abs %.3g)", r.First, r.FirstMaxAbs)
}

// refLayer is one module's output in the reference pass.
type refLayer struct {
	module string
	value  string // gnconv's name for its output
	kind   graph.Kind
	layer  *graph.Layer // nil for transform_input
	shape  []int
	data   []float32
	// the file's value, once mapped
	file string
	how  string
}

// CompareLayers runs one batch through the reference pass and through the
// model, keeping every module's output, and compares them (see the rules
// above). withAux runs the aux heads, as the file has them as outputs;
// input names the model's input.
func CompareLayers(m *Model, net *graph.Net, b Batch, withAux bool, input string, opts Options) (*LayersReport, error) {
	if opts.ATol == 0 && opts.RTol == 0 {
		// a float16 or int8 file's modules err as its outputs do
		opts.ATol, opts.RTol = DefaultTolerances(m)
	}
	ch := net.InChannels
	rep := &LayersReport{Batch: []int{b.N, ch, b.H, b.W}}
	refs, err := referenceLayers(net, b, withAux)
	if err != nil {
		return nil, fmt.Errorf("reference forward pass: %w", err)
	}
	in := map[string]*Value{input: inputValue(b, net)}
	if err := mapLayers(m, refs, in); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, r := range refs {
		if r.file != "" {
			want[r.file] = true
		}
	}
	_, kept, err := m.RunKeep(in, func(name, _ string, _ []int) bool { return want[name] })
	if err != nil {
		return nil, fmt.Errorf("interpreter: %w", err)
	}
	rep.Pass = true
	for _, r := range refs {
		lr := LayerReport{Module: r.module, Value: r.file, MappedBy: r.how, Shape: r.shape}
		v := kept[r.file]
		switch {
		case r.file == "":
			lr.Detail = "no value of the file computes it"
			rep.Unmapped = append(rep.Unmapped, r.module)
		case v == nil:
			lr.Detail = "the file's value " + r.file + " was not computed"
			rep.Unmapped = append(rep.Unmapped, r.module)
		case !sameShape(v.Shape, r.shape):
			lr.Compared = true
			lr.MaxAbs = math.Inf(1)
			lr.Detail = fmt.Sprintf("the file's value has shape %v", v.Shape)
		default:
			lr.Compared = true
			compareValues(&lr, v.F, r.data, opts.ATol, opts.RTol)
		}
		if lr.Compared && lr.Detail == "" {
			lr.Pass = lr.MaxAbs <= lr.Bound
		}
		if lr.Compared && !lr.Pass && rep.First == "" {
			rep.First, rep.FirstMaxAbs = r.module, lr.MaxAbs
		}
		rep.Pass = rep.Pass && (lr.Pass || !lr.Compared)
		rep.Layers = append(rep.Layers, lr)
	}
	return rep, nil
}

// sameShape compares shapes, ignoring trailing dimensions of 1 past the
// second (N×C×1×1 is N×C).
func sameShape(a, b []int) bool {
	trim := func(s []int) []int {
		for len(s) > 2 && s[len(s)-1] == 1 {
			s = s[:len(s)-1]
		}
		return s
	}
	a, b = trim(a), trim(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// compareValues fills a LayerReport's errors, with the outputs' bound
// (ATol + RTol × max |reference|) and max rel floor; NaN and Inf fail.
func compareValues(lr *LayerReport, got, want []float32, atol, rtol float64) {
	maxRef := 0.0
	for _, v := range want {
		maxRef = math.Max(maxRef, math.Abs(float64(v)))
	}
	floor := math.Max(1e-3*maxRef, 1e-12)
	var dot, na, nb float64
	for i := range got {
		a, b := float64(got[i]), float64(want[i])
		d := math.Abs(a - b)
		if math.IsNaN(d) || math.IsInf(d, 0) {
			d = math.Inf(1)
		}
		lr.MaxAbs = math.Max(lr.MaxAbs, d)
		lr.MaxRel = math.Max(lr.MaxRel, d/math.Max(math.Abs(b), floor))
		dot += a * b
		na += a * a
		nb += b * b
	}
	lr.Bound = atol + rtol*maxRef
	if math.IsInf(maxRef, 0) || math.IsNaN(maxRef) {
		lr.MaxAbs = math.Inf(1)
	}
	lr.Cosine = 1
	if na > 0 && nb > 0 {
		lr.Cosine = dot / math.Sqrt(na*nb)
	} else if na != nb {
		lr.Cosine = 0
	}
	if math.IsNaN(lr.Cosine) {
		lr.Cosine = 0
	}
}

// referenceLayers runs the reference pass and keeps every module's
// output (flatten and dropout compute nothing and are left out), with
// the name gnconv's emitter gives each.
func referenceLayers(net *graph.Net, b Batch, withAux bool) ([]*refLayer, error) {
	used := map[string]int{}
	var refs []*refLayer
	_, err := net.ForwardLayers(b.Data, b.N, b.H, b.W, withAux, func(o graph.LayerOutput) {
		value := o.Name
		switch {
		case o.Layer == nil: // transform_input
		case o.Output != "":
			value = o.Output
		default:
			n := used[o.Name]
			used[o.Name] = n + 1
			if n > 0 {
				value = fmt.Sprintf("%s_%d", o.Name, n+1)
			}
		}
		r := &refLayer{module: o.Name, value: value, layer: o.Layer, shape: append([]int(nil), o.Shape...)}
		if o.Layer != nil {
			r.kind = o.Layer.Kind
			if r.kind == graph.KindFlatten || r.kind == graph.KindDropout {
				return
			}
		}
		r.data = append([]float32(nil), o.Data...)
		refs = append(refs, r)
	})
	return refs, err
}

// fileGraph is what the mapping needs to know of a model's graph.
type fileGraph struct {
	m        *Model
	producer map[string]int   // value → node index in m.order
	readers  map[string][]int // value → node indices reading it
	outputs  map[string]bool  // graph outputs
	scope    []string         // each node's module path ("" when its name has none)
}

func newFileGraph(m *Model) *fileGraph {
	g := &fileGraph{m: m, producer: map[string]int{}, readers: map[string][]int{}, outputs: map[string]bool{}}
	for i, n := range m.order {
		for _, o := range n.Output {
			if o != "" {
				g.producer[o] = i
			}
		}
		for _, in := range n.Input {
			g.readers[in] = append(g.readers[in], i)
		}
		g.scope = append(g.scope, moduleScope(n.GetName()))
	}
	for _, o := range m.Outputs {
		g.outputs[o.Name] = true
	}
	return g
}

// moduleScope is the module path in a node name of torch.onnx.export's,
// "/inception4a/branch2/branch2.1/conv/Conv" → "inception4a.branch2.1.conv"
// (a child of a Sequential is named with its parent's name in front), or
// "" for a name without one.
func moduleScope(name string) string {
	if !strings.HasPrefix(name, "/") {
		return ""
	}
	parts := strings.Split(name[1:], "/")
	path, last := "", ""
	for _, p := range parts[:len(parts)-1] {
		switch {
		case p == "":
			return ""
		case last != "" && strings.HasPrefix(p, last+"."):
			path += p[len(last):]
		case path != "" && strings.HasPrefix(p, path+"."):
			path = p
		case path == "":
			path = p
		default:
			path += "." + p
		}
		last = p
	}
	return path
}

// mapLayers finds each reference module's value in the file.
func mapLayers(m *Model, refs []*refLayer, in map[string]*Value) error {
	g := newFileGraph(m)
	if m.Proto.GetProducerName() == "gnconv" {
		for _, r := range refs {
			name := r.value
			if _, ok := g.producer[name+".raw"]; ok && r.value != r.module {
				name += ".raw" // a network output before its Softmax
			}
			if _, ok := g.producer[name]; ok {
				r.file, r.how = name, "name"
			}
		}
	} else {
		g.mapByScope(refs)
	}
	left := false
	for _, r := range refs {
		left = left || r.file == ""
	}
	if !left {
		return nil
	}
	// by shape and order: every value's operator and shape, from a run
	type made struct {
		name, op string
		shape    []int
	}
	var seq []made
	if _, _, err := m.RunKeep(in, func(name, op string, shape []int) bool {
		seq = append(seq, made{name, op, append([]int(nil), shape...)})
		return false
	}); err != nil {
		return fmt.Errorf("interpreter: %w", err)
	}
	pos := map[string]int{}
	for i, s := range seq {
		pos[s.name] = i
	}
	taken := map[string]bool{}
	for _, r := range refs {
		if r.file != "" {
			taken[r.file] = true
		}
	}
	from := 0
	for k, r := range refs {
		if r.file != "" {
			if p, ok := pos[r.file]; ok {
				from = p + 1
			}
			continue
		}
		until := len(seq)
		for _, next := range refs[k+1:] {
			if p, ok := pos[next.file]; ok && next.file != "" {
				until = p
				break
			}
		}
		ends := endOps(r)
		for i := from; i < until; i++ {
			s := seq[i]
			if !taken[s.name] && ends[s.op] && sameShape(s.shape, r.shape) {
				r.file, r.how = s.name, "shape and order"
				taken[s.name] = true
				from = i + 1
				break
			}
		}
	}
	return nil
}

// endOps are the operators that may make a module's output.
func endOps(r *refLayer) map[string]bool {
	set := func(ops ...string) map[string]bool {
		s := map[string]bool{}
		for _, o := range ops {
			s[o] = true
		}
		return s
	}
	if r.layer == nil {
		return set("Add", "Concat") // transform_input
	}
	switch r.kind {
	case graph.KindConv:
		switch c := r.layer.Conv; {
		case c.ReLU:
			return set("Relu")
		case c.BN != nil:
			return set("BatchNormalization", "Conv")
		}
		return set("Conv")
	case graph.KindMaxPool:
		return set("MaxPool")
	case graph.KindAvgPool:
		return set("AveragePool")
	case graph.KindAdaptiveAvgPool:
		return set("GlobalAveragePool", "AveragePool", "ReduceMean", "Concat")
	case graph.KindLRN:
		return set("LRN")
	case graph.KindInception:
		return set("Concat")
	case graph.KindLinear:
		if r.layer.Linear.ReLU {
			return set("Relu")
		}
		return set("Gemm", "Add", "MatMul")
	}
	return nil
}

// mapByScope maps modules by the module paths of node names: a module's
// output is the value its nodes make that a node outside them (or the
// caller) reads; a module used n times must have n such values.
func (g *fileGraph) mapByScope(refs []*refLayer) {
	occurrences := map[string][]*refLayer{}
	var names []string
	for _, r := range refs {
		if r.layer == nil {
			continue
		}
		if occurrences[r.module] == nil {
			names = append(names, r.module)
		}
		occurrences[r.module] = append(occurrences[r.module], r)
	}
	// each module's nodes, in order, found from each node's scope's
	// prefixes (work in proportion to the names' lengths)
	nodes := map[string][]int{}
	for i, s := range g.scope {
		for j := 0; j <= len(s); j++ {
			if j == len(s) || s[j] == '.' {
				if _, ok := occurrences[s[:j]]; ok {
					nodes[s[:j]] = append(nodes[s[:j]], i)
				}
			}
		}
	}
	for _, module := range names {
		inside := func(i int) bool {
			s := g.scope[i]
			return s == module || strings.HasPrefix(s, module+".")
		}
		var exits []string
		for _, i := range nodes[module] {
			n := g.m.order[i]
			for _, o := range n.Output {
				if o == "" {
					continue
				}
				out := g.outputs[o]
				for _, j := range g.readers[o] {
					out = out || !inside(j)
				}
				if out {
					exits = append(exits, o)
				}
			}
		}
		rs := occurrences[module]
		if len(rs) == 1 && len(exits) > 1 {
			exits = exits[len(exits)-1:] // the last value leaving the module
		}
		if len(exits) != len(rs) {
			continue
		}
		for i, r := range rs {
			r.file, r.how = g.follow(r, exits[i]), "node names"
		}
	}
}

// follow goes from a conv block's (or linear layer's) Conv or Gemm to
// the BatchNormalization and Relu that end the block in the reference,
// when each is the value's only reader: modules that apply them as
// siblings (a Sequential's ReLU) or in their parent's forward.
func (g *fileGraph) follow(r *refLayer, v string) string {
	var bn, relu bool
	switch {
	case r.kind == graph.KindConv:
		bn, relu = r.layer.Conv.BN != nil, r.layer.Conv.ReLU
	case r.kind == graph.KindLinear:
		relu = r.layer.Linear.ReLU
	default:
		return v
	}
	next := func(op string) bool {
		rd := g.readers[v]
		if len(rd) != 1 || g.outputs[v] || g.m.order[rd[0]].GetOpType() != op {
			return false
		}
		v = g.m.order[rd[0]].Output[0]
		return true
	}
	op := func() string { return g.m.order[g.producer[v]].GetOpType() }
	if bn && op() == "Conv" {
		next("BatchNormalization")
	}
	if relu && op() != "Relu" {
		next("Relu")
	}
	return v
}

// MarshalJSON writes non-finite errors as strings (see jsonFloat).
func (l LayerReport) MarshalJSON() ([]byte, error) {
	type plain LayerReport
	return json.Marshal(struct {
		plain
		MaxAbs jsonFloat `json:"max_abs_error"`
		MaxRel jsonFloat `json:"max_rel_error"`
		Cosine jsonFloat `json:"cosine_similarity"`
		Bound  jsonFloat `json:"bound"`
	}{plain(l), jsonFloat(l.MaxAbs), jsonFloat(l.MaxRel), jsonFloat(l.Cosine), jsonFloat(l.Bound)})
}

// MarshalJSON writes a non-finite error as a string (see jsonFloat).
func (r LayersReport) MarshalJSON() ([]byte, error) {
	type plain LayersReport
	return json.Marshal(struct {
		plain
		FirstMaxAbs jsonFloat `json:"first_divergence_max_abs,omitempty"`
	}{plain(r), jsonFloat(r.FirstMaxAbs)})
}

package graph

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gnconv/gnconv/tensor"
)

// AuxMode picks whether the network has aux heads.
type AuxMode int

const (
	// AuxAuto builds the aux heads when the checkpoint holds them.
	AuxAuto AuxMode = iota
	// AuxOn is the training network (aux_logits=True).
	AuxOn
	// AuxOff is the deploy network (aux_logits=False).
	AuxOff
)

// Options steer Load. The zero value detects everything and loads
// strictly.
type Options struct {
	// NonStrict loads what matches and reports the rest, as PyTorch's
	// load_state_dict(strict=False); a shape mismatch still fails.
	NonStrict bool
	Layout    Layout
	Classes   int // 0: from the checkpoint
	Aux       AuxMode
	// TransformInput and LRN are not recorded in a state dict; they are
	// copied onto the network.
	TransformInput bool
	LRN            bool
}

// Mismatch is a key whose shape differs between checkpoint and network.
type Mismatch struct {
	Key               string
	Checkpoint, Model []int
}

// LoadReport says what Load decided and what did not match.
type LoadReport struct {
	Layout         Layout
	LayoutDetected Layout // LayoutAuto when the checkpoint does not tell
	LayoutEvidence string
	Classes        int
	Aux            bool // the network has aux heads
	AuxInFile      bool // the checkpoint has aux weights
	Strict         bool

	Missing    []string // in the network's order
	Unexpected []string // in the checkpoint's order
	Mismatched []Mismatch
	// NonFinite names weights holding NaN or Inf.
	NonFinite []string
	// Ignored lists entries that are accepted but unused
	// (num_batches_tracked).
	Ignored []string
	// Loaded counts the tensors bound to the network.
	Loaded int
	// Renamed maps the network's key names to the checkpoint's when the
	// checkpoint names its modules otherwise and was bound by position.
	Renamed map[string]string
}

// LoadError is a failed load, worded as PyTorch words it.
type LoadError struct {
	Report *LoadReport
	// Hint explains a likely cause (a layout mismatch) in plain words.
	Hint string
}

func (e *LoadError) Error() string {
	if e.Hint != "" {
		return e.TorchMessage() + "\n" + e.Hint
	}
	return e.TorchMessage()
}

// TorchMessage is the error as PyTorch's load_state_dict raises it.
func (e *LoadError) TorchMessage() string {
	r := e.Report
	var msgs []string
	if r.Strict && len(r.Missing) > 0 {
		msgs = append(msgs, "Missing key(s) in state_dict: "+quoteKeys(r.Missing)+". ")
	}
	if r.Strict && len(r.Unexpected) > 0 {
		msgs = append(msgs, "Unexpected key(s) in state_dict: "+quoteKeys(r.Unexpected)+". ")
	}
	for _, m := range r.Mismatched {
		msgs = append(msgs, fmt.Sprintf("size mismatch for %s: copying a param with shape %s from checkpoint, the shape in current model is %s.",
			m.Key, torchSize(m.Checkpoint), torchSize(m.Model)))
	}
	return "Error(s) in loading state_dict for GoogLeNet:\n\t" + strings.Join(msgs, "\n\t")
}

func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = `"` + k + `"`
	}
	return strings.Join(q, ", ")
}

func torchSize(shape []int) string { return "torch.Size(" + tensor.ShapeString(shape) + ")" }

// Detect reads the layout, class count and aux presence from a state dict's
// names and shapes. Layout is LayoutAuto when the names do not tell.
func Detect(sd *tensor.StateDict) (layout Layout, evidence string, classes int, aux bool) {
	var tv, tut []string
	for _, k := range sd.Names {
		if IsAuxKey(k) {
			aux = true
		}
		switch {
		case strings.HasSuffix(k, ".bn.running_var") && len(tv) < 8:
			if len(tv) == 0 {
				tv = append(tv, "batch norm entries ("+k+")")
			}
		case strings.HasSuffix(k, ".conv.bias") && !IsAuxKey(k):
			if len(tut) == 0 {
				tut = append(tut, "conv biases ("+k+")")
			}
		}
	}
	if t, ok := sd.Tensors["inception3a.branch3.1.conv.weight"]; ok && len(t.Shape) == 4 {
		switch t.Shape[3] {
		case 3:
			tv = append(tv, "a 3x3 branch3")
		case 5:
			tut = append(tut, "a 5x5 branch3")
		}
	}
	switch {
	case len(tv) > 0 && len(tut) == 0:
		layout, evidence = Torchvision, strings.Join(tv, ", ")
	case len(tut) > 0 && len(tv) == 0:
		layout, evidence = Tutorial, strings.Join(tut, ", ")
	case len(tv) > 0:
		evidence = "conflicting: " + strings.Join(append(tv, tut...), ", ")
	default:
		evidence = "no GoogLeNet entries found"
	}
	for _, k := range []string{"fc.weight", "aux1.fc2.weight", "aux2.fc2.weight"} {
		if t, ok := sd.Tensors[k]; ok && len(t.Shape) == 2 && t.Shape[0] > 0 {
			classes = t.Shape[0]
			break
		}
	}
	return
}

// Load binds a state dict to a GoogLeNet. On failure it returns the
// report with a *LoadError; on success the network and the report.
func Load(sd *tensor.StateDict, opts Options) (*Net, *LoadReport, error) {
	net, r, err := loadNamed(sd, opts)
	if err == nil || !foreignNames(sd) {
		return net, r, err
	}
	// The names are not torchvision's: a checkpoint of the same network
	// whose modules are named otherwise binds by position, when every
	// tensor matches one of the network's, in order, by shape.
	renamed, mapping, ok := matchByPosition(sd, opts)
	if !ok {
		return net, r, err
	}
	net2, r2, err2 := loadNamed(renamed, opts)
	if err2 != nil {
		return net, r, err
	}
	r2.Renamed = mapping
	r2.LayoutEvidence += "; keys bound by position (the checkpoint names its modules differently)"
	return net2, r2, nil
}

func loadNamed(sd *tensor.StateDict, opts Options) (*Net, *LoadReport, error) {
	r := &LoadReport{Strict: !opts.NonStrict}
	detected, evidence, classes, auxInFile := Detect(sd)
	r.LayoutDetected, r.LayoutEvidence, r.AuxInFile = detected, evidence, auxInFile
	r.Layout = opts.Layout
	if r.Layout == LayoutAuto {
		r.Layout = detected
	}
	if r.Layout == LayoutAuto {
		return nil, r, fmt.Errorf("cannot tell the GoogLeNet layout of this checkpoint (%s); name it with --layout", evidence)
	}
	r.Classes = opts.Classes
	if r.Classes == 0 {
		r.Classes = classes
	}
	if r.Classes <= 0 {
		return nil, r, fmt.Errorf("cannot tell the class count: the checkpoint has no fc.weight; name it with --classes")
	}
	switch opts.Aux {
	case AuxOn:
		r.Aux = true
	case AuxOff:
		r.Aux = false
	default:
		r.Aux = auxInFile
	}
	net := newNet(r.Layout, r.Classes, r.Aux)
	net.TransformInput, net.LRN = opts.TransformInput, opts.LRN

	params := net.Params()
	expected := map[string]bool{}
	for _, p := range params {
		expected[p.Key] = true
		t, ok := sd.Tensors[p.Key]
		if !ok {
			// PyTorch's BatchNorm fills in a missing num_batches_tracked
			// (files from before torch 0.4.1 have none).
			if p.Dst != nil {
				r.Missing = append(r.Missing, p.Key)
			}
			continue
		}
		if p.Dst == nil {
			r.Ignored = append(r.Ignored, p.Key)
			continue
		}
		if !sameShape(t.Shape, p.Shape) {
			r.Mismatched = append(r.Mismatched, Mismatch{p.Key, t.Shape, p.Shape})
			continue
		}
		if !t.DType.IsFloat() {
			return nil, r, fmt.Errorf("%s has dtype %s; GoogLeNet weights must be floating point", p.Key, t.DType)
		}
		v := t.Float32()
		if !allFinite(v) {
			r.NonFinite = append(r.NonFinite, p.Key)
		}
		*p.Dst = v
		r.Loaded++
	}
	for _, k := range sd.Names {
		if !expected[k] {
			r.Unexpected = append(r.Unexpected, k)
		}
	}
	sortUnexpected(r.Unexpected, params)
	if len(r.Mismatched) > 0 || (r.Strict && (len(r.Missing) > 0 || len(r.Unexpected) > 0)) {
		return nil, r, &LoadError{Report: r, Hint: hint(r)}
	}
	return net, r, nil
}

// hint explains the usual causes of a failed load in plain words.
func hint(r *LoadReport) string {
	var h []string
	if r.LayoutDetected != LayoutAuto && r.LayoutDetected != r.Layout {
		h = append(h, fmt.Sprintf("The checkpoint holds the %s layout (%s), not the %s layout that was asked for; drop --layout or pass --layout %s.",
			r.LayoutDetected, r.LayoutDetected.Describe(), r.Layout, r.LayoutDetected))
	}
	for _, m := range r.Mismatched {
		if m.Key == "fc.weight" || strings.HasSuffix(m.Key, ".fc2.weight") {
			h = append(h, fmt.Sprintf("The checkpoint has %d classes, the network %d; drop --classes or pass --classes %d.", m.Checkpoint[0], m.Model[0], m.Checkpoint[0]))
			break
		}
	}
	if r.Strict && !r.Aux && r.AuxInFile {
		h = append(h, "The checkpoint has aux heads but the deploy network (no aux) was asked for: load non-strictly (--no-strict) to drop them, or use gnconv prune-aux.")
	}
	if r.Strict && r.Aux && !r.AuxInFile {
		h = append(h, "The network has aux heads but the checkpoint does not: load non-strictly (--no-strict), or drop the aux heads.")
	}
	return strings.Join(h, "\n")
}

func sameShape(a, b []int) bool {
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

func allFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// MissingWeights lists the network's weights that were not loaded (after a
// non-strict load); the forward pass and the emitters refuse to run
// without them.
func (n *Net) MissingWeights() []string {
	var miss []string
	for _, p := range n.Params() {
		if p.Dst != nil && *p.Dst == nil {
			miss = append(miss, p.Key)
		}
	}
	return miss
}

// sortUnexpected puts unexpected keys in the order PyTorch reports them:
// each module, visited in pre-order, reports the keys under its prefix that
// name none of its children or tensors, in state-dict order. A key is
// reported by the deepest module of the network that its name runs through.
func sortUnexpected(keys []string, params []Param) {
	first := map[string]int{"": -1} // module path → index of its first tensor
	for i, p := range params {
		parts := strings.Split(p.Key, ".")
		for j := 1; j < len(parts); j++ {
			m := strings.Join(parts[:j], ".")
			if _, ok := first[m]; !ok {
				first[m] = i
			}
		}
	}
	type pos struct{ first, depth, order int }
	at := map[string]pos{}
	for order, k := range keys {
		parts := strings.Split(k, ".")
		m, depth := "", 0
		for j := 1; j < len(parts); j++ {
			cand := strings.Join(parts[:j], ".")
			if _, ok := first[cand]; !ok {
				break
			}
			m, depth = cand, j
		}
		at[k] = pos{first[m], depth, order}
	}
	sort.SliceStable(keys, func(a, b int) bool {
		pa, pb := at[keys[a]], at[keys[b]]
		if pa.first != pb.first {
			return pa.first < pb.first
		}
		if pa.depth != pb.depth {
			return pa.depth < pb.depth
		}
		return pa.order < pb.order
	})
}

// foreignNames reports whether most of a state dict's names are none of
// the network's (either layout's): only then is binding by position tried,
// so that a misspelled key in a checkpoint with our names still fails.
func foreignNames(sd *tensor.StateDict) bool {
	known := map[string]bool{}
	for _, l := range []Layout{Tutorial, Torchvision} {
		for _, p := range newNet(l, 1, true).Params() {
			known[p.Key] = true
		}
	}
	n := 0
	for _, k := range sd.Names {
		if known[k] {
			n++
		}
	}
	return n*2 < sd.Len()
}

func isBatchesTracked(name string, t *tensor.Tensor) bool {
	return strings.HasSuffix(name, "num_batches_tracked") || (t.DType == tensor.Int64 && len(t.Shape) == 0)
}

func isAuxName(name string) bool { return strings.Contains(strings.ToLower(name), "aux") }

// matchByPosition binds a state dict whose keys carry other names: the
// tensors whose names mention "aux" are the aux heads' (in file order, aux1
// first), the rest the main network's, each list matched one to one, in
// order and by shape, against the network's parameters. Each
// num_batches_tracked goes with the batch norm just before it. It returns
// the state dict under the network's names and the renaming.
func matchByPosition(sd *tensor.StateDict, opts Options) (*tensor.StateDict, map[string]string, bool) {
	var main, aux []string
	for _, k := range sd.Names {
		if isBatchesTracked(k, sd.Tensors[k]) {
			continue
		}
		if isAuxName(k) {
			aux = append(aux, k)
		} else {
			main = append(main, k)
		}
	}
	if len(main) == 0 {
		return nil, nil, false
	}
	classes := opts.Classes
	if last := sd.Tensors[main[len(main)-1]]; classes == 0 && len(last.Shape) == 1 && len(main) > 1 {
		if w := sd.Tensors[main[len(main)-2]]; len(w.Shape) == 2 {
			classes = w.Shape[0]
		}
	}
	if classes <= 0 {
		return nil, nil, false
	}
	layouts := []Layout{Tutorial, Torchvision}
	if opts.Layout != LayoutAuto {
		layouts = []Layout{opts.Layout}
	}
	for _, l := range layouts {
		net := newNet(l, classes, len(aux) > 0)
		var wantMain, wantAux []Param
		for _, p := range net.Params() {
			if p.Dst == nil {
				continue
			}
			if IsAuxKey(p.Key) {
				wantAux = append(wantAux, p)
			} else {
				wantMain = append(wantMain, p)
			}
		}
		mapping := map[string]string{}
		if !matchShapes(sd, main, wantMain, mapping) || !matchShapes(sd, aux, wantAux, mapping) {
			continue
		}
		// num_batches_tracked follows its batch norm's running_var
		inverse := map[string]string{}
		for canon, orig := range mapping {
			inverse[orig] = canon
		}
		prev := ""
		for _, k := range sd.Names {
			if canon, ok := inverse[k]; ok {
				prev = canon
				continue
			}
			if strings.HasSuffix(prev, ".bn.running_var") {
				mapping[strings.TrimSuffix(prev, "running_var")+"num_batches_tracked"] = k
			}
		}
		renamed := tensor.NewStateDict()
		for _, p := range net.Params() {
			if orig, ok := mapping[p.Key]; ok {
				renamed.Set(p.Key, sd.Tensors[orig])
			}
		}
		return renamed, mapping, true
	}
	return nil, nil, false
}

func matchShapes(sd *tensor.StateDict, names []string, want []Param, mapping map[string]string) bool {
	if len(names) != len(want) {
		return false
	}
	for i, n := range names {
		if !sameShape(sd.Tensors[n].Shape, want[i].Shape) {
			return false
		}
		mapping[want[i].Key] = n
	}
	return true
}

// AuxEntries lists the checkpoint's own names of the aux heads' entries,
// in file order: the keys under aux1. and aux2., or, for a checkpoint bound
// by position, those that stand for them.
func AuxEntries(sd *tensor.StateDict, r *LoadReport) []string {
	aux := map[string]bool{}
	for canon, orig := range r.Renamed {
		if IsAuxKey(canon) {
			aux[orig] = true
		}
	}
	var out []string
	for _, k := range sd.Names {
		if (r.Renamed == nil && IsAuxKey(k)) || aux[k] {
			out = append(out, k)
		}
	}
	return out
}

package graph

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

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

// Options steer Load. The zero value detects the layout from the names
// (only an exact match with a preset is accepted) and loads strictly.
type Options struct {
	// NonStrict loads what matches and reports the rest, as PyTorch's
	// load_state_dict(strict=False); a shape mismatch still fails.
	NonStrict bool
	// Layout is the network's description; nil detects a preset.
	Layout  *Layout
	Classes int // 0: from the checkpoint
	Aux     AuxMode
	// TransformInput and LRN are not recorded in a state dict: they are
	// the user's word (or a whole-model file's).
	TransformInput bool
	LRN            bool
	// Model is a whole-model file's module tree: every hyperparameter its
	// modules record is taken over the layout's.
	Model Model
}

// Mismatch is a key whose shape differs between checkpoint and network.
type Mismatch struct {
	Key               string
	Checkpoint, Model []int
}

// LoadReport says what Load decided, what did not match, and what it
// assumed rather than read.
type LoadReport struct {
	Layout         *Layout
	LayoutDetected *Layout // nil when the names are no preset's
	LayoutEvidence string
	Classes        int
	InChannels     int
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
	// Assumed lists what the network takes from the layout or the
	// options rather than from the file.
	Assumed []string
	// Warnings are likely mistakes worth a word to the user.
	Warnings []string
	// FromModel lists what a whole-model file said otherwise than the
	// layout (the file's values were taken).
	FromModel []string
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
	class := "GoogLeNet"
	if r.Layout != nil && r.Layout.Class != "" {
		class = r.Layout.Class
	}
	return "Error(s) in loading state_dict for " + class + ":\n\t" + strings.Join(msgs, "\n\t")
}

func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = `"` + k + `"`
	}
	return strings.Join(q, ", ")
}

func torchSize(shape []int) string { return "torch.Size(" + tensor.ShapeString(shape) + ")" }

// keySet is a layout's state-dict keys with and without its aux heads.
type keySet struct {
	all, main map[string]bool
	auxPrefix []string
	net       *Net
}

func layoutKeys(l *Layout) keySet {
	if l.Source != "preset" {
		return computeKeys(l)
	}
	// presets never change: detection compares every state dict with each
	// of them, so their key sets are made once
	if ks, ok := presetKeys.Load(l); ok {
		return ks.(keySet)
	}
	ks := computeKeys(l)
	presetKeys.Store(l, ks)
	return ks
}

// presetKeys holds each preset's keySet (read-only once stored).
var presetKeys sync.Map

func computeKeys(l *Layout) keySet {
	n, err := l.build(l.Input.Channels, 10, len(l.Aux) > 0, Switches{})
	if err != nil {
		return keySet{}
	}
	ks := keySet{all: map[string]bool{}, main: map[string]bool{}, auxPrefix: n.AuxPrefixes(), net: n}
	for _, p := range n.Params() {
		ks.all[p.Key] = true
		if !isUnder(p.Key, ks.auxPrefix) {
			ks.main[p.Key] = true
		}
	}
	return ks
}

// matches reports whether the state dict's names are exactly the
// layout's (with or without its aux heads; num_batches_tracked may be
// absent, as in files from before torch 0.4.1).
func (ks keySet) matches(sd *tensor.StateDict) (ok, aux bool) {
	if ks.all == nil {
		return false, false
	}
	seen := 0
	for _, k := range sd.Names {
		if !ks.all[k] {
			return false, false
		}
		if !ks.main[k] {
			aux = true
		}
		seen++
	}
	want := ks.main
	if aux {
		want = ks.all
	}
	for k := range want {
		if _, ok := sd.Tensors[k]; !ok && !strings.HasSuffix(k, ".num_batches_tracked") {
			return false, false
		}
	}
	return seen > 0, aux
}

// overlap counts the state dict's names that the layout has.
func (ks keySet) overlap(sd *tensor.StateDict) int {
	n := 0
	for _, k := range sd.Names {
		if ks.all[k] {
			n++
		}
	}
	return n
}

// Detect finds the preset whose names are exactly the state dict's. When
// there is none, layout is nil and nearest is the preset that shares most
// of the names (nil when few are a GoogLeNet's); evidence says which.
func Detect(sd *tensor.StateDict) (layout, nearest *Layout, evidence string) {
	best, bestN := (*Layout)(nil), -1
	for _, l := range presets {
		ks := layoutKeys(l)
		if ok, _ := ks.matches(sd); ok {
			return l, l, fmt.Sprintf("every key is the %s layout's", l.Name)
		}
		if n := ks.overlap(sd); n > bestN {
			best, bestN = l, n
		}
	}
	if sd.Len() == 0 {
		return nil, nil, "the state dict is empty"
	}
	if bestN*2 < sd.Len() {
		for _, l := range presets {
			if _, _, ok := matchByPosition(sd, Options{Layout: l}); ok {
				return nil, nil, fmt.Sprintf("its tensors have the shapes of the %s layout's, in order, but its modules are named otherwise (keys like %s)",
					l.Name, sampleKeys(sd.Names, 3))
			}
		}
		return nil, nil, fmt.Sprintf("not a GoogLeNet of a known layout: keys like %s", sampleKeys(sd.Names, 3))
	}
	ks := layoutKeys(best)
	var foreign []string
	for _, k := range sd.Names {
		if !ks.all[k] {
			foreign = append(foreign, k)
		}
	}
	return nil, best, fmt.Sprintf("the names are close to the %s layout's but not the same (%d of %d keys are not its own: %s)",
		best.Name, len(foreign), sd.Len(), sampleKeys(foreign, 3))
}

// sampleKeys names the first few keys and how many more there are.
func sampleKeys(keys []string, n int) string {
	if len(keys) <= n {
		return strings.Join(keys, ", ")
	}
	return strings.Join(keys[:n], ", ") + fmt.Sprintf(" and %d more", len(keys)-n)
}

// ErrUnknownLayout is matched (errors.Is) by every refusal of a state
// dict whose names are no preset's when no layout was named.
var ErrUnknownLayout = errors.New("unknown GoogLeNet layout")

// UnknownLayoutError says why gnconv does not guess a layout.
type UnknownLayoutError struct {
	// Evidence says what the names are: another network's, or close to
	// a preset's.
	Evidence string
}

func (e *UnknownLayoutError) Is(target error) bool { return target == ErrUnknownLayout }

func (e *UnknownLayoutError) Error() string {
	presets := strings.Join(PresetNames(), ", ")
	if strings.HasPrefix(e.Evidence, "not a GoogLeNet") || strings.HasPrefix(e.Evidence, "the state dict is empty") {
		return fmt.Sprintf("%s. If it is a GoogLeNet named otherwise, name its layout with --layout (a preset: %s; or a layout file, see docs/layouts.md)", e.Evidence, presets)
	}
	return fmt.Sprintf("%s. A state dict does not record pool padding or ceil_mode, BatchNorm eps, transform_input or LRN, "+
		"so gnconv does not guess them: name the layout with --layout (a preset: %s; or a layout file, see docs/layouts.md), "+
		"or convert the whole-model file (torch.save(model)), and check the result against PyTorch with --expect", e.Evidence, presets)
}

func unknownLayoutError(evidence string) error { return &UnknownLayoutError{Evidence: evidence} }

// Load binds a state dict to a GoogLeNet. On failure it returns the
// report with a *LoadError (or another error); on success the network and
// the report.
func Load(sd *tensor.StateDict, opts Options) (*Net, *LoadReport, error) {
	detected, nearest, evidence := Detect(sd)
	named := opts.Layout != nil
	if !named {
		switch {
		case detected != nil:
			opts.Layout = detected
		case nearest != nil && !opts.NonStrict:
			// strict loading onto the nearest preset can only fail, and
			// its report in PyTorch's words says what differs
			opts.Layout = nearest
		default:
			return nil, &LoadReport{Strict: !opts.NonStrict, LayoutEvidence: evidence}, unknownLayoutError(evidence)
		}
	}
	net, r, err := loadNamed(sd, opts)
	if r != nil {
		r.LayoutDetected, r.LayoutEvidence = detected, evidence
		if named && detected != opts.Layout {
			r.LayoutEvidence = "named by --layout; " + evidence
		}
	}
	if err == nil && !named && detected == nil {
		return nil, r, unknownLayoutError(evidence) // not reached: the names differ, so strict loading fails
	}
	if err == nil || !named || layoutKeys(opts.Layout).overlap(sd)*2 >= sd.Len() {
		if err == nil {
			if opts.Model == nil {
				r.Assumed = append(r.Assumed, assumptions(net, false)...)
			}
			r.Warnings = append(r.Warnings, warnings(net, r, opts)...)
		} else if le, ok := err.(*LoadError); ok {
			le.Hint = hint(r)
			if !named && detected == nil {
				le.Hint = strings.TrimSpace(le.Hint + "\n" + strings.ToUpper(evidence[:1]) + evidence[1:] + "; name the layout with --layout if it is another.")
			}
		}
		return net, r, err
	}
	// Most names are not the layout's: the user named the layout, so the
	// tensors may be bound by position, in order and by shape; every
	// hyperparameter is then the layout's word, not the file's.
	renamed, mapping, ok := matchByPosition(sd, opts)
	if !ok {
		return net, r, err
	}
	net2, r2, err2 := loadNamed(renamed, opts)
	if err2 != nil {
		return net, r, err
	}
	r2.Renamed = mapping
	r2.LayoutDetected = detected
	r2.LayoutEvidence = "named by --layout; the checkpoint's keys bound by position and shape (its modules are named otherwise)"
	r2.Assumed = append(r2.Assumed, assumptions(net2, true)...)
	r2.Warnings = warnings(net2, r2, opts)
	return net2, r2, nil
}

// assumptions lists what a network built from a state dict takes on the
// layout's or the options' word.
func assumptions(n *Net, byPosition bool) []string {
	var a []string
	if byPosition {
		a = append(a, fmt.Sprintf("the checkpoint's tensors were bound by position onto the %s layout: its module names say nothing of this network", n.Layout.Name))
	}
	a = append(a, fmt.Sprintf("pool padding, ceil_mode, count_include_pad, BatchNorm eps and the order of layers: the %s layout's (%s)", n.Layout.Name, n.Layout.Source))
	a = append(a, fmt.Sprintf("transform_input=%v", n.TransformInput))
	if n.Layout.HasSwitch("lrn") {
		a = append(a, fmt.Sprintf("lrn=%v", n.Switches.LRN))
	}
	return a
}

// warnings flags likely mistakes: torchvision's pretrained weights expect
// transform_input.
func warnings(n *Net, r *LoadReport, opts Options) []string {
	var w []string
	if n.Layout.Name == "torchvision" && n.Classes == 1000 && !r.AuxInFile && !n.TransformInput && opts.Model == nil {
		w = append(w, "a 1000-class torchvision GoogLeNet without aux heads is what torchvision's pretrained weights look like, "+
			"and they expect transform_input=True: pass --transform-input if these are those weights (a state dict cannot say)")
	}
	return w
}

func loadNamed(sd *tensor.StateDict, opts Options) (*Net, *LoadReport, error) {
	l := opts.Layout
	r := &LoadReport{Strict: !opts.NonStrict, Layout: l}
	ks := layoutKeys(l)
	if ks.net == nil {
		return nil, r, fmt.Errorf("the %s layout does not build", l.Name)
	}
	for _, k := range sd.Names {
		if isUnder(k, ks.auxPrefix) {
			r.AuxInFile = true
		}
	}
	// class count from the last linear layer's weight, input channels
	// from the first convolution's, as the checkpoint holds them
	r.Classes = opts.Classes
	params := ks.net.Params()
	if r.Classes == 0 {
		// the body's last layer is the classifier; an aux head's last
		// layer stands in when a non-strict file lacks it
		var keys []string
		keys = append(keys, lastLinear(ks.net.Body).Name+".weight")
		for _, a := range ks.net.Aux {
			keys = append(keys, lastLinear(a.Layers).Name+".weight")
		}
		for _, k := range keys {
			if t, ok := sd.Tensors[k]; ok && len(t.Shape) == 2 && t.Shape[0] > 0 {
				r.Classes = t.Shape[0]
				break
			}
		}
	}
	if r.Classes <= 0 {
		return nil, r, fmt.Errorf("cannot tell the class count: the checkpoint has no weight for the %s layout's last linear layer; name it with --classes", l.Name)
	}
	r.InChannels = l.Input.Channels
	if len(params) > 0 {
		if t, ok := sd.Tensors[params[0].Key]; ok && len(t.Shape) == 4 && t.Shape[1] > 0 && t.Shape[1] <= maxChannels && !(opts.TransformInput || l.TransformInput) {
			r.InChannels = t.Shape[1]
		}
	}
	switch opts.Aux {
	case AuxOn:
		r.Aux = true
	case AuxOff:
		r.Aux = false
	default:
		r.Aux = r.AuxInFile
	}
	if r.Aux && len(l.Aux) == 0 {
		return nil, r, fmt.Errorf("the %s layout has no aux heads", l.Name)
	}
	sw := Switches{LRN: opts.LRN}
	if opts.Model != nil {
		sw = switchesFromModel(l, opts.Model)
		if opts.LRN && !sw.LRN {
			r.Warnings = append(r.Warnings, "--lrn was given, but the pickled model has no LRN module where the layout puts one: the model is followed")
		}
	}
	net, err := l.build(r.InChannels, r.Classes, r.Aux, sw)
	if err != nil {
		return nil, r, err
	}
	if opts.LRN && !l.HasSwitch("lrn") {
		return nil, r, fmt.Errorf("the %s layout has no LRN layers to switch on", l.Name)
	}
	net.TransformInput = l.TransformInput || opts.TransformInput
	var unrecorded []string
	if opts.Model != nil {
		if r.FromModel, unrecorded, err = applyModel(net, opts.Model); err != nil {
			return nil, r, err
		}
		if extra := unplacedModules(net, opts.Model); len(extra) > 0 {
			return nil, r, fmt.Errorf("the pickled model has modules the %s layout does not place, so the converted network would leave out what they compute: %s; describe the network in a layout file (docs/layouts.md)",
				l.Name, sampleKeys(extra, 4))
		}
		if opts.TransformInput && !net.TransformInput {
			r.Warnings = append(r.Warnings, "--transform-input was given, but the pickled model has transform_input=False: the model's value is used")
		}
		r.Assumed = append(r.Assumed, fmt.Sprintf("the order of layers and the functional calls of the forward code (ReLU, concatenation, flatten): the %s layout's; a whole-model file records modules, not code", l.Name))
		if len(unrecorded) > 0 {
			r.Assumed = append(r.Assumed, fmt.Sprintf("%s: the %s layout's (functional calls in the model, not modules)", sampleKeys(unrecorded, 4), l.Name))
		}
	}
	if net.TransformInput && net.InChannels != 3 {
		return nil, r, fmt.Errorf("transform_input needs a 3-channel input, the network has %d", net.InChannels)
	}

	params = net.Params()
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
		return nil, r, &LoadError{Report: r}
	}
	return net, r, nil
}

// lastLinear is the classifier that ends a list of layers.
func lastLinear(layers []*Layer) *Linear { return layers[len(layers)-1].Linear }

// hint explains the usual causes of a failed load in plain words.
func hint(r *LoadReport) string {
	var h []string
	if r.LayoutDetected != nil && r.LayoutDetected != r.Layout {
		h = append(h, fmt.Sprintf("The checkpoint holds the %s layout (%s), not the %s layout that was asked for; drop --layout or pass --layout %s.",
			r.LayoutDetected, r.LayoutDetected.Summary(), r.Layout, r.LayoutDetected))
	}
	for _, m := range r.Mismatched {
		if len(m.Checkpoint) == 2 && len(m.Model) == 2 && m.Model[0] == r.Classes && m.Checkpoint[0] != r.Classes && m.Checkpoint[1] == m.Model[1] {
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

func isBatchesTracked(name string, t *tensor.Tensor) bool {
	return strings.HasSuffix(name, "num_batches_tracked") || (t.DType == tensor.Int64 && len(t.Shape) == 0)
}

// isAuxName tells a foreign checkpoint's aux-head tensors by their names.
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
	l := opts.Layout
	inC := l.Input.Channels
	if w := sd.Tensors[main[0]]; len(w.Shape) == 4 && w.Shape[1] > 0 && w.Shape[1] <= maxChannels {
		inC = w.Shape[1]
	}
	net, err := l.build(inC, classes, len(aux) > 0, Switches{LRN: opts.LRN})
	if err != nil {
		return nil, nil, false
	}
	auxPrefix := net.AuxPrefixes()
	var wantMain, wantAux []Param
	for _, p := range net.Params() {
		if p.Dst == nil {
			continue
		}
		if isUnder(p.Key, auxPrefix) {
			wantAux = append(wantAux, p)
		} else {
			wantMain = append(wantMain, p)
		}
	}
	mapping := map[string]string{}
	if !matchShapes(sd, main, wantMain, mapping) || !matchShapes(sd, aux, wantAux, mapping) {
		return nil, nil, false
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
		if strings.HasSuffix(prev, ".running_var") {
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
// in file order: the keys under the layout's aux heads, or, for a
// checkpoint bound by position, those that stand for them.
func AuxEntries(sd *tensor.StateDict, r *LoadReport) []string {
	var prefixes []string
	for _, a := range r.Layout.Aux {
		prefixes = append(prefixes, r.Layout.expand(a).Name+".")
	}
	aux := map[string]bool{}
	for canon, orig := range r.Renamed {
		if isUnder(canon, prefixes) {
			aux[orig] = true
		}
	}
	var out []string
	for _, k := range sd.Names {
		if (r.Renamed == nil && isUnder(k, prefixes)) || aux[k] {
			out = append(out, k)
		}
	}
	return out
}

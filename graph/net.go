package graph

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gnconv/gnconv/internal/kernels"
)

// Bounds on what a layout may describe: far above any GoogLeNet, low
// enough that checked products of them stay small.
const (
	maxChannels = 1 << 16
	maxSpatial  = 1 << 15
	maxLayers   = 4096
	maxKernel   = 1 << 10
)

// Kind is what a layer does.
type Kind int

const (
	KindConv Kind = iota + 1
	KindMaxPool
	KindAvgPool
	KindAdaptiveAvgPool
	KindLRN
	KindInception
	KindFlatten
	KindDropout
	KindLinear
)

var kindNames = map[string]Kind{
	"conv": KindConv, "maxpool": KindMaxPool, "avgpool": KindAvgPool, "adaptive_avgpool": KindAdaptiveAvgPool,
	"lrn": KindLRN, "inception": KindInception, "flatten": KindFlatten, "dropout": KindDropout, "linear": KindLinear,
}

func (k Kind) String() string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "?"
}

// Switches are the choices a state dict cannot record that a layout may
// leave open (layers marked "when").
type Switches struct {
	LRN bool
}

func (s Switches) on(name string) (bool, error) {
	switch name {
	case "":
		return true, nil
	case "lrn":
		return s.LRN, nil
	}
	return false, fmt.Errorf("unknown switch %q (known: lrn)", name)
}

// Layer is one step of the network, with its hyperparameters and, once
// bound, its weights. The network is plain data: every pass (binding,
// shape checks, the reference forward pass, the ONNX emitter, inspect)
// walks the same list.
type Layer struct {
	Kind Kind
	// Name is the module path ("inception3a.branch2.1", "maxpool1"),
	// used for node names and reports; it may repeat (a pool module used
	// twice).
	Name     string
	Conv     *Conv
	Pool     *Pool
	LRN      *LRN
	Linear   *Linear
	Branches [][]*Layer // KindInception: concatenated along channels
}

// BatchNorm holds a BatchNorm2d's parameters and running statistics.
type BatchNorm struct {
	Module                  string // its module path, for its state-dict keys
	Weight, Bias, Mean, Var []float32
	Eps                     float32
}

// Conv is a conv block: a convolution with or without bias, an optional
// batch norm, an optional ReLU.
type Conv struct {
	Name      string // the block: "inception3a.branch2.1"
	Module    string // the Conv2d: "inception3a.branch2.1.conv"
	In, Out   int
	K, Stride [2]int
	Pad       [2]int
	Weight    []float32 // Out×In×K[0]×K[1]
	HasBias   bool
	Bias      []float32
	BN        *BatchNorm
	ReLU      bool
	packOnce  sync.Once
	packed    *kernels.PackedMatrix
	ep        kernels.Epilogue
}

// Pool is a max, average or adaptive average pooling with PyTorch's
// parameters.
type Pool struct {
	Max             bool
	Adaptive        bool
	K, Stride, Pad  [2]int
	Out             [2]int // adaptive: the output size
	Ceil            bool
	CountIncludePad bool
}

// LRN is local response normalisation across channels.
type LRN struct {
	Size              int
	Alpha, Beta, Bias float32
}

// Linear is a fully connected layer, y = x·Wᵀ + b, optionally followed by
// ReLU.
type Linear struct {
	Name    string
	In, Out int
	Weight  []float32 // Out×In
	Bias    []float32
	ReLU    bool
}

// AuxHead is an auxiliary classifier: it reads the output of Body[After].
type AuxHead struct {
	Name  string
	After int
	// RegisterAfter is the body layer after which the head's parameters
	// come in the state dict (module registration order).
	RegisterAfter int
	Layers        []*Layer
}

// Net is a GoogLeNet with its weights.
type Net struct {
	Layout     *Layout
	Classes    int
	InChannels int
	// Size is the layout's input size, which linear layers' inputs were
	// sized for.
	Size [2]int
	// TransformInput applies torchvision's input re-normalisation first.
	TransformInput bool
	Switches       Switches
	Body           []*Layer
	Aux            []*AuxHead // nil when the network has no aux heads

	acts *kernels.BufferSets // activations, recycled from pass to pass, per share of the batch
}

// HasAux reports whether the network has aux heads.
func (n *Net) HasAux() bool { return len(n.Aux) > 0 }

// WithoutAux returns a copy of the network without its aux heads (the
// deploy network, aux_logits=False). Weights are shared, not copied.
func (n *Net) WithoutAux() *Net {
	c := *n
	c.Aux = nil
	return &c
}

// OutputNames are the network's outputs in order: logits, then each aux
// head's.
func (n *Net) OutputNames(withAux bool) []string {
	names := []string{"logits"}
	if withAux {
		for _, a := range n.Aux {
			names = append(names, a.Name)
		}
	}
	return names
}

// Shape is an activation's shape without the batch: C×H×W, or C features
// once flattened (H = W = 1).
type Shape struct {
	C, H, W int
	Flat    bool
}

// builder turns a layout's layer specs into layers.
type builder struct {
	l       *Layout
	sw      Switches
	classes int
	count   int
}

// build makes the network of a layout for an input of inChannels and a
// class count, with or without aux heads, without weights.
func (l *Layout) build(inChannels, classes int, aux bool, sw Switches) (*Net, error) {
	if inChannels <= 0 || inChannels > maxChannels {
		return nil, fmt.Errorf("input channels %d out of range", inChannels)
	}
	if classes <= 0 || classes > 1<<24 {
		return nil, fmt.Errorf("class count out of range")
	}
	b := &builder{l: l, sw: sw, classes: classes}
	n := &Net{Layout: l, Classes: classes, InChannels: inChannels, Size: l.Input.Size,
		TransformInput: l.TransformInput, Switches: sw, acts: &kernels.BufferSets{}}
	s := Shape{C: inChannels, H: l.Input.Size[0], W: l.Input.Size[1]}
	at := []Shape{}
	var err error
	n.Body, s, err = b.layers(l.Layers, "", nil, s, &at)
	if err != nil {
		return nil, err
	}
	last := n.Body[len(n.Body)-1]
	if last.Kind != KindLinear || last.Linear.Out != classes {
		return nil, fmt.Errorf("the layers must end in a linear layer with \"out\": \"classes\"")
	}
	if !s.Flat {
		return nil, fmt.Errorf("the layers must end flattened")
	}
	if !aux {
		return n, nil
	}
	for _, spec := range l.Aux {
		spec = l.expand(spec)
		if spec.Op != "aux" && spec.Op != "" {
			return nil, fmt.Errorf("aux entry %q: op must be \"aux\"", spec.Name)
		}
		if spec.Name == "" || spec.Name == "logits" {
			return nil, fmt.Errorf("an aux head needs a name other than logits")
		}
		h := &AuxHead{Name: spec.Name, After: -1, RegisterAfter: -1}
		for i, layer := range n.Body {
			if layer.Name == spec.After {
				h.After = i
			}
			if layer.Name == spec.RegisterAfter {
				h.RegisterAfter = i
			}
		}
		if h.After < 0 {
			return nil, fmt.Errorf("aux head %s: \"after\" names no layer (%q)", spec.Name, spec.After)
		}
		if spec.RegisterAfter == "" {
			h.RegisterAfter = h.After
		} else if h.RegisterAfter < 0 {
			return nil, fmt.Errorf("aux head %s: \"register_after\" names no layer (%q)", spec.Name, spec.RegisterAfter)
		}
		as, err := shapeAfter(n.Body[:h.After+1], Shape{C: inChannels, H: l.Input.Size[0], W: l.Input.Size[1]})
		if err != nil {
			return nil, err
		}
		var end Shape
		h.Layers, end, err = b.layers(spec.Layers, spec.Name+".", spec.Channels, as, &at)
		if err != nil {
			return nil, fmt.Errorf("aux head %s: %w", spec.Name, err)
		}
		if len(h.Layers) == 0 || h.Layers[len(h.Layers)-1].Kind != KindLinear || h.Layers[len(h.Layers)-1].Linear.Out != classes || !end.Flat {
			return nil, fmt.Errorf("aux head %s must end in a linear layer with \"out\": \"classes\"", spec.Name)
		}
		n.Aux = append(n.Aux, h)
	}
	return n, nil
}

// layers builds a list of layer specs under a name prefix, tracking the
// shape at the layout's input size.
func (b *builder) layers(specs []LayerSpec, prefix string, syms map[string]int, s Shape, at *[]Shape) ([]*Layer, Shape, error) {
	var out []*Layer
	for _, spec := range specs {
		if _, ok := b.l.Templates[spec.Template]; spec.Template != "" && !ok {
			return nil, s, fmt.Errorf("%s%s: unknown template %q", prefix, spec.Name, spec.Template)
		}
		spec = b.l.expand(spec)
		on, err := b.sw.on(spec.When)
		if err != nil {
			return nil, s, err
		}
		if !on {
			continue
		}
		if b.count++; b.count > maxLayers {
			return nil, s, fmt.Errorf("more than %d layers", maxLayers)
		}
		layer, next, err := b.layer(spec, prefix, syms, s, at)
		if err != nil {
			name := spec.Name
			if name == "" {
				name = spec.Op
			}
			return nil, s, fmt.Errorf("%s%s: %w", prefix, name, err)
		}
		out = append(out, layer)
		s = next
	}
	return out, s, nil
}

func (b *builder) sym(v Sym, syms map[string]int) (int, error) {
	n := v.N
	if v.Name != "" {
		var ok bool
		if v.Name == "classes" {
			n, ok = b.classes, true
		} else {
			n, ok = syms[v.Name]
		}
		if !ok {
			return 0, fmt.Errorf("unknown channel name %q", v.Name)
		}
	}
	if n <= 0 || n > maxChannels && v.Name != "classes" {
		return 0, fmt.Errorf("channel count out of range (1 to %d)", maxChannels)
	}
	return n, nil
}

func positive(what string, p Pair, max int) error {
	if p[0] <= 0 || p[1] <= 0 || p[0] > max || p[1] > max {
		return fmt.Errorf("%s must be 1 to %d", what, max)
	}
	return nil
}

func (b *builder) layer(spec LayerSpec, prefix string, syms map[string]int, s Shape, at *[]Shape) (*Layer, Shape, error) {
	kind, ok := kindNames[spec.Op]
	if !ok {
		return nil, s, fmt.Errorf("unknown op %q", spec.Op)
	}
	layer := &Layer{Kind: kind}
	if spec.Name != "" {
		layer.Name = prefix + spec.Name
	}
	if s.Flat && kind != KindLinear && kind != KindDropout && kind != KindFlatten {
		return nil, s, fmt.Errorf("a %s layer after flatten", spec.Op)
	}
	switch kind {
	case KindConv:
		if spec.Name == "" {
			return nil, s, fmt.Errorf("a conv layer needs a name")
		}
		out, err := b.sym(spec.Out, syms)
		if err != nil {
			return nil, s, err
		}
		if err := positive("kernel", spec.Kernel, maxKernel); err != nil {
			return nil, s, err
		}
		stride := spec.Stride
		if stride.IsZero() {
			stride = Pair{1, 1}
		}
		if err := positive("stride", stride, maxKernel); err != nil {
			return nil, s, err
		}
		if spec.Padding[0] < 0 || spec.Padding[1] < 0 || spec.Padding[0] > maxKernel || spec.Padding[1] > maxKernel {
			return nil, s, fmt.Errorf("padding must be 0 to %d", maxKernel)
		}
		c := &Conv{Name: layer.Name, Module: prefix + spec.Conv, In: s.C, Out: out, K: spec.Kernel, Stride: stride, Pad: spec.Padding}
		if spec.Conv == "" {
			c.Module = layer.Name
		}
		c.HasBias = boolOr(spec.Bias, b.l.Defaults.Bias, false)
		c.ReLU = boolOr(spec.ReLU, b.l.Defaults.ReLU, true)
		if spec.BN != "" {
			eps := 1e-5 // BatchNorm2d's default
			if spec.BNEps != nil {
				eps = *spec.BNEps
			} else if b.l.Defaults.BNEps != nil {
				eps = *b.l.Defaults.BNEps
			}
			if !(eps > 0 && eps < 1) {
				return nil, s, fmt.Errorf("bn_eps must be between 0 and 1")
			}
			c.BN = &BatchNorm{Module: prefix + spec.BN, Eps: float32(eps)}
		}
		layer.Conv = c
	case KindMaxPool, KindAvgPool:
		if err := positive("kernel", spec.Kernel, maxKernel); err != nil {
			return nil, s, err
		}
		p := &Pool{Max: kind == KindMaxPool, K: spec.Kernel, Stride: spec.Stride, Pad: spec.Padding, Ceil: spec.CeilMode}
		if p.Stride == [2]int{} {
			p.Stride = p.K // PyTorch's default
		}
		if err := positive("stride", p.Stride, maxKernel); err != nil {
			return nil, s, err
		}
		for i := range p.Pad {
			if p.Pad[i] < 0 || 2*p.Pad[i] > p.K[i] {
				return nil, s, fmt.Errorf("padding must be at most half the kernel (as PyTorch requires)")
			}
		}
		if kind == KindAvgPool {
			p.CountIncludePad = boolOr(spec.CountIncludePad, nil, true) // AvgPool2d's default
		}
		layer.Pool = p
	case KindAdaptiveAvgPool:
		if err := positive("size", spec.Size, maxSpatial); err != nil {
			return nil, s, err
		}
		layer.Pool = &Pool{Adaptive: true, Out: spec.Size}
	case KindLRN:
		if spec.LRNSize <= 0 || spec.LRNSize > maxKernel || spec.Beta < 0 {
			return nil, s, fmt.Errorf("lrn needs lrn_size 1 to %d, alpha, beta >= 0 and k", maxKernel)
		}
		layer.LRN = &LRN{Size: spec.LRNSize, Alpha: float32(spec.Alpha), Beta: float32(spec.Beta), Bias: float32(spec.K)}
	case KindInception:
		if spec.Name == "" || len(spec.Branches) < 1 {
			return nil, s, fmt.Errorf("an inception unit needs a name and branches")
		}
		for i, br := range spec.Branches {
			layers, _, err := b.layers(br, layer.Name+".", spec.Channels, s, at)
			if err != nil {
				return nil, s, fmt.Errorf("branch %d: %w", i+1, err)
			}
			if len(layers) == 0 {
				return nil, s, fmt.Errorf("branch %d is empty", i+1)
			}
			layer.Branches = append(layer.Branches, layers)
		}
	case KindLinear:
		if spec.Name == "" {
			return nil, s, fmt.Errorf("a linear layer needs a name")
		}
		out, err := b.sym(spec.Out, syms)
		if err != nil {
			return nil, s, err
		}
		if !s.Flat {
			return nil, s, fmt.Errorf("a linear layer before flatten")
		}
		in := s.C
		if spec.In != 0 {
			in = spec.In
		}
		layer.Linear = &Linear{Name: layer.Name, In: in, Out: out, ReLU: boolOr(spec.ReLU, nil, false)}
	case KindFlatten, KindDropout:
	}
	next, err := layer.OutShape(s)
	if err != nil {
		return nil, s, err
	}
	return layer, next, nil
}

func boolOr(v, def *bool, fallback bool) bool {
	if v != nil {
		return *v
	}
	if def != nil {
		return *def
	}
	return fallback
}

// checkedMul multiplies sizes, failing past limit.
func checkedMul(limit int, v ...int) (int, bool) {
	p := 1
	for _, x := range v {
		if x < 0 || (x != 0 && p > limit/x) {
			return 0, false
		}
		p *= x
	}
	return p, true
}

// OutShape is the shape a layer makes of its input's, with every
// hyperparameter checked against it.
func (l *Layer) OutShape(s Shape) (Shape, error) {
	switch l.Kind {
	case KindConv:
		c := l.Conv
		if s.C != c.In {
			return s, fmt.Errorf("%s reads %d channels, its input has %d", c.Name, c.In, s.C)
		}
		oh, ow := convParams(c, s.H, s.W).OutSize()
		if oh < 1 || ow < 1 {
			return s, fmt.Errorf("the %dx%d map is too small for %s's %dx%d kernel", s.H, s.W, c.Name, c.K[0], c.K[1])
		}
		return Shape{C: c.Out, H: oh, W: ow}, nil
	case KindMaxPool, KindAvgPool:
		p := l.Pool
		oh := kernels.PoolOutSize(s.H, p.K[0], p.Stride[0], p.Pad[0], p.Pad[0], p.Ceil)
		ow := kernels.PoolOutSize(s.W, p.K[1], p.Stride[1], p.Pad[1], p.Pad[1], p.Ceil)
		if s.H+2*p.Pad[0] < p.K[0] || s.W+2*p.Pad[1] < p.K[1] || oh < 1 || ow < 1 {
			return s, fmt.Errorf("the %dx%d map is too small for the %dx%d pool %s", s.H, s.W, p.K[0], p.K[1], l.Name)
		}
		return Shape{C: s.C, H: oh, W: ow}, nil
	case KindAdaptiveAvgPool:
		if s.H < 1 || s.W < 1 {
			return s, fmt.Errorf("an empty map reaches %s", l.Name)
		}
		return Shape{C: s.C, H: l.Pool.Out[0], W: l.Pool.Out[1]}, nil
	case KindInception:
		total := 0
		var oh, ow int
		for i, br := range l.Branches {
			o, err := shapeAfter(br, s)
			if err != nil {
				return s, err
			}
			if i == 0 {
				oh, ow = o.H, o.W
			} else if o.H != oh || o.W != ow {
				return s, fmt.Errorf("%s's branches make maps of different sizes (%dx%d and %dx%d)", l.Name, oh, ow, o.H, o.W)
			}
			if o.Flat {
				return s, fmt.Errorf("%s: a branch flattens", l.Name)
			}
			total += o.C
		}
		if total > maxChannels {
			return s, fmt.Errorf("%s has more than %d channels", l.Name, maxChannels)
		}
		return Shape{C: total, H: oh, W: ow}, nil
	case KindFlatten:
		f, ok := checkedMul(1<<28, s.C, s.H, s.W)
		if !ok {
			return s, fmt.Errorf("too many features to flatten")
		}
		return Shape{C: f, H: 1, W: 1, Flat: true}, nil
	case KindLinear:
		if s.C != l.Linear.In {
			return s, fmt.Errorf("%s expects %d inputs, it gets %d", l.Linear.Name, l.Linear.In, s.C)
		}
		return Shape{C: l.Linear.Out, H: 1, W: 1, Flat: true}, nil
	}
	return s, nil // LRN, dropout
}

// shapeAfter walks a list of layers.
func shapeAfter(layers []*Layer, s Shape) (Shape, error) {
	for _, l := range layers {
		var err error
		if s, err = l.OutShape(s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func convParams(c *Conv, h, w int) kernels.ConvParams {
	return kernels.ConvParams{InC: c.In, H: h, W: w, OutC: c.Out, KH: c.K[0], KW: c.K[1],
		StrideH: c.Stride[0], StrideW: c.Stride[1], PadT: c.Pad[0], PadL: c.Pad[1], PadB: c.Pad[0], PadR: c.Pad[1]}
}

// CheckInput reports whether an H×W input can pass through the network:
// every pool and kernel fits, every linear layer gets the inputs it was
// made for.
func (n *Net) CheckInput(h, w int) error {
	if h <= 0 || w <= 0 || h > maxSpatial || w > maxSpatial {
		return fmt.Errorf("input %dx%d is out of range (1 to %d)", h, w, maxSpatial)
	}
	in := Shape{C: n.InChannels, H: h, W: w}
	s := in
	for i, l := range n.Body {
		var err error
		if s, err = l.OutShape(s); err != nil {
			return n.sizeError(h, w, err)
		}
		for _, a := range n.Aux {
			if a.After != i {
				continue
			}
			if _, err := shapeAfter(a.Layers, s); err != nil {
				return fmt.Errorf("input %dx%d does not fit the aux head %s: %v (use the layout's %dx%d input, or drop the aux heads)",
					h, w, a.Name, err, n.Size[0], n.Size[1])
			}
		}
	}
	return nil
}

func (n *Net) sizeError(h, w int, err error) error {
	if h < n.Size[0] || w < n.Size[1] {
		return fmt.Errorf("input %dx%d is too small for the %s layout: %v", h, w, n.Layout, err)
	}
	return fmt.Errorf("input %dx%d does not fit the %s layout (made for %dx%d): %v", h, w, n.Layout, n.Size[0], n.Size[1], err)
}

// Param is one state-dict entry of the network: its key, its shape and
// where its values go.
type Param struct {
	Key   string
	Shape []int
	Dst   *[]float32 // nil for num_batches_tracked, which is not used
}

// Params lists the network's state-dict entries in PyTorch's order
// (module registration order).
func (n *Net) Params() []Param {
	var ps []Param
	var walk func(layers []*Layer)
	walk = func(layers []*Layer) {
		for _, l := range layers {
			switch {
			case l.Conv != nil:
				c := l.Conv
				ps = append(ps, Param{c.Module + ".weight", []int{c.Out, c.In, c.K[0], c.K[1]}, &c.Weight})
				if c.HasBias {
					ps = append(ps, Param{c.Module + ".bias", []int{c.Out}, &c.Bias})
				}
				if bn := c.BN; bn != nil {
					b := bn.Module + "."
					ps = append(ps,
						Param{b + "weight", []int{c.Out}, &bn.Weight},
						Param{b + "bias", []int{c.Out}, &bn.Bias},
						Param{b + "running_mean", []int{c.Out}, &bn.Mean},
						Param{b + "running_var", []int{c.Out}, &bn.Var},
						Param{b + "num_batches_tracked", []int{}, nil})
				}
			case l.Linear != nil:
				ln := l.Linear
				ps = append(ps, Param{ln.Name + ".weight", []int{ln.Out, ln.In}, &ln.Weight}, Param{ln.Name + ".bias", []int{ln.Out}, &ln.Bias})
			case l.Kind == KindInception:
				for _, br := range l.Branches {
					walk(br)
				}
			}
		}
	}
	for i, l := range n.Body {
		walk([]*Layer{l})
		for _, a := range n.Aux {
			if a.RegisterAfter == i {
				walk(a.Layers)
			}
		}
	}
	return ps
}

// Convs lists every conv block, body first, then the aux heads'.
func (n *Net) Convs() []*Conv {
	var cs []*Conv
	var walk func([]*Layer)
	walk = func(layers []*Layer) {
		for _, l := range layers {
			if l.Conv != nil {
				cs = append(cs, l.Conv)
			}
			for _, br := range l.Branches {
				walk(br)
			}
		}
	}
	walk(n.Body)
	for _, a := range n.Aux {
		walk(a.Layers)
	}
	return cs
}

// AuxPrefixes are the module paths of the aux heads' parameters: what
// prune-aux removes.
func (n *Net) AuxPrefixes() []string {
	var out []string
	for _, a := range n.Aux {
		out = append(out, a.Name+".")
	}
	return out
}

// isUnder reports whether key belongs to one of the module prefixes.
func isUnder(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

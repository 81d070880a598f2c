// Package graph is GoogLeNet itself: the architecture table both layouts
// are built from, variant detection, strict and non-strict binding of a
// state dict, the reference forward pass and aux-head pruning.
package graph

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gnconv/gnconv/internal/kernels"

	"github.com/gnconv/gnconv/tensor"
)

// Layout is one of the two GoogLeNet layouts gnconv knows.
type Layout int

const (
	// LayoutAuto asks Load to detect the layout from the checkpoint.
	LayoutAuto Layout = iota
	// Tutorial is the classic Inception-v1 of the popular tutorials: conv
	// with bias + ReLU, no batch norm, a 5x5 branch3, AvgPool 5/3 aux heads.
	Tutorial
	// Torchvision is torchvision.models.googlenet: conv without bias +
	// BatchNorm (eps 1e-3) + ReLU, a 3x3 branch3, adaptive 4x4 aux pooling.
	Torchvision
)

func (l Layout) String() string {
	switch l {
	case Tutorial:
		return "tutorial"
	case Torchvision:
		return "torchvision"
	}
	return "auto"
}

// ParseLayout reads "tutorial", "torchvision" or "auto".
func ParseLayout(s string) (Layout, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return LayoutAuto, nil
	case "tutorial":
		return Tutorial, nil
	case "torchvision", "tv":
		return Torchvision, nil
	}
	return LayoutAuto, fmt.Errorf("unknown layout %q (want tutorial, torchvision or auto)", s)
}

// Describe says what tells the layout apart, for messages.
func (l Layout) Describe() string {
	switch l {
	case Tutorial:
		return "conv+bias+ReLU blocks, no batch norm, 5x5 branch3"
	case Torchvision:
		return "conv+BatchNorm blocks, 3x3 branch3"
	}
	return ""
}

// InceptionSpec is one row of the architecture table: the unit's name, its
// input channels and (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
type InceptionSpec struct {
	Name string
	In   int
	Ch   [6]int
}

// Out is the unit's output channel count (its four branches concatenated).
func (s InceptionSpec) Out() int { return s.Ch[0] + s.Ch[2] + s.Ch[4] + s.Ch[5] }

// Inceptions is the table of the nine Inception units, in network order.
var Inceptions = [9]InceptionSpec{
	{"inception3a", 192, [6]int{64, 96, 128, 16, 32, 32}},
	{"inception3b", 256, [6]int{128, 128, 192, 32, 96, 64}},
	{"inception4a", 480, [6]int{192, 96, 208, 16, 48, 64}},
	{"inception4b", 512, [6]int{160, 112, 224, 24, 64, 64}},
	{"inception4c", 512, [6]int{128, 128, 256, 24, 64, 64}},
	{"inception4d", 512, [6]int{112, 144, 288, 32, 64, 64}},
	{"inception4e", 528, [6]int{256, 160, 320, 32, 128, 128}},
	{"inception5a", 832, [6]int{256, 160, 320, 32, 128, 128}},
	{"inception5b", 832, [6]int{384, 192, 384, 48, 128, 128}},
}

// The aux heads read these units' outputs.
const (
	aux1After = 2 // inception4a, 512 channels
	aux2After = 5 // inception4d, 528 channels
)

// BatchNorm holds a BatchNorm2d's parameters and running statistics.
type BatchNorm struct {
	Weight, Bias, Mean, Var []float32
	Eps                     float32
}

// Conv is a conv block: a convolution, its bias or batch norm, then ReLU.
type Conv struct {
	Name                    string // module path: "inception3a.branch2.1"
	In, Out, K, Stride, Pad int
	Weight                  []float32 // Out×In×K×K
	Bias                    []float32 // tutorial layout
	BN                      *BatchNorm

	// the weights packed for the GEMM and the epilogue, made on first use
	packOnce sync.Once
	packed   *kernels.PackedMatrix
	ep       kernels.Epilogue
}

// Pool is a max or average pooling with PyTorch's parameters.
type Pool struct {
	Max             bool
	K, Stride, Pad  int
	Ceil            bool
	CountIncludePad bool
}

// Linear is a fully connected layer, y = x·Wᵀ + b.
type Linear struct {
	Name    string
	In, Out int
	Weight  []float32 // Out×In
	Bias    []float32
}

// Inception is one Inception unit.
type Inception struct {
	InceptionSpec
	Branch1 *Conv
	Branch2 [2]*Conv
	Branch3 [2]*Conv
	Pool    Pool // branch4's pool, before Branch4
	Branch4 *Conv
}

// Aux is an auxiliary classifier head.
type Aux struct {
	Name string
	In   int
	// Adaptive pools to 4x4 adaptively (torchvision); otherwise Pool
	// (AvgPool 5/3) is used (tutorial).
	Adaptive bool
	Pool     Pool
	Conv     *Conv
	FC1, FC2 *Linear
}

// Net is a GoogLeNet with its weights: plain data that the reference
// forward pass and the emitters walk.
type Net struct {
	Layout  Layout
	Classes int
	// TransformInput applies torchvision's input re-normalisation first.
	TransformInput bool
	// LRN inserts local response normalisation after pool1 and after conv3,
	// as the original Caffe network does.
	LRN bool

	Conv1        *Conv
	Pool1        Pool
	Conv2, Conv3 *Conv
	Pool2        Pool
	Inception    [9]*Inception
	Pool3, Pool4 Pool
	Aux1, Aux2   *Aux // nil when the network has no aux heads
	FC           *Linear

	acts *kernels.BufferSets // activations, recycled from pass to pass, per share of the batch
}

// LRN's parameters, as in the original network.
const (
	LRNSize  = 5
	LRNAlpha = 1e-4
	LRNBeta  = 0.75
	LRNBias  = 1.0
)

// BNEps is torchvision's BatchNorm2d epsilon.
const BNEps = 1e-3

// newNet builds the network of a layout, class count and aux choice,
// without weights.
func newNet(layout Layout, classes int, aux bool) *Net {
	bn := layout == Torchvision
	conv := func(name string, in, out, k, stride, pad int) *Conv {
		return &Conv{Name: name, In: in, Out: out, K: k, Stride: stride, Pad: pad}
	}
	stagePool := Pool{Max: true, K: 3, Stride: 2, Ceil: true}
	n := &Net{Layout: layout, Classes: classes, acts: &kernels.BufferSets{}}
	n.Conv1 = conv("conv1", 3, 64, 7, 2, 3)
	n.Pool1 = stagePool
	n.Conv2 = conv("conv2", 64, 64, 1, 1, 0)
	n.Conv3 = conv("conv3", 64, 192, 3, 1, 1)
	n.Pool2 = stagePool
	n.Pool3 = stagePool
	n.Pool4 = stagePool
	if layout == Torchvision {
		n.Pool4 = Pool{Max: true, K: 2, Stride: 2, Ceil: true}
	}
	k3 := 5
	if layout == Torchvision {
		k3 = 3 // torchvision's known port quirk, kept for its weights
	}
	for i, s := range Inceptions {
		u := &Inception{InceptionSpec: s}
		u.Branch1 = conv(s.Name+".branch1", s.In, s.Ch[0], 1, 1, 0)
		u.Branch2[0] = conv(s.Name+".branch2.0", s.In, s.Ch[1], 1, 1, 0)
		u.Branch2[1] = conv(s.Name+".branch2.1", s.Ch[1], s.Ch[2], 3, 1, 1)
		u.Branch3[0] = conv(s.Name+".branch3.0", s.In, s.Ch[3], 1, 1, 0)
		u.Branch3[1] = conv(s.Name+".branch3.1", s.Ch[3], s.Ch[4], k3, 1, k3/2)
		u.Pool = Pool{Max: true, K: 3, Stride: 1, Pad: 1, Ceil: true}
		u.Branch4 = conv(s.Name+".branch4.1", s.In, s.Ch[5], 1, 1, 0)
		n.Inception[i] = u
	}
	if aux {
		mk := func(name string, in int) *Aux {
			a := &Aux{Name: name, In: in, Adaptive: layout == Torchvision,
				Pool: Pool{K: 5, Stride: 3, CountIncludePad: true}}
			a.Conv = conv(name+".conv", in, 128, 1, 1, 0)
			a.FC1 = &Linear{Name: name + ".fc1", In: 2048, Out: 1024}
			a.FC2 = &Linear{Name: name + ".fc2", In: 1024, Out: classes}
			return a
		}
		n.Aux1 = mk("aux1", Inceptions[aux1After].Out())
		n.Aux2 = mk("aux2", Inceptions[aux2After].Out())
	}
	n.FC = &Linear{Name: "fc", In: 1024, Out: classes}
	if bn {
		n.eachConv(func(c *Conv) { c.BN = &BatchNorm{Eps: BNEps} })
	}
	return n
}

// eachConv calls f on every conv block in module order.
func (n *Net) eachConv(f func(*Conv)) {
	f(n.Conv1)
	f(n.Conv2)
	f(n.Conv3)
	for _, u := range n.Inception {
		f(u.Branch1)
		f(u.Branch2[0])
		f(u.Branch2[1])
		f(u.Branch3[0])
		f(u.Branch3[1])
		f(u.Branch4)
	}
	for _, a := range []*Aux{n.Aux1, n.Aux2} {
		if a != nil {
			f(a.Conv)
		}
	}
}

// HasAux reports whether the network has its aux heads.
func (n *Net) HasAux() bool { return n.Aux1 != nil }

// Param is one state-dict entry of the network: its key, its shape and
// where its values go.
type Param struct {
	Key   string
	Shape []int
	Dst   *[]float32 // nil for num_batches_tracked, which is not used
}

// Params lists the network's state-dict entries in PyTorch's order (module
// registration order: stem, Inception units, aux heads, classifier).
func (n *Net) Params() []Param {
	var ps []Param
	convParams := func(c *Conv) {
		p := c.Name + ".conv."
		ps = append(ps, Param{p + "weight", []int{c.Out, c.In, c.K, c.K}, &c.Weight})
		if c.BN == nil {
			ps = append(ps, Param{p + "bias", []int{c.Out}, &c.Bias})
			return
		}
		b := c.Name + ".bn."
		ps = append(ps,
			Param{b + "weight", []int{c.Out}, &c.BN.Weight},
			Param{b + "bias", []int{c.Out}, &c.BN.Bias},
			Param{b + "running_mean", []int{c.Out}, &c.BN.Mean},
			Param{b + "running_var", []int{c.Out}, &c.BN.Var},
			Param{b + "num_batches_tracked", []int{}, nil})
	}
	linear := func(l *Linear) {
		ps = append(ps, Param{l.Name + ".weight", []int{l.Out, l.In}, &l.Weight}, Param{l.Name + ".bias", []int{l.Out}, &l.Bias})
	}
	convParams(n.Conv1)
	convParams(n.Conv2)
	convParams(n.Conv3)
	for _, u := range n.Inception {
		for _, c := range []*Conv{u.Branch1, u.Branch2[0], u.Branch2[1], u.Branch3[0], u.Branch3[1], u.Branch4} {
			convParams(c)
		}
	}
	for _, a := range []*Aux{n.Aux1, n.Aux2} {
		if a != nil {
			convParams(a.Conv)
			linear(a.FC1)
			linear(a.FC2)
		}
	}
	linear(n.FC)
	return ps
}

// IsAuxKey reports whether a state-dict key belongs to an aux head.
func IsAuxKey(key string) bool {
	return strings.HasPrefix(key, "aux1.") || strings.HasPrefix(key, "aux2.")
}

// WithoutAux returns a copy of the network without its aux heads (the
// deploy network, aux_logits=False). Weights are shared, not copied.
func (n *Net) WithoutAux() *Net {
	c := *n
	c.Aux1, c.Aux2 = nil, nil
	return &c
}

// StripAux returns the state dict without the entries named, in file
// order (see AuxEntries), and the keys it removed.
func StripAux(sd *tensor.StateDict, drop []string) (kept *tensor.StateDict, removed []string) {
	dropSet := map[string]bool{}
	for _, k := range drop {
		dropSet[k] = true
	}
	kept = tensor.NewStateDict()
	for _, k := range sd.Names {
		if dropSet[k] {
			removed = append(removed, k)
			continue
		}
		kept.Set(k, sd.Tensors[k])
	}
	return kept, removed
}

package graph

import (
	"fmt"
	"math"
)

// ModelModule is what a whole-model file records of one module: its class
// and the attributes its constructor stored (kernel_size, stride, eps, …).
// convert's module records satisfy it.
type ModelModule interface {
	ShortClass() string
	Int(name string) (int, error)
	Ints(name string) ([2]int, error)
	Float(name string) (float64, error)
	Bool(name string) (bool, error)
	Attr(name string) (interface{}, bool)
}

// Model is a whole-model file's module tree: the network's modules by
// their dotted paths, as the state dict names them.
type Model interface {
	Root() ModelModule
	Find(path string) ModelModule // nil when there is no such module
	// Leaves lists the paths of the modules without children.
	Leaves() []string
}

// switchesFromModel decides the layout's switches by the model's modules:
// a switch is on when the model has a module where the layout puts a
// layer that depends on it.
func switchesFromModel(l *Layout, m Model) Switches {
	var sw Switches
	var walk func(prefix string, specs []LayerSpec)
	walk = func(prefix string, specs []LayerSpec) {
		for _, s := range specs {
			s = l.expand(s)
			if s.When == "lrn" && s.Name != "" && m.Find(prefix+s.Name) != nil {
				sw.LRN = true
			}
			for _, br := range s.Branches {
				walk(prefix+s.Name+".", br)
			}
			if s.Op == "aux" {
				walk(prefix+s.Name+".", s.Layers)
			}
		}
	}
	walk("", l.Layers)
	walk("", l.Aux)
	return sw
}

// harmlessLeaves are module classes that compute nothing in eval mode or
// that every layout places implicitly (a ReLU after a conv block).
var harmlessLeaves = map[string]bool{"ReLU": true, "Dropout": true, "Dropout2d": true, "Flatten": true, "Identity": true}

// unplacedModules lists the model's leaf modules that the network does
// not place: a module the layout knows nothing of would compute something
// the converted network leaves out.
func unplacedModules(n *Net, m Model) []string {
	placed := map[string]bool{}
	var walk func([]*Layer)
	walk = func(layers []*Layer) {
		for _, l := range layers {
			placed[l.Name] = true
			if l.Conv != nil {
				placed[l.Conv.Module] = true
				if l.Conv.BN != nil {
					placed[l.Conv.BN.Module] = true
				}
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
	var out []string
	for _, p := range m.Leaves() {
		if placed[p] {
			continue
		}
		if mod := m.Find(p); mod != nil && !harmlessLeaves[mod.ShortClass()] {
			out = append(out, fmt.Sprintf("%s (%s)", p, clip(mod.ShortClass())))
		}
	}
	return out
}

// applyModel takes every hyperparameter the model's modules record over
// the layout's: conv strides and padding, BatchNorm eps, pools' kernels,
// strides, padding, ceil_mode and count_include_pad, adaptive output
// sizes, LRN's constants, and torchvision's transform_input. It returns
// what differed from the layout and what the model could not say (layers
// that are functional calls in its forward code, not modules).
func applyModel(n *Net, m Model) (changed, unrecorded []string, err error) {
	var walk func([]*Layer) error
	walk = func(layers []*Layer) error {
		for _, l := range layers {
			var c []string
			var err error
			switch l.Kind {
			case KindConv:
				c, err = convFromModel(l.Conv, m)
			case KindMaxPool, KindAvgPool, KindAdaptiveAvgPool:
				mod := m.Find(l.Name)
				if l.Name == "" || mod == nil {
					unrecorded = append(unrecorded, fmt.Sprintf("%s %s", l.Kind, nameOr(l.Name)))
					continue
				}
				c, err = poolFromModel(l, mod)
			case KindLRN:
				mod := m.Find(l.Name)
				if l.Name == "" || mod == nil {
					unrecorded = append(unrecorded, "lrn "+nameOr(l.Name))
					continue
				}
				c, err = lrnFromModel(l, mod)
			case KindInception:
				for _, br := range l.Branches {
					if err := walk(br); err != nil {
						return err
					}
				}
			}
			if err != nil {
				return err
			}
			changed = append(changed, c...)
		}
		return nil
	}
	if err := walk(n.Body); err != nil {
		return nil, nil, err
	}
	for _, a := range n.Aux {
		if err := walk(a.Layers); err != nil {
			return nil, nil, err
		}
	}
	if root := m.Root(); root != nil {
		if _, ok := root.Attr("transform_input"); ok {
			t, err := root.Bool("transform_input")
			if err != nil {
				return nil, nil, err
			}
			n.TransformInput = t
		}
	}
	return changed, unrecorded, nil
}

func nameOr(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return name
}

// wantClass checks a module's class.
func wantClass(mod ModelModule, path string, classes ...string) error {
	for _, c := range classes {
		if mod.ShortClass() == c {
			return nil
		}
	}
	return fmt.Errorf("the pickled model's %s is a %s where the layout has a %s", path, clip(mod.ShortClass()), classes[0])
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// zeroOrOnes checks an attribute that must be 0 or (1, 1) for gnconv's
// kernels: dilation, groups.
func mustBe(mod ModelModule, path, attr string, want [2]int) error {
	if _, ok := mod.Attr(attr); !ok {
		return nil
	}
	v, err := mod.Ints(attr)
	if err != nil {
		return err
	}
	if v != want {
		return fmt.Errorf("%s has %s %v: gnconv's kernels support %v only", path, attr, v, want)
	}
	return nil
}

func convFromModel(c *Conv, m Model) ([]string, error) {
	mod := m.Find(c.Module)
	if mod == nil {
		return nil, fmt.Errorf("the pickled model has no module %s (the layout's convolution)", c.Module)
	}
	if err := wantClass(mod, c.Module, "Conv2d"); err != nil {
		return nil, err
	}
	if err := mustBe(mod, c.Module, "dilation", [2]int{1, 1}); err != nil {
		return nil, err
	}
	if g, err := mod.Int("groups"); err != nil || g != 1 {
		return nil, fmt.Errorf("%s: groups must be 1 (%v)", c.Module, err)
	}
	if pm, ok := mod.Attr("padding_mode"); ok && pm != "zeros" {
		return nil, fmt.Errorf("%s: only padding_mode='zeros' is supported", c.Module)
	}
	stride, err := mod.Ints("stride")
	if err != nil {
		return nil, err
	}
	pad, err := mod.Ints("padding")
	if err != nil {
		return nil, fmt.Errorf("%s: padding must be numbers (padding='same' and 'valid' are not supported): %v", c.Module, err)
	}
	var changed []string
	if stride != c.Stride || pad != c.Pad {
		changed = append(changed, fmt.Sprintf("%s stride %v padding %v (the layout: %v, %v)", c.Module, stride, pad, c.Stride, c.Pad))
	}
	if stride[0] <= 0 || stride[1] <= 0 || stride[0] > maxKernel || stride[1] > maxKernel || pad[0] < 0 || pad[1] < 0 || pad[0] > maxKernel || pad[1] > maxKernel {
		return nil, fmt.Errorf("%s: stride or padding out of range", c.Module)
	}
	c.Stride, c.Pad = stride, pad
	if c.BN == nil {
		return changed, nil
	}
	bn := m.Find(c.BN.Module)
	if bn == nil {
		return nil, fmt.Errorf("the pickled model has no module %s (the layout's batch norm)", c.BN.Module)
	}
	if err := wantClass(bn, c.BN.Module, "BatchNorm2d"); err != nil {
		return nil, err
	}
	for _, attr := range []string{"affine", "track_running_stats"} {
		if v, err := bn.Bool(attr); err == nil && !v {
			return nil, fmt.Errorf("%s: %s=False is not supported", c.BN.Module, attr)
		}
	}
	eps, err := bn.Float("eps")
	if err != nil {
		return nil, err
	}
	if !(eps > 0 && eps < 1) {
		return nil, fmt.Errorf("%s: eps out of range", c.BN.Module)
	}
	if float32(eps) != c.BN.Eps {
		changed = append(changed, fmt.Sprintf("%s eps %g (the layout: %g)", c.BN.Module, eps, c.BN.Eps))
	}
	c.BN.Eps = float32(eps)
	return changed, nil
}

func poolFromModel(l *Layer, mod ModelModule) ([]string, error) {
	before := *l.Pool
	p := l.Pool
	switch mod.ShortClass() {
	case "AdaptiveAvgPool2d":
		out, err := mod.Ints("output_size")
		if err != nil {
			return nil, fmt.Errorf("%s: output_size must be numbers: %v", l.Name, err)
		}
		if out[0] <= 0 || out[1] <= 0 || out[0] > maxSpatial || out[1] > maxSpatial {
			return nil, fmt.Errorf("%s: output_size out of range", l.Name)
		}
		l.Kind, *p = KindAdaptiveAvgPool, Pool{Adaptive: true, Out: out}
	case "MaxPool2d", "AvgPool2d":
		k, err := mod.Ints("kernel_size")
		if err != nil {
			return nil, err
		}
		stride := k
		if v, ok := mod.Attr("stride"); ok && v != nil {
			if s, err := mod.Ints("stride"); err == nil && s != [2]int{0, 0} {
				stride = s
			} else if err != nil {
				return nil, err
			}
		}
		pad, err := mod.Ints("padding")
		if err != nil {
			return nil, err
		}
		ceil, err := mod.Bool("ceil_mode")
		if err != nil {
			return nil, err
		}
		for i := range k {
			if k[i] <= 0 || k[i] > maxKernel || stride[i] <= 0 || stride[i] > maxKernel || pad[i] < 0 || 2*pad[i] > k[i] {
				return nil, fmt.Errorf("%s: kernel, stride or padding out of range", l.Name)
			}
		}
		np := Pool{Max: mod.ShortClass() == "MaxPool2d", K: k, Stride: stride, Pad: pad, Ceil: ceil}
		if np.Max {
			if err := mustBe(mod, l.Name, "dilation", [2]int{1, 1}); err != nil {
				return nil, err
			}
			if ri, err := mod.Bool("return_indices"); err == nil && ri {
				return nil, fmt.Errorf("%s: return_indices=True is not supported", l.Name)
			}
			l.Kind = KindMaxPool
		} else {
			if np.CountIncludePad, err = mod.Bool("count_include_pad"); err != nil {
				return nil, err
			}
			if d, ok := mod.Attr("divisor_override"); ok && d != nil {
				return nil, fmt.Errorf("%s: divisor_override is not supported", l.Name)
			}
			l.Kind = KindAvgPool
		}
		*p = np
	default:
		return nil, wantClass(mod, l.Name, "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d")
	}
	if *p != before {
		return []string{fmt.Sprintf("%s %s (the layout: %s)", l.Name, describePool(*p), describePool(before))}, nil
	}
	return nil, nil
}

func describePool(p Pool) string {
	switch {
	case p.Adaptive:
		return fmt.Sprintf("adaptive to %v", p.Out)
	case p.Max:
		return fmt.Sprintf("max k%v s%v p%v ceil_mode=%v", p.K, p.Stride, p.Pad, p.Ceil)
	}
	return fmt.Sprintf("avg k%v s%v p%v ceil_mode=%v count_include_pad=%v", p.K, p.Stride, p.Pad, p.Ceil, p.CountIncludePad)
}

func lrnFromModel(l *Layer, mod ModelModule) ([]string, error) {
	if err := wantClass(mod, l.Name, "LocalResponseNorm"); err != nil {
		return nil, err
	}
	size, err := mod.Int("size")
	if err != nil {
		return nil, err
	}
	var v [3]float64
	for i, a := range []string{"alpha", "beta", "k"} {
		if v[i], err = mod.Float(a); err != nil {
			return nil, err
		}
		if math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			return nil, fmt.Errorf("%s: %s is not finite", l.Name, a)
		}
	}
	if size <= 0 || size > maxKernel {
		return nil, fmt.Errorf("%s: size out of range", l.Name)
	}
	before := *l.LRN
	*l.LRN = LRN{Size: size, Alpha: float32(v[0]), Beta: float32(v[1]), Bias: float32(v[2])}
	if *l.LRN != before {
		return []string{fmt.Sprintf("%s size %d alpha %g beta %g k %g", l.Name, size, v[0], v[1], v[2])}, nil
	}
	return nil, nil
}

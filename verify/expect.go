package verify

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/tensor"
)

// Expected is what the user's own PyTorch computed: an input batch and the
// outputs of the model on it (torch.save({"input": x, "logits": y, ...})).
// It is the ground truth that breaks a tie between the reference pass and
// the interpreter, which share kernels and could share a mistake.
type Expected struct {
	Input   Batch
	Outputs []ExpectedOutput // logits first, then aux heads, in the file's order
}

// ExpectedOutput is one recorded output.
type ExpectedOutput struct {
	Name  string
	Shape []int
	Data  []float32
}

// maxExpectValues bounds a recorded tensor: batches of a few images.
const maxExpectValues = 1 << 28

// ExpectedFrom reads the tensors of an expect file: "input" (N×C×H×W)
// and any of "logits", "output", "aux1", "aux2" (N×classes). Other keys
// are refused, so that a misspelling is not silently ignored.
func ExpectedFrom(sd *tensor.StateDict) (*Expected, error) {
	e := &Expected{}
	in, ok := sd.Tensors["input"]
	if !ok {
		return nil, fmt.Errorf("no \"input\" tensor: an expect file is torch.save({\"input\": x, \"logits\": model(x)})")
	}
	if len(in.Shape) != 4 || in.Numel() == 0 || in.Numel() > maxExpectValues || !in.DType.IsFloat() {
		return nil, fmt.Errorf("\"input\" must be a non-empty floating-point N×C×H×W batch, it is %s %s", in.DType, tensor.ShapeString(in.Shape))
	}
	e.Input = Batch{N: in.Shape[0], H: in.Shape[2], W: in.Shape[3], Data: in.Float32()}
	e.Input.C = in.Shape[1]
	for _, k := range sd.Names {
		if k == "input" {
			continue
		}
		name := k
		if k == "output" {
			name = "logits"
		}
		t := sd.Tensors[k]
		if len(t.Shape) != 2 || t.Shape[0] != in.Shape[0] || t.Numel() > maxExpectValues || !t.DType.IsFloat() {
			return nil, fmt.Errorf("%q must be a floating-point batch×classes tensor for the %d input images, it is %s %s", k, in.Shape[0], t.DType, tensor.ShapeString(t.Shape))
		}
		e.Outputs = append(e.Outputs, ExpectedOutput{Name: name, Shape: append([]int(nil), t.Shape...), Data: t.Float32()})
	}
	if len(e.Outputs) == 0 {
		return nil, fmt.Errorf("no recorded output: add \"logits\" (and \"aux1\", \"aux2\" if you have them)")
	}
	sort.SliceStable(e.Outputs, func(i, j int) bool { return e.Outputs[i].Name == "logits" && e.Outputs[j].Name != "logits" })
	return e, nil
}

// ExpectCheck compares one recorded output with the ONNX file's (when the
// file has that output) and with the reference pass's.
type ExpectCheck struct {
	Name      string        `json:"name"`
	Shape     []int         `json:"shape"`
	ONNX      *OutputReport `json:"onnx,omitempty"`
	Reference *OutputReport `json:"reference"`
	Pass      bool          `json:"pass"`
}

// ExpectReport is the comparison with PyTorch's recorded outputs.
type ExpectReport struct {
	Input  []int         `json:"input_shape"`
	Checks []ExpectCheck `json:"outputs"`
	Pass   bool          `json:"pass"`
}

// Failure says which of the two (ONNX file, reference pass) differs from
// PyTorch, for messages; empty when everything passed.
func (r *ExpectReport) Failure() string {
	var parts []string
	for _, c := range r.Checks {
		var who []string
		if c.ONNX != nil && !c.ONNX.Pass {
			who = append(who, fmt.Sprintf("the ONNX file (max abs error %.3g > %.3g)", c.ONNX.MaxAbs, c.ONNX.Bound))
		}
		if !c.Reference.Pass {
			who = append(who, fmt.Sprintf("gnconv's reference pass (max abs error %.3g > %.3g)", c.Reference.MaxAbs, c.Reference.Bound))
		}
		if len(who) > 0 {
			parts = append(parts, fmt.Sprintf("PyTorch's %s differs from %s", c.Name, strings.Join(who, " and ")))
		}
	}
	return strings.Join(parts, "; ")
}

// compareExpected runs the recorded input through the reference pass and,
// for the outputs the file has, through the interpreter, and compares both
// with the recorded outputs.
func compareExpected(e *Expected, m *Model, inName string, fileOuts []OutputReport, net *graph.Net, opts Options) (*ExpectReport, error) {
	b := e.Input
	if b.C != net.InChannels {
		return nil, fmt.Errorf("the recorded input has %d channels, the network %d", b.C, net.InChannels)
	}
	in := m.Inputs[0]
	for d, s := range []int{b.N, b.C, b.H, b.W} {
		if in.Shape[d] >= 0 && in.Shape[d] != s {
			return nil, fmt.Errorf("the recorded input is %v, the file takes %v", []int{b.N, b.C, b.H, b.W}, in.Shape)
		}
	}
	withAux := false
	for _, o := range e.Outputs {
		if o.Name != "logits" {
			withAux = true
			if !net.HasAux() {
				return nil, fmt.Errorf("the expect file records %s, but the network has no aux heads", o.Name)
			}
		}
	}
	known := map[string]bool{}
	for _, n := range net.OutputNames(net.HasAux()) {
		known[n] = true
	}
	for _, o := range e.Outputs {
		if !known[o.Name] {
			return nil, fmt.Errorf("the expect file records %q, which the network does not compute (it has %s)", o.Name, strings.Join(net.OutputNames(net.HasAux()), ", "))
		}
	}
	ref, err := net.Forward(b.Data, b.N, b.H, b.W, withAux)
	if err != nil {
		return nil, fmt.Errorf("reference forward pass of the recorded input: %w", err)
	}
	got, err := m.Run(map[string]*Value{inName: {Shape: []int{b.N, b.C, b.H, b.W}, F: b.Data}})
	if err != nil {
		return nil, fmt.Errorf("interpreter, on the recorded input: %w", err)
	}
	rep := &ExpectReport{Input: []int{b.N, b.C, b.H, b.W}, Pass: true}
	for _, o := range e.Outputs {
		c := ExpectCheck{Name: o.Name, Shape: o.Shape, Pass: true}
		for _, r := range ref {
			if r.Name != o.Name {
				continue
			}
			c.Reference = compareRecorded(r.Shape, r.Data, o, opts)
		}
		for i, fo := range fileOuts {
			if fo.Reference != o.Name {
				continue
			}
			want := o.Data
			if fo.Softmax {
				want = SoftmaxRows(want, o.Shape[1])
			}
			c.ONNX = compareRecorded(got[i].Shape, got[i].F, ExpectedOutput{o.Name, o.Shape, want}, opts)
		}
		c.Pass = c.Reference.Pass && (c.ONNX == nil || c.ONNX.Pass)
		rep.Pass = rep.Pass && c.Pass
		rep.Checks = append(rep.Checks, c)
	}
	return rep, nil
}

// compareRecorded compares values of a shape with a recorded output: a
// shape that differs (another class count) fails outright.
func compareRecorded(shape []int, got []float32, want ExpectedOutput, opts Options) *OutputReport {
	r := &OutputReport{Name: want.Name, Reference: "pytorch"}
	if !slices.Equal(shape, want.Shape) || len(got) != len(want.Data) {
		r.Shape = fmt.Sprintf("%v, PyTorch recorded %v", shape, want.Shape)
		r.finish(opts.ATol, opts.RTol)
		r.Pass = false
		return r
	}
	r.add(got, want.Data, want.Shape[1])
	r.finish(opts.ATol, opts.RTol)
	return r
}

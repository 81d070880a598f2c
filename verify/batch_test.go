package verify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// fixtureNet is a fixture checkpoint's network.
func fixtureNet(t *testing.T, name string) *graph.Net {
	t.Helper()
	ck, err := fixture.Checkpoint(name)
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// emitted is the interpreter's model of the ONNX file gnconv emits for n.
func emitted(t *testing.T, n *graph.Net, opts convert.ONNXOptions) *Model {
	t.Helper()
	em, err := convert.EmitONNX(n, opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := em.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEmittedModelsShareTheBatch: every file gnconv emits keeps its images
// apart, and a batch shared out over the cores gives each image's outputs
// exactly as a run of that image alone.
func TestEmittedModelsShareTheBatch(t *testing.T) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		n := fixtureNet(t, name)
		// the deploy network with torchvision's input transform
		deploy := n.WithoutAux()
		deploy.TransformInput = true
		for i, opts := range []convert.ONNXOptions{{Opset: 17, Aux: true}, {Opset: 13, Softmax: true, KeepBN: name == "torchvision_aux.pth"}} {
			net := n
			if i == 1 {
				net = deploy
			}
			t.Run(fmt.Sprintf("%s/aux=%v", name, opts.Aux), func(t *testing.T) {
				m := emitted(t, net, opts)
				if !m.split {
					t.Fatal("an emitted model is not separable")
				}
				// with batch norm kept, a Relu follows a BatchNormalization,
				// not a Conv, and the Concats copy
				if want := map[bool]int{false: 9, true: 0}[opts.KeepBN]; len(m.concatAt) != want {
					t.Fatalf("%d Concats written in place, want %d", len(m.concatAt), want)
				}
				const size = 3 * 224 * 224
				x := make([]float32, 4*size)
				for i := range x {
					x[i] = float32((i*13)%127)/64 - 1
				}
				for _, batch := range []int{2, 4} {
					outs, err := m.Run(map[string]*Value{"input": {Shape: []int{batch, 3, 224, 224}, F: x[:batch*size]}})
					if err != nil {
						t.Fatal(err)
					}
					for b := 0; b < batch; b++ {
						one, err := m.Run(map[string]*Value{"input": {Shape: []int{1, 3, 224, 224}, F: x[b*size : (b+1)*size]}})
						if err != nil {
							t.Fatal(err)
						}
						for o := range one {
							if outs[o].Shape[0] != batch {
								t.Fatalf("output %d has shape %v", o, outs[o].Shape)
							}
							per := len(one[o].F)
							for j, v := range one[o].F {
								if got := outs[o].F[b*per+j]; got != v {
									t.Fatalf("batch %d image %d output %d[%d]: %v in the batch, %v alone", batch, b, o, j, got, v)
								}
							}
						}
					}
				}
			})
		}
	}
}

// graphModel builds a one-input, one-output float model of nodes, with
// int64 constants.
func graphModel(nodes []*onnxpb.NodeProto, inShape []int64, ints map[string][]int64) *Model {
	vi := func(name string, shape []int64) *onnxpb.ValueInfoProto {
		tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}
		if shape != nil {
			tt.Shape = &onnxpb.TensorShapeProto{}
			for _, d := range shape {
				tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
			}
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
	}
	var inits []*onnxpb.TensorProto
	for name, v := range ints {
		inits = append(inits, &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
			Dims: []int64{int64(len(v))}, Int64Data: v})
	}
	pm := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{Node: nodes, Initializer: inits,
			Input: []*onnxpb.ValueInfoProto{vi("x", inShape)}, Output: []*onnxpb.ValueInfoProto{vi("y", nil)}}}
	data, _ := proto.Marshal(pm)
	m, err := Parse(data)
	if err != nil {
		panic(err)
	}
	return m
}

// TestSeparability: graphs that mix images, or may, keep the batch whole.
func TestSeparability(t *testing.T) {
	nd := func(op string, in []string, a ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: []string{"y"}, Attribute: a}
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	shape := []int64{2, 6}
	for _, c := range []struct {
		name  string
		node  *onnxpb.NodeProto
		ints  map[string][]int64
		split bool
	}{
		{"relu", nd("Relu", []string{"x"}), nil, true},
		{"flatten axis 1", nd("Flatten", []string{"x"}, intAttr("axis", 1)), nil, true},
		{"flatten axis 0", nd("Flatten", []string{"x"}, intAttr("axis", 0)), nil, false},
		{"softmax last axis", nd("Softmax", []string{"x"}), nil, true},
		{"softmax axis 0", nd("Softmax", []string{"x"}, intAttr("axis", 0)), nil, false},
		{"softmax axis -2", nd("Softmax", []string{"x"}, intAttr("axis", -2)), nil, false},
		{"reduce over axis 1", nd("ReduceMean", []string{"x"}, ints("axes", 1)), nil, true},
		{"reduce over every axis", nd("ReduceMean", []string{"x"}), nil, false},
		{"reduce over the batch", nd("ReduceMean", []string{"x"}, ints("axes", 0)), nil, false},
		{"concat on the batch", nd("Concat", []string{"x", "x"}, intAttr("axis", 0)), nil, false},
		{"concat on axis 1", nd("Concat", []string{"x", "x"}, intAttr("axis", 1)), nil, true},
		{"reshape keeping the batch", nd("Reshape", []string{"x", "s"}), map[string][]int64{"s": {0, 3, 2}}, true},
		{"reshape to a fixed batch", nd("Reshape", []string{"x", "s"}), map[string][]int64{"s": {2, -1}}, false},
		{"shape", nd("Shape", []string{"x"}), nil, false},
		{"slice on axis 1", nd("Slice", []string{"x", "a", "b", "c"}), map[string][]int64{"a": {1}, "b": {3}, "c": {1}}, true},
		{"slice on the batch", nd("Slice", []string{"x", "a", "b", "c"}), map[string][]int64{"a": {1}, "b": {3}, "c": {0}}, false},
		{"slice without axes", nd("Slice", []string{"x", "a", "b"}), map[string][]int64{"a": {1}, "b": {3}}, false},
		{"squeeze without axes", nd("Squeeze", []string{"x"}), nil, false},
	} {
		m := graphModel([]*onnxpb.NodeProto{c.node}, shape, c.ints)
		if m.split != c.split {
			t.Errorf("%s: separable %v, want %v", c.name, m.split, c.split)
		}
	}
}

// TestShareFallsBackToWholeBatch: a reshape whose -1 fits the whole batch
// but not a share of it runs on the whole batch, with its answer.
func TestShareFallsBackToWholeBatch(t *testing.T) {
	m := graphModel([]*onnxpb.NodeProto{{OpType: proto.String("Reshape"), Input: []string{"x", "s"}, Output: []string{"y"}}},
		[]int64{-1, 6}, map[string][]int64{"s": {-1, 4}})
	if !m.split {
		t.Fatal("not separable")
	}
	x := &Value{Shape: []int{2, 6}, F: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}
	outs, err := m.Run(map[string]*Value{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(outs[0].Shape) != "[3 4]" || outs[0].F[11] != 11 {
		t.Fatalf("%v %v", outs[0].Shape, outs[0].F)
	}
}

// TestConcatInPlace: convolutions that only a channel Concat reads write
// into its output directly; the values are a plain concatenation's, and a
// convolution that does not fit the Concat's buffer, or that something
// else reads too, still gives the right answer or the Concat's error.
func TestConcatInPlace(t *testing.T) {
	f32 := func(name string, shape []int64, v ...float32) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: shape, FloatData: v}
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}}}}
	}
	nd := func(op string, in []string, out string, a ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: []string{out}, Attribute: a}
	}
	stride := func(s int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String("strides"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{s, s}}
	}
	// x is 1×1×4×4 of 1..16; wa doubles it into 1 channel, wb makes 2
	// channels: 1× and -1× (the Relu zeroes the second)
	build := func(bStride int64, extraOutput bool) *Model {
		outs := []*onnxpb.ValueInfoProto{vi("y")}
		if extraOutput {
			outs = append(outs, vi("b"))
		}
		pm := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
			Graph: &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{
				nd("Conv", []string{"x", "wa"}, "a"),
				nd("Conv", []string{"x", "wb"}, "b0", stride(bStride)),
				nd("Relu", []string{"b0"}, "b"),
				nd("Concat", []string{"a", "b"}, "y", intAttr("axis", 1)),
			}, Initializer: []*onnxpb.TensorProto{f32("wa", []int64{1, 1, 1, 1}, 2), f32("wb", []int64{2, 1, 1, 1}, 1, -1)},
				Input: []*onnxpb.ValueInfoProto{vi("x")}, Output: outs}}
		data, _ := proto.Marshal(pm)
		m, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	x := &Value{Shape: []int{1, 1, 4, 4}}
	for i := 1; i <= 16; i++ {
		x.F = append(x.F, float32(i))
	}
	for _, extra := range []bool{false, true} {
		m := build(1, extra)
		if planned := len(m.concatAt) == 1; planned == extra {
			t.Fatalf("extra output %v: planned %v", extra, planned)
		}
		for run := 0; run < 2; run++ {
			outs, err := m.Run(map[string]*Value{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			y := outs[0]
			if fmt.Sprint(y.Shape) != "[1 3 4 4]" {
				t.Fatalf("shape %v", y.Shape)
			}
			for i := 0; i < 16; i++ {
				if y.F[i] != 2*x.F[i] || y.F[16+i] != x.F[i] || y.F[32+i] != 0 {
					t.Fatalf("extra output %v, run %d: %v", extra, run, y.F)
				}
			}
		}
	}
	// b is 2×2: it cannot join a's 4×4 channels
	if _, err := build(2, false).Run(map[string]*Value{"x": x}); err == nil || !strings.Contains(err.Error(), "Concat") {
		t.Fatalf("mismatched Concat: %v", err)
	}
}

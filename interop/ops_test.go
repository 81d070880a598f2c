package interop

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify"
	"google.golang.org/protobuf/proto"
)

// opCase is a one-node (or few-node) model run by both onnxruntime and
// gnconv's interpreter.
type opCase struct {
	name   string
	opset  int
	inputs map[string][]int // float inputs and their shapes
	consts []*onnxpb.TensorProto
	nodes  []*onnxpb.NodeProto
}

func fconst(name string, shape []int, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims(shape), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}

func iconst(name string, shape []int, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims(shape), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v}
}

func dims(s []int) []int64 {
	d := make([]int64, len(s))
	for i, x := range s {
		d[i] = int64(x)
	}
	return d
}

type attr = *onnxpb.AttributeProto

func ai(name string, v int64) attr {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}
func ais(name string, v ...int64) attr {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}
func af(name string, v float32) attr {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}
func as(name, v string) attr {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}
func at(name string, t *onnxpb.TensorProto) attr {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

func nd(op string, in []string, out string, a ...attr) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: a}
}

func (c opCase) model() *onnxpb.ModelProto {
	vi := func(name string, shape []int) *onnxpb.ValueInfoProto {
		tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}
		if shape != nil {
			tt.Shape = &onnxpb.TensorShapeProto{}
			for _, d := range shape {
				tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
			}
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
	}
	g := &onnxpb.GraphProto{Name: proto.String(c.name), Node: c.nodes, Initializer: c.consts, Output: []*onnxpb.ValueInfoProto{vi("y", nil)}}
	for _, name := range sortedKeys(c.inputs) {
		g.Input = append(g.Input, vi(name, c.inputs[name]))
	}
	return &onnxpb.ModelProto{IrVersion: proto.Int64(7), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(c.opset))}}}
}

func sortedKeys(m map[string][]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func randomF(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func opCases(r *rand.Rand) []opCase {
	x4 := map[string][]int{"x": {2, 3, 7, 6}}
	w := fconst("w", []int{4, 3, 3, 3}, randomF(r, 4*3*9))
	b := fconst("b", []int{4}, randomF(r, 4))
	pool := func(op string, a ...attr) opCase {
		return opCase{name: fmt.Sprint(op, a), opset: 17, inputs: map[string][]int{"x": {1, 2, 5, 6}}, nodes: []*onnxpb.NodeProto{nd(op, []string{"x"}, "y", a...)}}
	}
	cases := []opCase{
		{name: "Conv pads strides bias", opset: 17, inputs: x4, consts: []*onnxpb.TensorProto{w, b},
			nodes: []*onnxpb.NodeProto{nd("Conv", []string{"x", "w", "b"}, "y", ais("pads", 1, 0, 2, 1), ais("strides", 2, 1))}},
		{name: "Conv no bias kernel_shape", opset: 13, inputs: x4, consts: []*onnxpb.TensorProto{w},
			nodes: []*onnxpb.NodeProto{nd("Conv", []string{"x", "w"}, "y", ais("kernel_shape", 3, 3))}},
		{name: "Conv SAME_UPPER", opset: 17, inputs: x4, consts: []*onnxpb.TensorProto{w, b},
			nodes: []*onnxpb.NodeProto{nd("Conv", []string{"x", "w", "b"}, "y", as("auto_pad", "SAME_UPPER"), ais("strides", 2, 2))}},
		{name: "Conv SAME_LOWER", opset: 17, inputs: x4, consts: []*onnxpb.TensorProto{w, b},
			nodes: []*onnxpb.NodeProto{nd("Conv", []string{"x", "w", "b"}, "y", as("auto_pad", "SAME_LOWER"), ais("strides", 2, 2))}},
		{name: "Conv VALID", opset: 11, inputs: x4, consts: []*onnxpb.TensorProto{w, b},
			nodes: []*onnxpb.NodeProto{nd("Conv", []string{"x", "w", "b"}, "y", as("auto_pad", "VALID"))}},
		pool("MaxPool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), ai("ceil_mode", 1)),
		// the last ceil-mode window would start in the end padding
		pool("MaxPool", ais("kernel_shape", 2, 2), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1), ai("ceil_mode", 1)),
		pool("MaxPool", ais("kernel_shape", 3, 3), ais("strides", 1, 1), ais("pads", 1, 1, 1, 1), ai("ceil_mode", 1)),
		pool("MaxPool", ais("kernel_shape", 3, 2), ais("strides", 2, 3), ais("pads", 0, 1, 2, 0)),
		pool("MaxPool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), as("auto_pad", "SAME_UPPER")),
		pool("MaxPool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), as("auto_pad", "SAME_LOWER")),
		pool("AveragePool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1)),
		pool("AveragePool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1), ai("count_include_pad", 1)),
		pool("AveragePool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1), ai("count_include_pad", 1), ai("ceil_mode", 1)),
		pool("AveragePool", ais("kernel_shape", 2, 2), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1), ai("ceil_mode", 1)),
		pool("AveragePool", ais("kernel_shape", 5, 5), ais("strides", 3, 3)),
		pool("AveragePool", ais("kernel_shape", 3, 3), ais("strides", 2, 2), as("auto_pad", "SAME_UPPER"), ai("count_include_pad", 1)),
		pool("GlobalAveragePool"),
		pool("Relu"),
		pool("LRN", ai("size", 3), af("alpha", 0.5), af("beta", 0.75), af("bias", 2)),
		{name: "LRN size 5", opset: 17, inputs: map[string][]int{"x": {2, 7, 3, 3}}, nodes: []*onnxpb.NodeProto{nd("LRN", []string{"x"}, "y", ai("size", 5), af("alpha", 0.1))}},
		{name: "Concat axis 1", opset: 13, inputs: map[string][]int{"a": {2, 3, 4}, "b": {2, 1, 4}}, nodes: []*onnxpb.NodeProto{nd("Concat", []string{"a", "b", "a"}, "y", ai("axis", 1))}},
		{name: "Concat axis -1", opset: 13, inputs: map[string][]int{"a": {2, 3, 4}, "b": {2, 3, 2}}, nodes: []*onnxpb.NodeProto{nd("Concat", []string{"a", "b"}, "y", ai("axis", -1))}},
		{name: "Flatten axis 2", opset: 13, inputs: map[string][]int{"x": {2, 3, 4, 5}}, nodes: []*onnxpb.NodeProto{nd("Flatten", []string{"x"}, "f", ai("axis", 2)), nd("Softmax", []string{"f"}, "y", ai("axis", 1))}},
		{name: "Flatten axis 0", opset: 13, inputs: map[string][]int{"x": {2, 3, 4}}, nodes: []*onnxpb.NodeProto{nd("Flatten", []string{"x"}, "y", ai("axis", 0))}},
		{name: "Softmax axis 1 rank 3 opset 13", opset: 13, inputs: map[string][]int{"x": {2, 3, 4}}, nodes: []*onnxpb.NodeProto{nd("Softmax", []string{"x"}, "y", ai("axis", 1))}},
		{name: "Softmax axis 1 rank 3 opset 11", opset: 11, inputs: map[string][]int{"x": {2, 3, 4}}, nodes: []*onnxpb.NodeProto{nd("Softmax", []string{"x"}, "y", ai("axis", 1))}},
		{name: "Softmax default axis", opset: 17, inputs: map[string][]int{"x": {2, 3, 4}}, nodes: []*onnxpb.NodeProto{nd("Softmax", []string{"x"}, "y")}},
		{name: "Gemm transB, C row", opset: 13, inputs: map[string][]int{"a": {3, 5}}, consts: []*onnxpb.TensorProto{fconst("w", []int{4, 5}, randomF(r, 20)), fconst("c", []int{4}, randomF(r, 4))},
			nodes: []*onnxpb.NodeProto{nd("Gemm", []string{"a", "w", "c"}, "y", ai("transB", 1))}},
		{name: "Gemm transA alpha beta, C column", opset: 13, inputs: map[string][]int{"a": {5, 3}}, consts: []*onnxpb.TensorProto{fconst("w", []int{5, 4}, randomF(r, 20)), fconst("c", []int{3, 1}, randomF(r, 3))},
			nodes: []*onnxpb.NodeProto{nd("Gemm", []string{"a", "w", "c"}, "y", ai("transA", 1), af("alpha", 0.5), af("beta", 2))}},
		{name: "Gemm C scalar", opset: 13, inputs: map[string][]int{"a": {3, 5}}, consts: []*onnxpb.TensorProto{fconst("w", []int{5, 4}, randomF(r, 20)), fconst("c", []int{}, []float32{1.5})},
			nodes: []*onnxpb.NodeProto{nd("Gemm", []string{"a", "w", "c"}, "y")}},
		{name: "Gemm C full, no C", opset: 11, inputs: map[string][]int{"a": {3, 5}}, consts: []*onnxpb.TensorProto{fconst("w", []int{4, 5}, randomF(r, 20)), fconst("c", []int{3, 4}, randomF(r, 12))},
			nodes: []*onnxpb.NodeProto{nd("Gemm", []string{"a", "w", "c"}, "g", ai("transB", 1)), nd("Gemm", []string{"g", "w"}, "y")}},
		{name: "MatMul", opset: 13, inputs: map[string][]int{"a": {3, 5}}, consts: []*onnxpb.TensorProto{fconst("w", []int{5, 4}, randomF(r, 20))},
			nodes: []*onnxpb.NodeProto{nd("MatMul", []string{"a", "w"}, "y")}},
		{name: "Add Mul Sub Div broadcasting", opset: 13, inputs: map[string][]int{"x": {2, 3, 4, 5}},
			consts: []*onnxpb.TensorProto{fconst("c", []int{3, 1, 1}, randomF(r, 3)), fconst("v", []int{5}, randomF(r, 5)), fconst("s", []int{}, []float32{2.5}), fconst("m", []int{2, 1, 4, 1}, randomF(r, 8))},
			nodes:  []*onnxpb.NodeProto{nd("Add", []string{"x", "c"}, "a"), nd("Mul", []string{"v", "a"}, "b"), nd("Sub", []string{"b", "s"}, "d"), nd("Div", []string{"d", "m"}, "y")}},
		{name: "BatchNormalization", opset: 15, inputs: map[string][]int{"x": {2, 3, 4, 4}},
			consts: []*onnxpb.TensorProto{fconst("g", []int{3}, []float32{1, 0.5, 2}), fconst("be", []int{3}, []float32{0.1, 0, -1}), fconst("mu", []int{3}, []float32{0.2, -0.3, 0}), fconst("var", []int{3}, []float32{0.5, 1, 0.01})},
			nodes:  []*onnxpb.NodeProto{nd("BatchNormalization", []string{"x", "g", "be", "mu", "var"}, "y", af("epsilon", 1e-3))}},
		{name: "Dropout Identity", opset: 13, inputs: map[string][]int{"x": {2, 3}}, consts: []*onnxpb.TensorProto{fconst("ratio", []int{}, []float32{0.5})},
			nodes: []*onnxpb.NodeProto{nd("Dropout", []string{"x", "ratio"}, "d"), nd("Identity", []string{"d"}, "y")}},
		{name: "Reshape 0 and -1", opset: 13, inputs: map[string][]int{"x": {2, 3, 4}}, consts: []*onnxpb.TensorProto{iconst("s", []int{3}, 0, -1, 2)},
			nodes: []*onnxpb.NodeProto{nd("Reshape", []string{"x", "s"}, "y")}},
		{name: "Shape start end + Reshape", opset: 15, inputs: map[string][]int{"x": {2, 3, 4}, "z": {12}},
			nodes: []*onnxpb.NodeProto{nd("Shape", []string{"x"}, "s", ai("start", -2)), nd("Reshape", []string{"z", "s"}, "r"), nd("Softmax", []string{"r"}, "y")}},
		{name: "Unsqueeze opset 13", opset: 13, inputs: map[string][]int{"x": {2, 3}}, consts: []*onnxpb.TensorProto{iconst("ax", []int{2}, 0, -1)},
			nodes: []*onnxpb.NodeProto{nd("Unsqueeze", []string{"x", "ax"}, "y")}},
		{name: "Unsqueeze opset 11", opset: 11, inputs: map[string][]int{"x": {2, 3}}, nodes: []*onnxpb.NodeProto{nd("Unsqueeze", []string{"x"}, "y", ais("axes", 1))}},
		{name: "Gather scalar, vector, negative", opset: 13, inputs: map[string][]int{"x": {2, 3, 4}},
			consts: []*onnxpb.TensorProto{iconst("i0", []int{}, 1), iconst("iv", []int{3}, 2, -1, 0)},
			nodes:  []*onnxpb.NodeProto{nd("Gather", []string{"x", "i0"}, "a", ai("axis", 1)), nd("Gather", []string{"a", "iv"}, "y", ai("axis", -1))}},
		{name: "Slice steps negative", opset: 13, inputs: map[string][]int{"x": {3, 5, 6}},
			consts: []*onnxpb.TensorProto{iconst("st", []int{2}, -1, 1), iconst("en", []int{2}, -100, 100), iconst("ax", []int{2}, 2, -2), iconst("sp", []int{2}, -2, 2)},
			nodes:  []*onnxpb.NodeProto{nd("Slice", []string{"x", "st", "en", "ax", "sp"}, "y")}},
		{name: "Slice default axes", opset: 11, inputs: map[string][]int{"x": {4, 5}},
			consts: []*onnxpb.TensorProto{iconst("st", []int{2}, 1, -3), iconst("en", []int{2}, 3, 1000)},
			nodes:  []*onnxpb.NodeProto{nd("Slice", []string{"x", "st", "en"}, "y")}},
		{name: "ReduceMean keepdims", opset: 13, inputs: map[string][]int{"x": {2, 3, 4, 5}}, nodes: []*onnxpb.NodeProto{nd("ReduceMean", []string{"x"}, "y", ais("axes", 2, -1))}},
		{name: "ReduceMean no keepdims", opset: 17, inputs: map[string][]int{"x": {2, 3, 4, 5}}, nodes: []*onnxpb.NodeProto{nd("ReduceMean", []string{"x"}, "y", ais("axes", 1), ai("keepdims", 0))}},
		{name: "ReduceMean all", opset: 13, inputs: map[string][]int{"x": {2, 3, 4}}, nodes: []*onnxpb.NodeProto{nd("ReduceMean", []string{"x"}, "y")}},
		{name: "Squeeze opset 13 + Cast round trip", opset: 13, inputs: map[string][]int{"x": {2, 1, 3, 1}}, consts: []*onnxpb.TensorProto{iconst("ax", []int{1}, 1)},
			nodes: []*onnxpb.NodeProto{nd("Squeeze", []string{"x", "ax"}, "s"), nd("Cast", []string{"s"}, "i", ai("to", 7)), nd("Cast", []string{"i"}, "y", ai("to", 1))}},
		{name: "Squeeze opset 11 all", opset: 11, inputs: map[string][]int{"x": {1, 3, 1, 2}}, nodes: []*onnxpb.NodeProto{nd("Squeeze", []string{"x"}, "y")}},
		{name: "Shape Cast float", opset: 13, inputs: map[string][]int{"x": {2, 3, 4}}, consts: []*onnxpb.TensorProto{fconst("one", []int{}, []float32{1})},
			nodes: []*onnxpb.NodeProto{nd("Shape", []string{"x"}, "s"), nd("Cast", []string{"s"}, "f", ai("to", 1)), nd("Add", []string{"f", "one"}, "y")}},
		{name: "Pad constant", opset: 13, inputs: map[string][]int{"x": {2, 3, 4, 5}}, consts: []*onnxpb.TensorProto{iconst("p", []int{8}, 0, 1, 2, 0, 1, 0, 1, 3), fconst("v", []int{}, []float32{0.5})},
			nodes: []*onnxpb.NodeProto{nd("Pad", []string{"x", "p", "v"}, "y")}},
		{name: "Pad zeros", opset: 11, inputs: map[string][]int{"x": {1, 2, 3, 3}}, consts: []*onnxpb.TensorProto{iconst("p", []int{8}, 0, 0, 1, 1, 0, 0, 1, 1)},
			nodes: []*onnxpb.NodeProto{nd("Pad", []string{"x", "p"}, "y", as("mode", "constant"))}},
		{name: "Constant", opset: 13, inputs: map[string][]int{"x": {2, 3}},
			nodes: []*onnxpb.NodeProto{nd("Constant", nil, "c", at("value", fconst("", []int{3}, []float32{1, 2, 3}))), nd("Constant", nil, "k", af("value_float", 0.5)), nd("Mul", []string{"x", "c"}, "m"), nd("Add", []string{"m", "k"}, "y")}},
	}
	return cases
}

// TestInterpreterOpsMatchORT runs each operator, with its edge cases, in
// onnxruntime and in the interpreter.
func TestInterpreterOpsMatchORT(t *testing.T) {
	requireORT(t)
	r := rand.New(rand.NewSource(9))
	for _, c := range opCases(r) {
		t.Run(c.name, func(t *testing.T) {
			data, err := proto.Marshal(c.model())
			if err != nil {
				t.Fatal(err)
			}
			names := sortedKeys(c.inputs)
			feeds := map[string]*verify.Value{}
			var vals [][]float32
			for _, n := range names {
				v := randomF(r, numel(c.inputs[n]))
				feeds[n] = &verify.Value{Shape: c.inputs[n], F: v}
				vals = append(vals, v)
			}
			want, err := runMulti(data, names, vals, c.inputs)
			if err != nil {
				t.Fatalf("onnxruntime: %v", err)
			}
			m, err := verify.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			if err := compareOutput(got[0], want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// compareOutput holds the interpreter's output to onnxruntime's: the same
// shape, the same values within 1e-5 relative, and only finite values
// (a NaN or an infinity on either side fails, as it would compare as no
// difference).
func compareOutput(got *verify.Value, want Output) error {
	if len(got.Shape) != len(want.Shape) {
		return fmt.Errorf("shape %v, onnxruntime %v", got.Shape, want.Shape)
	}
	for i := range want.Shape {
		if int64(got.Shape[i]) != want.Shape[i] {
			return fmt.Errorf("shape %v, onnxruntime %v", got.Shape, want.Shape)
		}
	}
	if len(got.F) != len(want.Data) {
		return fmt.Errorf("%d values (shape %v), onnxruntime %d", len(got.F), got.Shape, len(want.Data))
	}
	for i, w := range want.Data {
		g := got.F[i]
		if !finite(g) || !finite(w) {
			return fmt.Errorf("value %d: %v, onnxruntime %v: not finite", i, g, w)
		}
		if d := math.Abs(float64(g - w)); d > 1e-5*(1+math.Abs(float64(w))) {
			return fmt.Errorf("value %d: %v, onnxruntime %v", i, g, w)
		}
	}
	return nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// TestCompareOutputCatches: the comparison itself fails on another shape
// of the same values, and on NaN or an infinity on either side.
func TestCompareOutputCatches(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	ok := Output{Shape: []int64{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}
	if err := compareOutput(&verify.Value{Shape: []int{2, 3}, F: ok.Data}, ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  *verify.Value
		want Output
	}{
		{&verify.Value{Shape: []int{3, 2}, F: ok.Data}, ok},
		{&verify.Value{Shape: []int{6}, F: ok.Data}, ok},
		{&verify.Value{Shape: []int{2, 3}, F: []float32{1, 2, nan, 4, 5, 6}}, Output{Shape: []int64{2, 3}, Data: []float32{1, 2, nan, 4, 5, 6}}},
		{&verify.Value{Shape: []int{2, 3}, F: []float32{1, 2, 3, 4, 5, inf}}, ok},
		{&verify.Value{Shape: []int{2, 3}, F: ok.Data}, Output{Shape: []int64{2, 3}, Data: []float32{1, 2, 3, 4, 5, -inf}}},
	} {
		if err := compareOutput(c.got, c.want); err == nil {
			t.Errorf("%v %v and %v %v compare equal", c.got.Shape, c.got.F, c.want.Shape, c.want.Data)
		}
	}
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// runMulti runs a model with several float inputs in onnxruntime and
// returns its output y, with its shape.
func runMulti(model []byte, names []string, vals [][]float32, shapes map[string][]int) (Output, error) {
	s, err := NewSessionInputs(model, names, []string{"y"}, 1)
	if err != nil {
		return Output{}, err
	}
	defer s.Close()
	var sh [][]int64
	for _, n := range names {
		sh = append(sh, dims(shapes[n]))
	}
	out, err := s.RunShaped(vals, sh)
	if err != nil {
		return Output{}, err
	}
	return out[0], nil
}

package verify

import (
	"strings"
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

func tinyModel(opset int64, node *onnxpb.NodeProto, inits ...*onnxpb.TensorProto) []byte {
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}}}}
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(opset)}},
		Graph: &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{node}, Initializer: inits,
			Input: []*onnxpb.ValueInfoProto{vi("x")}, Output: []*onnxpb.ValueInfoProto{vi("y")}}}
	b, _ := proto.Marshal(m)
	return b
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// TestRefusals: what the interpreter cannot run exactly is an error that
// names the node, never a silent wrong answer.
func TestRefusals(t *testing.T) {
	w := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{2, 1, 1, 1}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{1, 2}}
	bf16 := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_BFLOAT16)), RawData: []byte{0x80, 0x3f}}
	conv := func(attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: proto.String("the_conv"), OpType: proto.String("Conv"), Input: []string{"x", "w"}, Output: []string{"y"}, Attribute: attrs}
	}
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"unknown op", tinyModel(17, &onnxpb.NodeProto{Name: proto.String("n1"), OpType: proto.String("Erf"), Input: []string{"x"}, Output: []string{"y"}}), []string{"n1", "Erf", "not supported"}},
		{"unknown attribute", tinyModel(17, conv(intAttr("foo", 1)), w), []string{"the_conv", "attribute foo"}},
		{"group", tinyModel(17, conv(intAttr("group", 2)), w), []string{"the_conv", "group 2"}},
		{"dilations", tinyModel(17, conv(&onnxpb.AttributeProto{Name: proto.String("dilations"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}}), w), []string{"the_conv", "dilations"}},
		{"attribute of the wrong type", tinyModel(17, conv(&onnxpb.AttributeProto{Name: proto.String("group"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(1)}), w), []string{"the_conv", "group is a FLOAT"}},
		{"opset 18", tinyModel(18, conv(), w), []string{"opset 18"}},
		{"opset 10", tinyModel(10, conv(), w), []string{"opset 10"}},
		{"bfloat16 weights", tinyModel(17, conv(), bf16), []string{"BFLOAT16", "not supported"}},
		{"training BatchNormalization", tinyModel(17, &onnxpb.NodeProto{Name: proto.String("bn"), OpType: proto.String("BatchNormalization"), Input: []string{"x", "w", "w", "w", "w"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{intAttr("training_mode", 1)}}, w), []string{"bn", "training_mode"}},
		{"MaxPool indices output", tinyModel(17, &onnxpb.NodeProto{Name: proto.String("mp"), OpType: proto.String("MaxPool"), Input: []string{"x"}, Output: []string{"y", "idx"},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("kernel_shape"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}}}}), []string{"mp", "first output"}},
		{"dangling input", tinyModel(17, &onnxpb.NodeProto{Name: proto.String("r"), OpType: proto.String("Relu"), Input: []string{"nowhere"}, Output: []string{"y"}}), []string{"r", "nowhere"}},
		{"garbage", []byte("not a model at all"), []string{"not an ONNX model"}},
	}
	for _, c := range cases {
		_, err := Parse(c.data)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
}

// TestHandComputed checks a few values worked out by hand.
func TestHandComputed(t *testing.T) {
	// 1×1×3×3 input 1..9; MaxPool 2/2 ceil_mode with pad 1 gives windows
	// starting at -1, 1 (and none at 3: it would start in the padding).
	x := &Value{Shape: []int{1, 1, 3, 3}, F: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	mp := &onnxpb.NodeProto{OpType: proto.String("MaxPool"), Input: []string{"x"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{
		{Name: proto.String("kernel_shape"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}},
		{Name: proto.String("strides"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{2, 2}},
		{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}},
		intAttr("ceil_mode", 1)}}
	m, err := Parse(tinyModel(17, mp))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(map[string]*Value{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0]; len(got.F) != 4 || got.F[0] != 1 || got.F[1] != 3 || got.F[2] != 7 || got.F[3] != 9 {
		t.Fatalf("MaxPool: %v %v, want [1 3 7 9]", got.Shape, got.F)
	}
	// AveragePool 3/1 pad 1: corner (1+2+4+5) / 4, or / 9 with count_include_pad.
	for _, incl := range []int64{0, 1} {
		ap := &onnxpb.NodeProto{OpType: proto.String("AveragePool"), Input: []string{"x"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{
			{Name: proto.String("kernel_shape"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{3, 3}},
			{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}},
			intAttr("count_include_pad", incl)}}
		m, err := Parse(tinyModel(17, ap))
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Run(map[string]*Value{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		want := float32(12) / 4
		if incl == 1 {
			want = float32(12) / 9
		}
		if out[0].F[0] != want || out[0].F[4] != 5 {
			t.Fatalf("AveragePool count_include_pad=%d: %v", incl, out[0].F)
		}
	}
}

// TestMetadataFirstOfRepeatedKey: a key a file repeats reads as its first
// value, by Metadata and in the map the pixel-input check reads alike.
func TestMetadataFirstOfRepeatedKey(t *testing.T) {
	var pm onnxpb.ModelProto
	if err := proto.Unmarshal(tinyModel(13, &onnxpb.NodeProto{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"y"}}), &pm); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"nchw", "nhwc"} {
		pm.MetadataProps = append(pm.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String("input_layout"), Value: proto.String(v)})
	}
	m, err := FromProto(&pm)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Metadata("input_layout"); !ok || v != "nchw" || m.metadata()["input_layout"] != "nchw" {
		t.Errorf("Metadata %q %v, map %q; want the first, nchw", v, ok, m.metadata()["input_layout"])
	}
	if _, ok := m.Metadata("labels"); ok {
		t.Error("a key the file lacks is found")
	}
}

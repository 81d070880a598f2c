package verify

import (
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// FuzzParse holds the ONNX reader to an error or a model, never a panic,
// on arbitrary bytes.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil && m == nil {
			t.Fatal("no model and no error")
		}
	})
}

// fuzzLimits are small budgets, so that a fuzzed model runs in
// milliseconds whatever it asks for.
var fuzzLimits = Limits{MaxNodes: 256, MaxInitializers: 256, MaxTensorElements: 1 << 14, MaxRunElements: 1 << 17, MaxRunWork: 1 << 21}

// FuzzParseRun parses arbitrary bytes under small limits and runs what
// parses on a small input: an error or outputs, never a panic, a hang or
// an allocation beyond the limits.
func FuzzParseRun(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseLimits(b, fuzzLimits)
		if err != nil {
			return
		}
		in := map[string]*Value{}
		for _, io := range m.Inputs {
			shape := make([]int, len(io.Shape))
			n := 1
			for i, d := range io.Shape {
				shape[i] = max(d, 2) // symbolic dimensions (and empty ones) 2
				if n *= shape[i]; n > 1<<12 {
					return // a larger input is Run's to refuse; tested elsewhere
				}
			}
			v := &Value{Shape: shape, F: make([]float32, n)}
			for i := range v.F {
				v.F[i] = float32(i%7) - 3
			}
			in[io.Name] = v
		}
		outs, err := m.Run(in)
		if err == nil && len(outs) != len(m.Outputs) {
			t.Fatalf("%d outputs for %d", len(outs), len(m.Outputs))
		}
	})
}

func addSeeds(f *testing.F) {
	relu := &onnxpb.NodeProto{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"y"}}
	f.Add(tinyModel(17, relu))
	f.Add(tinyModel(13, &onnxpb.NodeProto{OpType: proto.String("Reshape"), Input: []string{"x", "s"}, Output: []string{"y"}},
		&onnxpb.TensorProto{Name: proto.String("s"), Dims: []int64{2}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{1, -1}}))
	for _, c := range hostileCases() {
		if c.name != "10^6 Identity nodes" {
			f.Add(c.data())
		}
	}
	f.Add(chainModel("Relu", 8))
	x := []*onnxpb.ValueInfoProto{hvi("x", 1, 2, 5, 5)}
	f.Add(hmodel([]*onnxpb.NodeProto{
		hnode("Conv", []string{"x", "w"}, "c", hints("pads", 1, 1, 1, 1)),
		hnode("Relu", []string{"c"}, "r"),
		hnode("MaxPool", []string{"r"}, "p", hints("kernel_shape", 3, 3), hints("strides", 2, 2), intAttr("ceil_mode", 1)),
		hnode("Conv", []string{"p", "w2"}, "d"),
		hnode("Concat", []string{"p", "d"}, "k", intAttr("axis", 1)),
		hnode("GlobalAveragePool", []string{"k"}, "g"),
		hnode("Flatten", []string{"g"}, "f", intAttr("axis", 1)),
		hnode("Gemm", []string{"f", "fc"}, "y", intAttr("transB", 1)),
	}, x, []*onnxpb.TensorProto{hfloats("w", []int64{3, 2, 3, 3}, 54), hfloats("w2", []int64{2, 3, 1, 1}, 6), hfloats("fc", []int64{4, 5}, 20)}))
}

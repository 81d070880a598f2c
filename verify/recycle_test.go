package verify

import (
	"runtime"
	"testing"

	"github.com/gnconv/gnconv/convert"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestRecycledBuffers: operator outputs are recycled once no name holds
// them. A Flatten shares its input's buffer, so the buffer outlives the
// input's last use; and outputs handed to the caller are never reused.
func TestRecycledBuffers(t *testing.T) {
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}}}}
	}
	ones := &onnxpb.AttributeProto{Name: proto.String("kernel_shape"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1}}
	nd := func(op string, in []string, out string, a ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: []string{out}, Attribute: a}
	}
	pm := &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{
			nd("MaxPool", []string{"x"}, "a", ones),
			nd("Flatten", []string{"a"}, "f", intAttr("axis", 1)), // last use of a; f holds its buffer
			nd("MaxPool", []string{"z"}, "b", ones),               // must not get a's buffer
			nd("MaxPool", []string{"b"}, "c", ones),               // b's buffer is free for the next run
		}, Input: []*onnxpb.ValueInfoProto{vi("x"), vi("z")}, Output: []*onnxpb.ValueInfoProto{vi("f"), vi("c")}}}
	data, _ := proto.Marshal(pm)
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	in := func(v float32) *Value {
		x := &Value{Shape: []int{1, 1, 3, 3}, F: make([]float32, 9)}
		for i := range x.F {
			x.F[i] = v + float32(i)
		}
		return x
	}
	first, err := m.Run(map[string]*Value{"x": in(0), "z": in(100)})
	if err != nil {
		t.Fatal(err)
	}
	check := func(outs []*Value, x, z float32) {
		t.Helper()
		for i := 0; i < 9; i++ {
			if outs[0].F[i] != x+float32(i) || outs[1].F[i] != z+float32(i) {
				t.Fatalf("f = %v, c = %v; want %v.. and %v..", outs[0].F, outs[1].F, x, z)
			}
		}
	}
	check(first, 0, 100)
	second, err := m.Run(map[string]*Value{"x": in(200), "z": in(300)})
	if err != nil {
		t.Fatal(err)
	}
	check(second, 200, 300)
	check(first, 0, 100)
}

// TestSteadyStateRunsRecycle: once a model has run, later runs take their
// activations from the recycled buffers, so a run allocates only small
// bookkeeping, not the network's activations (a Conv fused with its Relu
// once kept every such buffer out of the pool).
func TestSteadyStateRunsRecycle(t *testing.T) {
	m := emitted(t, fixtureNet(t, "tutorial_aux.pth").WithoutAux(), convert.ONNXOptions{Height: 96, Width: 96})
	in := map[string]*Value{"input": {Shape: []int{2, 3, 96, 96}, F: make([]float32, 2*3*96*96)}}
	// the first run packs the weights and fills the pool; the network's
	// activations at this size come to about 4 MB a run
	for run := 0; run < 3; run++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := m.Run(in); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if bytes := after.TotalAlloc - before.TotalAlloc; run > 0 && bytes > 1<<20+1<<19 {
			t.Fatalf("run %d allocated %d bytes: activations are not recycled", run+1, bytes)
		}
	}
}

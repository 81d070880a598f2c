package interop

import (
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify"
	"golang.org/x/sys/cpu"
	"google.golang.org/protobuf/proto"
)

// withQuantizedOutputs is an int8 file with every QuantizeLinear's
// output also a graph output (uint8, shape left open), in node order.
func withQuantizedOutputs(t *testing.T, data []byte) ([]byte, []string) {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range m.Graph.Node {
		if n.GetOpType() != "QuantizeLinear" {
			continue
		}
		name := n.Output[0]
		names = append(names, name)
		m.Graph.Output = append(m.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_UINT8))}}}})
	}
	out, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	return out, names
}

// TestInt8QuantizedTensorsAsORT: every quantized value of every int8 file
// (each layer's uint8 output) is the same in onnxruntime and in the
// interpreter, on four of the photo folder's images. onnxruntime sums
// exactly only where the CPU has VNNI: without it, its uint8×int8 kernels
// add pairs of products in saturating int16 (VPMADDUBSW), so there the
// differences are reported, not failed.
func TestInt8QuantizedTensorsAsORT(t *testing.T) {
	requireORT(t)
	exact := cpu.X86.HasAVX512VNNI || cpu.X86.HasAVXVNNI
	for _, f := range int8Files(t) {
		net := f.net
		h, w := net.Size[0], net.Size[1]
		data, names := withQuantizedOutputs(t, f.data)
		m, err := verify.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		n := 4
		x := f.images[:n*net.InChannels*h*w]
		got, err := m.Run(map[string]*verify.Value{"input": {Shape: []int{n, net.InChannels, h, w}, F: x}})
		if err != nil {
			t.Fatal(err)
		}
		outs := []Typed{{Elem: Float32, Shape: []int64{int64(n), int64(net.Classes)}}}
		for _, v := range got[1:] {
			s := make([]int64, len(v.Shape))
			for i, d := range v.Shape {
				s[i] = int64(d)
			}
			outs = append(outs, Typed{Elem: Uint8, Shape: s})
		}
		s, err := NewSession(data, "input", append([]string{"logits"}, names...), 1)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.RunTyped([]Typed{{Elem: Float32, Shape: []int64{int64(n), int64(net.InChannels), int64(h), int64(w)}, Data: x}}, outs)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		values, differ, layers := 0, 0, 0
		for i, name := range names {
			a, b := res[i+1], got[i+1].I
			if len(a) != len(b) || len(b) == 0 {
				t.Fatalf("%s: %s: %d values from onnxruntime, %d from the interpreter", f.name, name, len(a), len(b))
			}
			d := 0
			for j := range a {
				if int64(a[j]) != b[j] {
					d++
				}
			}
			values += len(a)
			differ += d
			if d > 0 {
				layers++
				if exact {
					t.Errorf("%s: %s: %d of %d quantized values differ", f.name, name, d, len(a))
				}
			}
		}
		t.Logf("%s: %d quantized tensors, %d values: %d differ, in %d tensors (VNNI: %v)", f.name, len(names), values, differ, layers, exact)
	}
}

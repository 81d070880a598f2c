package convert_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/half"
	"github.com/gnconv/gnconv/internal/labels"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/preprocess"
)

func edgesNet(t *testing.T) *graph.Net {
	t.Helper()
	ck, err := fixture.Checkpoint("tutorial_aux.pth")
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func metadata(m *onnxpb.ModelProto) map[string]string {
	out := map[string]string{}
	for _, p := range m.MetadataProps {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}

func TestLabelsInMetadata(t *testing.T) {
	net := edgesNet(t)
	names := make([]string, net.Classes)
	for i := range names {
		names[i] = "class " + string(rune('a'+i))
	}
	em, err := convert.EmitONNX(net, convert.ONNXOptions{Labels: names})
	if err != nil {
		t.Fatal(err)
	}
	got, err := labels.Decode(metadata(em.Model)[labels.MetadataKey])
	if err != nil || strings.Join(got, "|") != strings.Join(names, "|") {
		t.Fatalf("labels read back as %q (%v)", got, err)
	}
	if _, err := convert.EmitONNX(net, convert.ONNXOptions{Labels: names[1:]}); err == nil || !strings.Contains(err.Error(), "class names") {
		t.Fatalf("a label count other than the classes': %v", err)
	}
}

func TestSoftmaxOutputNames(t *testing.T) {
	em, err := convert.EmitONNX(edgesNet(t), convert.ONNXOptions{Softmax: true, Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(em.Outputs, ","); got != "probabilities,aux1_probabilities,aux2_probabilities" {
		t.Fatalf("outputs %s", got)
	}
}

func TestPreprocessNodes(t *testing.T) {
	net := edgesNet(t)
	for _, layout := range []string{preprocess.NHWC, preprocess.NCHW} {
		s, err := preprocess.Preset("imagenet", 3)
		if err != nil {
			t.Fatal(err)
		}
		s.Layout = layout
		em, err := convert.EmitONNX(net, convert.ONNXOptions{Preprocess: &s, Batch: 4})
		if err != nil {
			t.Fatal(err)
		}
		g := em.Model.Graph
		in := g.Input[0]
		tt := in.GetType().GetTensorType()
		var dims []int64
		for _, d := range tt.GetShape().GetDim() {
			dims = append(dims, d.GetDimValue())
		}
		want := []int64{4, 224, 224, 3}
		if layout == preprocess.NCHW {
			want = []int64{4, 3, 224, 224}
		}
		if in.GetName() != "image" || onnxpb.TensorProto_DataType(tt.GetElemType()) != onnxpb.TensorProto_UINT8 || !equal64(dims, want) {
			t.Errorf("%s: input %s %v %v", layout, in.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()), dims)
		}
		var ops []string
		for _, n := range g.Node[:5] {
			ops = append(ops, n.GetOpType())
		}
		wantOps := "Cast,Transpose,Div,Sub,Div"
		if layout == preprocess.NCHW {
			wantOps = "Cast,Div,Sub,Div,Conv"
		}
		if strings.Join(ops, ",") != wantOps {
			t.Errorf("%s: first nodes %v", layout, ops)
		}
		md := metadata(em.Model)
		if md["preprocess"] != "imagenet" || md["mean"] != "0.485,0.456,0.406" || md["std"] != "0.229,0.224,0.225" || md["input_layout"] != layout || md["input_dtype"] != "uint8" {
			t.Errorf("%s: metadata %v", layout, md)
		}
	}
	// a 1-channel network: imagenet's three values are refused, tutorial's
	// per-channel 0.5 fits
	if _, err := preprocess.Preset("imagenet", 1); err == nil {
		t.Error("imagenet for one channel: no error")
	}
	if s, err := preprocess.Preset("tutorial", 1); err != nil || len(s.Mean) != 1 {
		t.Errorf("tutorial for one channel: %v %v", s, err)
	}
	bad := preprocess.Spec{Name: "custom", Mean: []float32{0, 0}, Std: []float32{1, 1}, Layout: preprocess.NHWC}
	if _, err := convert.EmitONNX(net, convert.ONNXOptions{Preprocess: &bad}); err == nil {
		t.Error("two means for a 3-channel network: no error")
	}
	zero := preprocess.Spec{Name: "custom", Mean: []float32{0, 0, 0}, Std: []float32{1, 0, 1}, Layout: preprocess.NHWC}
	if _, err := convert.EmitONNX(net, convert.ONNXOptions{Preprocess: &zero}); err == nil {
		t.Error("a zero std: no error")
	}
}

func equal64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFloat16Weights: every float initializer is float16, each value the
// float16 nearest the float32 one (after batch norm was folded), the edges
// are Casts, and the metadata says so.
func TestFloat16Weights(t *testing.T) {
	net := edgesNet(t)
	f32, err := convert.EmitONNX(net, convert.ONNXOptions{Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]*onnxpb.TensorProto{}
	for _, in := range f32.Model.Graph.Initializer {
		ref[in.GetName()] = in
	}
	for _, io := range []bool{false, true} {
		em, err := convert.EmitONNX(net, convert.ONNXOptions{Aux: true, Float16: true, Float16IO: io})
		if err != nil {
			t.Fatal(err)
		}
		g := em.Model.Graph
		for _, in := range g.Initializer {
			r := ref[in.GetName()]
			if onnxpb.TensorProto_DataType(r.GetDataType()) != onnxpb.TensorProto_FLOAT {
				continue
			}
			if onnxpb.TensorProto_DataType(in.GetDataType()) != onnxpb.TensorProto_FLOAT16 || len(in.RawData) != len(r.RawData)/2 {
				t.Fatalf("%s: %v, %d bytes", in.GetName(), onnxpb.TensorProto_DataType(in.GetDataType()), len(in.RawData))
			}
			for i := 0; i < len(in.RawData)/2; i++ {
				want := half.FromFloat32(math.Float32frombits(binary.LittleEndian.Uint32(r.RawData[4*i:])))
				if got := binary.LittleEndian.Uint16(in.RawData[2*i:]); got != want {
					t.Fatalf("%s[%d]: %#04x, want %#04x", in.GetName(), i, got, want)
				}
			}
		}
		elem := func(v *onnxpb.ValueInfoProto) onnxpb.TensorProto_DataType {
			return onnxpb.TensorProto_DataType(v.GetType().GetTensorType().GetElemType())
		}
		want := onnxpb.TensorProto_FLOAT
		if io {
			want = onnxpb.TensorProto_FLOAT16
		}
		if elem(g.Input[0]) != want || elem(g.Output[0]) != want {
			t.Errorf("io %v: input %v, output %v", io, elem(g.Input[0]), elem(g.Output[0]))
		}
		first, last := g.Node[0].GetOpType(), g.Node[len(g.Node)-1].GetOpType()
		if !io && (first != "Cast" || last != "Cast") {
			t.Errorf("float32 edges: first node %s, last %s", first, last)
		}
		if io && first == "Cast" {
			t.Errorf("float16 edges: a Cast first")
		}
		if md := metadata(em.Model); md["dtype"] != "float16" {
			t.Errorf("metadata dtype %q", md["dtype"])
		}
	}
	if _, err := convert.EmitONNX(net, convert.ONNXOptions{Float16IO: true}); err == nil {
		t.Error("float16 edges on a float32 network: no error")
	}
}

// TestDynamicSize: --size dynamic leaves height and width symbolic, says
// the smallest size in the metadata and the input's doc_string, refuses
// the aux heads, and a fixed size below the smallest names it.
func TestDynamicSize(t *testing.T) {
	net := edgesNet(t)
	mh, mw := convert.MinInputSize(net)
	if mh <= 1 || mh > net.Size[0] || mw <= 1 || mw > net.Size[1] {
		t.Fatalf("smallest size %dx%d", mh, mw)
	}
	if net.WithoutAux().CheckInput(mh, mw) != nil || net.WithoutAux().CheckInput(mh-1, net.Size[1]) == nil {
		t.Fatalf("%dx%d is not the smallest size", mh, mw)
	}
	for _, pre := range []bool{false, true} {
		o := convert.ONNXOptions{Dynamic: true}
		if pre {
			s, _ := preprocess.Preset("imagenet", 3)
			s.Layout = preprocess.NHWC
			o.Preprocess = &s
		}
		em, err := convert.EmitONNX(net, o)
		if err != nil {
			t.Fatal(err)
		}
		in := em.Model.Graph.Input[0]
		var dims []string
		for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				dims = append(dims, d.GetDimParam())
			} else {
				dims = append(dims, fmt.Sprint(d.GetDimValue()))
			}
		}
		want := "batch,3,height,width"
		if pre {
			want = "batch,height,width,3"
		}
		if strings.Join(dims, ",") != want {
			t.Errorf("input dims %v, want %s", dims, want)
		}
		md := metadata(em.Model)
		if md["input_size"] != "dynamic" || md["min_input_size"] != fmt.Sprintf("%d,%d", mh, mw) {
			t.Errorf("metadata input_size %q, min_input_size %q", md["input_size"], md["min_input_size"])
		}
		if !strings.Contains(in.GetDocString(), fmt.Sprintf("any size from %dx%d", mh, mw)) {
			t.Errorf("input doc %q", in.GetDocString())
		}
	}
	if _, err := convert.EmitONNX(net, convert.ONNXOptions{Dynamic: true, Aux: true}); err == nil || !strings.Contains(err.Error(), "aux") {
		t.Errorf("dynamic with aux: %v", err)
	}
	_, err := convert.EmitONNX(net, convert.ONNXOptions{Height: mh - 1, Width: mw})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the smallest input this network takes is %dx%d", mh, mw)) {
		t.Errorf("too small: %v", err)
	}
}

package verify

import (
	"encoding/binary"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/convert/calib"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// calibrated holds each network's statistics for int8Proto (the tests
// that use it run one at a time).
var calibrated = map[*graph.Net]*calib.Collector{}

// int8Proto is the int8 file of a fixture network, calibrated on random
// standard normal batches (the distribution verify's random inputs
// come from).
func int8Proto(t *testing.T, n *graph.Net, method string) *onnxpb.ModelProto {
	t.Helper()
	c := calibrated[n]
	if c == nil {
		c = calib.New(n)
		rng := rand.New(rand.NewSource(7))
		h, w := n.Size[0], n.Size[1]
		for b := 0; b < 4; b++ {
			x := make([]float32, 2*n.InChannels*h*w)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			if err := c.Add(x, 2, h, w); err != nil {
				t.Fatal(err)
			}
		}
		calibrated[n] = c
	}
	q, err := c.Int8(calib.Options{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	em, err := convert.EmitONNX(n, convert.ONNXOptions{Version: "test", Int8: q})
	if err != nil {
		t.Fatal(err)
	}
	return em.Model
}

func marshal(t *testing.T, pm *onnxpb.ModelProto) []byte {
	t.Helper()
	data, err := proto.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func initializer(t *testing.T, pm *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
	t.Helper()
	for _, x := range pm.Graph.Initializer {
		if x.GetName() == name {
			return x
		}
	}
	t.Fatalf("no initializer %s", name)
	return nil
}

// runInt8 verifies an int8 file under its default bound and checks its
// weights; it returns whether both pass.
func runInt8(t *testing.T, n *graph.Net, pm *onnxpb.ModelProto) (*Report, *QuantCheck) {
	t.Helper()
	data := marshal(t, pm)
	rep, err := Run(data, n, Options{Inputs: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return rep, CheckQuantized(m, n)
}

// TestInt8Verify: an int8 file passes verify under the int8 bound, its
// structure reads the same in onnx-go, and its weights are the
// reference's within half a step; one altered weight, a weight scale or
// bias off, or a value dequantized otherwise than it was quantized, each
// fails.
func TestInt8Verify(t *testing.T) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		n := fixtureNet(t, name).WithoutAux()
		methods := []string{"minmax"}
		if name == "tutorial_aux.pth" {
			methods = calib.Methods
		}
		for _, method := range methods {
			pm := int8Proto(t, n, method)
			rep, qc := runInt8(t, n, pm)
			// entropy clips the tails on purpose, and random inputs have
			// long ones: its outputs are held to the bound on images only
			// (interop tests), its weights and structure here
			if (!rep.Pass && method != "entropy") || !rep.Structure.Pass || qc == nil || !qc.Pass || qc.Weights == 0 || qc.Biases == 0 || qc.Pairs == 0 {
				t.Fatalf("%s %s: %+v %+v", name, method, rep, qc)
			}
			t.Logf("%s %s: logits max abs %.3g, %.3g of max |reference| (bound %.3g), top-1 %.0f%%; weights worst %.3f steps",
				name, method, rep.Outputs[0].MaxAbs, rep.Outputs[0].MaxAbs/rep.Outputs[0].maxRef, rep.Outputs[0].Bound, 100*rep.Outputs[0].Top1, qc.Worst)
		}
		conv := n.Convs()[3].Module
		for _, c := range []struct {
			what   string
			change func(pm *onnxpb.ModelProto)
		}{
			{"one weight one step off", func(pm *onnxpb.ModelProto) {
				w := initializer(t, pm, conv+".weight")
				w.RawData[5]++
			}},
			{"a weight scale 1% off", func(pm *onnxpb.ModelProto) {
				s := initializer(t, pm, conv+".weight_scale")
				v := float32frombytes(s.RawData[8:12]) * 1.01
				putFloat32(s.RawData[8:12], v)
			}},
			{"a bias scale doubled", func(pm *onnxpb.ModelProto) {
				s := initializer(t, pm, conv+".bias_scale")
				putFloat32(s.RawData[0:4], 2*float32frombytes(s.RawData[0:4]))
			}},
			{"an activation's scale a quarter, in its quantization and dequantization", func(pm *onnxpb.ModelProto) {
				s := initializer(t, pm, "inception4a.scale")
				putFloat32(s.RawData, float32frombytes(s.RawData)/4)
			}},
			{"a dequantization with its own scale", func(pm *onnxpb.ModelProto) {
				for _, nd := range pm.Graph.Node {
					if nd.GetOpType() == "DequantizeLinear" && strings.HasSuffix(nd.Input[1], ".scale") && nd.Input[1] != "input.quantized.scale" {
						s := initializer(t, pm, nd.Input[1])
						c := proto.Clone(s).(*onnxpb.TensorProto)
						c.Name = proto.String("other.scale")
						putFloat32(c.RawData, 1.5*float32frombytes(c.RawData))
						pm.Graph.Initializer = append(pm.Graph.Initializer, c)
						nd.Input[1] = "other.scale"
						return
					}
				}
				t.Fatal("no activation's DequantizeLinear")
			}},
		} {
			pm := int8Proto(t, n, "minmax")
			c.change(pm)
			rep, qc := runInt8(t, n, pm)
			if rep.Pass && qc.Pass {
				t.Errorf("%s, %s: passes", name, c.what)
			}
			if qc.Pass && !strings.HasPrefix(c.what, "an activation's") {
				t.Errorf("%s, %s: the weight check passes", name, c.what)
			}
			t.Logf("%s, %s: logits max abs %.3g (bound %.3g); weights %v %q", name, c.what, rep.Outputs[0].MaxAbs, rep.Outputs[0].Bound, qc.Pass, qc.Failures)
		}
	}
}

func float32frombytes(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

func putFloat32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }

// TestInt8IntegerLayers: in gnconv's int8 file every convolution, the
// linear layer and the average pool run in integers (intPlans); a bias
// at another scale than x_scale·w_scale leaves its convolution on the
// float path the file describes.
func TestInt8IntegerLayers(t *testing.T) {
	n := fixtureNet(t, "tutorial_aux.pth").WithoutAux()
	pm := int8Proto(t, n, "minmax")
	m, err := Parse(marshal(t, pm))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i := range m.ints {
		kinds[m.order[i].GetOpType()]++
	}
	if kinds["Conv"] != len(n.Convs()) || kinds["Gemm"] != 1 || kinds["GlobalAveragePool"] != 1 {
		t.Errorf("integer layers %v, want %d Conv, 1 Gemm, 1 GlobalAveragePool", kinds, len(n.Convs()))
	}
	s := initializer(t, pm, n.Convs()[3].Module+".bias_scale")
	putFloat32(s.RawData[0:4], 2*float32frombytes(s.RawData[0:4]))
	m, err = Parse(marshal(t, pm))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ints) != len(n.Convs())+1 {
		t.Errorf("%d integer layers with one bias off, want %d", len(m.ints), len(n.Convs())+1)
	}
}

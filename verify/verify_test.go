package verify_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify"
	"google.golang.org/protobuf/proto"
)

var (
	netsMu sync.Mutex
	nets   = map[string]*graph.Net{}
)

// net is a fixture's network, loaded once (verify only reads it).
func net(t *testing.T, name string) *graph.Net {
	t.Helper()
	netsMu.Lock()
	defer netsMu.Unlock()
	if n, ok := nets[name]; ok {
		return n
	}
	ck, err := fixture.Checkpoint(name)
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nets[name] = n
	return n
}

func emit(t *testing.T, n *graph.Net, opts convert.ONNXOptions) *onnxpb.ModelProto {
	t.Helper()
	m, err := convert.EmitONNX(n, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m.Model
}

func run(t *testing.T, pm *onnxpb.ModelProto, n *graph.Net) *verify.Report {
	t.Helper()
	data, err := proto.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(data, n, verify.Options{Inputs: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestEveryEmittedVariantPasses(t *testing.T) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		for _, aux := range []bool{false, true} {
			for _, keepBN := range []bool{false, true} {
				for _, opset := range []int{13, 17} {
					if keepBN && strings.HasPrefix(name, "tutorial") {
						continue
					}
					softmax := opset == 13 && !aux
					t.Run(fmt.Sprintf("%s/aux=%v/keepBN=%v/opset=%d", name, aux, keepBN, opset), func(t *testing.T) {
						n := net(t, name)
						rep := run(t, emit(t, n, convert.ONNXOptions{Opset: opset, Aux: aux, KeepBN: keepBN, Softmax: softmax}), n)
						if !rep.Pass || len(rep.Outputs) != map[bool]int{true: 3, false: 1}[aux] {
							t.Fatalf("%+v", rep)
						}
						for _, o := range rep.Outputs {
							if o.Top1 != 1 || o.Cosine < 0.99999 || o.Softmax != softmax {
								t.Errorf("%s: %+v", o.Name, o)
							}
						}
						if !rep.Structure.Pass {
							t.Errorf("structure: %+v", rep.Structure)
						}
					})
				}
			}
		}
	}
}

func node(t *testing.T, pm *onnxpb.ModelProto, name string) *onnxpb.NodeProto {
	for _, n := range pm.Graph.Node {
		if n.GetName() == name {
			return n
		}
	}
	t.Fatalf("no node %s", name)
	return nil
}

func setAttr(n *onnxpb.NodeProto, name string, f func(a *onnxpb.AttributeProto)) {
	for i, a := range n.Attribute {
		if a.GetName() == name {
			if f == nil {
				n.Attribute = append(n.Attribute[:i], n.Attribute[i+1:]...)
			} else {
				f(a)
			}
			return
		}
	}
}

// TestAlteredFilesFail: each file is broken on purpose in one place, and
// verify must fail, naming the output and the size of the error.
func TestAlteredFilesFail(t *testing.T) {
	tv := net(t, "torchvision_aux.pth")
	cases := []struct {
		name  string
		opts  convert.ONNXOptions
		alter func(t *testing.T, pm *onnxpb.ModelProto)
		bad   string // the output that must fail
	}{
		{"one weight changed", convert.ONNXOptions{}, func(t *testing.T, pm *onnxpb.ModelProto) {
			for _, init := range pm.Graph.Initializer {
				if init.GetName() == "inception4e.branch1.conv.weight" {
					v := math.Float32frombits(binary.LittleEndian.Uint32(init.RawData[40:]))
					binary.LittleEndian.PutUint32(init.RawData[40:], math.Float32bits(v+2))
				}
			}
		}, "logits"},
		{"a pad changed", convert.ONNXOptions{}, func(t *testing.T, pm *onnxpb.ModelProto) {
			// same total padding, so every shape stays; the values shift
			setAttr(node(t, pm, "conv1/conv"), "pads", func(a *onnxpb.AttributeProto) { a.Ints = []int64{2, 2, 4, 4} })
		}, "logits"},
		{"ceil_mode dropped", convert.ONNXOptions{}, func(t *testing.T, pm *onnxpb.ModelProto) {
			setAttr(node(t, pm, "maxpool2"), "ceil_mode", nil)
		}, "logits"},
		{"BN epsilon changed", convert.ONNXOptions{KeepBN: true}, func(t *testing.T, pm *onnxpb.ModelProto) {
			for _, n := range pm.Graph.Node {
				if n.GetOpType() == "BatchNormalization" {
					setAttr(n, "epsilon", func(a *onnxpb.AttributeProto) { a.F = proto.Float32(1e-5) })
				}
			}
		}, "logits"},
		{"aux heads swapped", convert.ONNXOptions{Aux: true}, func(t *testing.T, pm *onnxpb.ModelProto) {
			for _, o := range pm.Graph.Output {
				switch o.GetName() {
				case "aux1":
					o.Name = proto.String("aux2")
				case "aux2":
					o.Name = proto.String("aux1")
				}
			}
			for _, n := range pm.Graph.Node {
				switch n.Output[0] {
				case "aux1":
					n.Output[0] = "aux2"
				case "aux2":
					n.Output[0] = "aux1"
				}
			}
		}, "aux1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pm := emit(t, tv, c.opts)
			c.alter(t, pm)
			rep := run(t, pm, tv)
			if rep.Pass {
				t.Fatalf("verify passed an altered file: %+v", rep.Outputs)
			}
			for _, o := range rep.Outputs {
				if o.Name == c.bad {
					if o.Pass || o.MaxAbs <= o.Bound {
						t.Errorf("%s passes: max abs %g, bound %g", o.Name, o.MaxAbs, o.Bound)
					}
					t.Logf("%s: max abs error %.3g (bound %.3g), top-1 %.2f", o.Name, o.MaxAbs, o.Bound, o.Top1)
				}
			}
		})
	}
}

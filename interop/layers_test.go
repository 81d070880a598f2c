package interop

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify"
	"google.golang.org/protobuf/proto"
)

// torchExport has torch.onnx.export write a fixture's network and
// returns the file, decoded.
func torchExport(t *testing.T, weights string, args ...string) *onnxpb.ModelProto {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.onnx")
	cmd := append([]string{"torch_export.py", filepath.Join(fixture.Dir(), weights), out}, args...)
	if res, err := exec.Command(debianPython, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("torch.onnx.export: %v\n%s", err, res)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		t.Fatal(err)
	}
	return pm
}

// alterConvWeight adds delta to one value of the weight the Conv node of
// a module reads (torch names folded weights onnx::Conv_N, so the weight
// is found through its node).
func alterConvWeight(t *testing.T, pm *onnxpb.ModelProto, node string, index int, delta float32) {
	t.Helper()
	weight := ""
	for _, n := range pm.Graph.Node {
		if n.GetName() == node {
			weight = n.Input[1]
		}
	}
	for _, init := range pm.Graph.Initializer {
		if weight != "" && init.GetName() == weight {
			if len(init.RawData) == 0 {
				t.Fatalf("%s keeps its values outside raw_data", weight)
			}
			v := math.Float32frombits(binary.LittleEndian.Uint32(init.RawData[4*index:]))
			binary.LittleEndian.PutUint32(init.RawData[4*index:], math.Float32bits(v+delta))
			return
		}
	}
	t.Fatalf("no node %s reading an initializer", node)
}

// stripNames leaves a file no name to map by: nodes lose their names and
// values are numbered, as older torch versions write them.
func stripNames(pm *onnxpb.ModelProto) {
	rename := map[string]string{}
	for i, n := range pm.Graph.Node {
		n.Name = nil
		for j, o := range n.Output {
			rename[o] = fmt.Sprint(1000 + i)
			n.Output[j] = rename[o]
		}
	}
	for _, n := range pm.Graph.Node {
		for j, in := range n.Input {
			if r, ok := rename[in]; ok {
				n.Input[j] = r
			}
		}
	}
	for _, o := range pm.Graph.Output {
		o.Name = proto.String(rename[o.GetName()])
	}
	pm.Graph.ValueInfo = nil
}

func verifyExport(t *testing.T, pm *onnxpb.ModelProto, net *graph.Net, opts verify.Options) *verify.Report {
	t.Helper()
	data, err := proto.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	opts.Inputs, opts.Seed = 1, 5
	rep, err := verify.Run(data, net, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestLayersOfTorchExports: torch.onnx.export's files (folded, with
// BatchNormalization nodes, the tutorial's with aux heads, and one
// stripped of its names) map every module of the reference, by node
// names or by shape and order, and agree everywhere; with one weight of
// one Inception branch changed, verify fails and names that branch's
// conv block as the first divergence, every module before it passing.
func TestLayersOfTorchExports(t *testing.T) {
	requirePython(t, "torch", "torchvision", "onnx")
	load := func(weights string, opts graph.Options) *graph.Net {
		ck, err := convert.ReadCheckpoint(filepath.Join(fixture.Dir(), weights))
		if err != nil {
			t.Fatal(err)
		}
		net, _, err := graph.Load(ck.StateDict, opts)
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	tv := load("torchvision_aux.pth", graph.Options{Aux: graph.AuxOff, NonStrict: true})
	tutorial := load("tutorial_aux.pth", graph.Options{})
	cases := []struct {
		name     string
		weights  string
		args     []string
		net      *graph.Net
		outputs  []string
		strip    bool
		mappedBy string
		node     string // the Conv node whose weight is altered
		module   string
		index    int // a weight whose input is not zero on this batch (ReLU)
	}{
		{"torchvision, folded, opset 17", "torchvision_aux.pth", []string{"17", "--dynamic"}, tv, nil, false, "node names",
			"/inception4a/branch3/branch3.1/conv/Conv", "inception4a.branch3.1", 40},
		{"torchvision, BatchNormalization nodes, opset 11", "torchvision_aux.pth", []string{"11", "--no-folding", "--inits-as-inputs"}, tv, nil, false, "node names",
			"/inception4a/branch3/branch3.1/conv/Conv", "inception4a.branch3.1", 40},
		{"tutorial with aux heads, opset 13", "tutorial_aux.pth", []string{"13", "--tutorial"}, tutorial, []string{"logits", "aux2", "aux1"}, false, "node names",
			"/inception4d/branch4/branch4.1/conv/Conv", "inception4d.branch4.1", 20},
		{"torchvision, no names", "torchvision_aux.pth", []string{"13"}, tv, nil, true, "shape and order",
			"/inception4a/branch3/branch3.1/conv/Conv", "inception4a.branch3.1", 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pm := torchExport(t, c.weights, c.args...)
			altered := proto.Clone(pm).(*onnxpb.ModelProto)
			alterConvWeight(t, altered, c.node, c.index, 5)
			if c.strip {
				stripNames(pm)
				stripNames(altered)
			}
			rep := verifyExport(t, pm, c.net, verify.Options{Outputs: c.outputs, Layers: true})
			lr := rep.Layers
			if !rep.Pass || lr == nil || !lr.Pass || len(lr.Unmapped) > 0 || lr.Error != "" {
				t.Fatalf("pass %v, layers %+v", rep.Pass, lr)
			}
			for _, l := range lr.Layers {
				if !l.Compared || l.MappedBy != c.mappedBy {
					t.Fatalf("%+v", l)
				}
			}
			rep = verifyExport(t, altered, c.net, verify.Options{Outputs: c.outputs})
			lr = rep.Layers
			if rep.Pass || lr == nil || lr.First != c.module {
				t.Fatalf("pass %v, layers %+v", rep.Pass, lr)
			}
			for _, l := range lr.Layers {
				if l.Module == c.module {
					break
				}
				if !l.Pass {
					t.Fatalf("%s fails before %s: %+v", l.Module, c.module, l)
				}
			}
			t.Log(lr.Divergence())
		})
	}
}

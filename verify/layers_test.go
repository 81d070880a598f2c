package verify_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify"
	"google.golang.org/protobuf/proto"
)

// alterWeight adds delta to one value of an initializer.
func alterWeight(t *testing.T, pm *onnxpb.ModelProto, name string, index int, delta float32) {
	t.Helper()
	for _, init := range pm.Graph.Initializer {
		if init.GetName() == name {
			// the emitter's raw data may be the network's own weights
			init.RawData = append([]byte(nil), init.RawData...)
			v := math.Float32frombits(binary.LittleEndian.Uint32(init.RawData[4*index:]))
			binary.LittleEndian.PutUint32(init.RawData[4*index:], math.Float32bits(v+delta))
			return
		}
	}
	t.Fatalf("no initializer %s", name)
}

func runLayers(t *testing.T, pm *onnxpb.ModelProto, n *graph.Net, layers bool) *verify.Report {
	t.Helper()
	data, err := proto.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(data, n, verify.Options{Inputs: 1, Seed: 3, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestLayersOfEmittedFilesPass: in every variant gnconv writes, every
// module of the reference is found by name and agrees within the bound.
func TestLayersOfEmittedFilesPass(t *testing.T) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		for _, aux := range []bool{false, true} {
			keepBN := name == "torchvision_aux.pth" && aux
			softmax := !aux
			t.Run(fmt.Sprintf("%s/aux=%v", name, aux), func(t *testing.T) {
				n := net(t, name)
				rep := runLayers(t, emit(t, n, convert.ONNXOptions{Aux: aux, KeepBN: keepBN, Softmax: softmax}), n, true)
				lr := rep.Layers
				if !rep.Pass || lr == nil || !lr.Pass || lr.First != "" || len(lr.Unmapped) > 0 || lr.Error != "" {
					t.Fatalf("pass %v, layers %+v", rep.Pass, lr)
				}
				seen := map[string]bool{}
				for _, l := range lr.Layers {
					if !l.Compared || !l.Pass || l.MappedBy != "name" {
						t.Errorf("%+v", l)
					}
					seen[l.Module] = true
				}
				for _, m := range []string{"conv1", "maxpool1", "inception3a.branch1", "inception4a.branch3.1", "inception4a.branch4.0", "inception4a", "fc"} {
					if !seen[m] {
						t.Errorf("no module %s", m)
					}
				}
				if aux && !seen["aux1.fc2"] || !aux && seen["aux1.fc2"] {
					t.Errorf("aux %v, aux1.fc2 compared %v", aux, seen["aux1.fc2"])
				}
			})
		}
	}
}

// firstDivergence checks that the layers before the first divergence
// pass and that it is the module named.
func firstDivergence(t *testing.T, rep *verify.Report, module string) {
	t.Helper()
	lr := rep.Layers
	if rep.Pass || lr == nil {
		t.Fatalf("an altered file passed, or no layer comparison ran: %+v", rep)
	}
	if lr.First != module {
		t.Fatalf("first divergence at %q, want %s (%+v)", lr.First, module, lr)
	}
	for _, l := range lr.Layers {
		if l.Module == module {
			if l.Pass || !l.Compared {
				t.Fatalf("%+v", l)
			}
			break
		}
		if !l.Pass && l.Compared {
			t.Fatalf("%s fails before %s: %+v", l.Module, module, l)
		}
	}
	t.Log(lr.Divergence())
}

// TestAlteredBranchIsFirstDivergence: one weight of one Inception
// branch changed, verify fails and names that branch's conv block as the
// first divergence, without being asked for layers.
func TestAlteredBranchIsFirstDivergence(t *testing.T) {
	for _, c := range []struct {
		net, weight, module string
		index               int // a weight whose input is not zero on this batch (ReLU)
		opts                convert.ONNXOptions
	}{
		{"torchvision_aux.pth", "inception4a.branch3.1.conv.weight", "inception4a.branch3.1", 40, convert.ONNXOptions{}},
		{"torchvision_aux.pth", "inception3b.branch2.0.conv.weight", "inception3b.branch2.0", 40, convert.ONNXOptions{Aux: true, KeepBN: true}},
		{"tutorial_aux.pth", "inception4d.branch4.1.conv.weight", "inception4d.branch4.1", 20, convert.ONNXOptions{Aux: true}},
		{"tutorial_aux.pth", "aux2.fc1.weight", "aux2.fc1", 20, convert.ONNXOptions{Aux: true}},
	} {
		t.Run(c.weight, func(t *testing.T) {
			n := net(t, c.net)
			pm := emit(t, n, c.opts)
			alterWeight(t, pm, c.weight, c.index, 5)
			firstDivergence(t, runLayers(t, pm, n, false), c.module)
		})
	}
}

// anonymous strips a file of every name that could map it: nodes lose
// their names, values are numbered, the producer is not gnconv, so the
// layer comparison maps by shape and order alone.
func anonymous(pm *onnxpb.ModelProto) {
	pm.ProducerName = proto.String("elsewhere")
	rename := map[string]string{}
	for i, n := range pm.Graph.Node {
		n.Name = nil
		for j, o := range n.Output {
			rename[o] = fmt.Sprint(100 + i)
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
}

// TestLayersByShapeAndOrder: a file without names is mapped by shape and
// topological order, and an altered branch is still found.
func TestLayersByShapeAndOrder(t *testing.T) {
	n := net(t, "torchvision_aux.pth").WithoutAux()
	pm := emit(t, n, convert.ONNXOptions{})
	anonymous(pm)
	rep := runLayers(t, pm, n, true)
	lr := rep.Layers
	if !rep.Pass || !lr.Pass || len(lr.Unmapped) > 0 {
		t.Fatalf("%+v", lr)
	}
	for _, l := range lr.Layers {
		if l.MappedBy != "shape and order" {
			t.Fatalf("%+v", l)
		}
	}
	alterWeight(t, pm, "inception4a.branch3.1.conv.weight", 40, 5)
	firstDivergence(t, runLayers(t, pm, n, false), "inception4a.branch3.1")
}

// TestLayersOfVariants: transform_input and a module used twice (the
// LRN of the tutorial's --lrn variant: lrn, then lrn_2) map by name.
func TestLayersOfVariants(t *testing.T) {
	for _, c := range []struct {
		name string
		opts graph.Options
		want string
	}{
		{"torchvision_aux.pth", graph.Options{TransformInput: true, NonStrict: true, Aux: graph.AuxOff}, "transform_input"},
		{"tutorial_aux.pth", graph.Options{LRN: true, NonStrict: true, Aux: graph.AuxOff}, "lrn"},
	} {
		ck, err := fixture.Checkpoint(c.name)
		if err != nil {
			t.Fatal(err)
		}
		n, _, err := graph.Load(ck.StateDict, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		rep := runLayers(t, emit(t, n, convert.ONNXOptions{}), n, true)
		lr := rep.Layers
		if !rep.Pass || !lr.Pass || len(lr.Unmapped) > 0 {
			t.Fatalf("%s: %+v", c.name, lr)
		}
		values := map[string]int{}
		for _, l := range lr.Layers {
			if l.Module == c.want {
				values[l.Value]++
			}
		}
		if values[c.want] != 1 || c.want == "lrn" && values["lrn_2"] != 1 {
			t.Fatalf("%s: %s compared with %v", c.name, c.want, values)
		}
	}
}

// TestRunKeepLeavesRunsAlone: values kept by RunKeep (a branch written
// into its Concat, a value recycled after its last use) are the values
// the run computed, and later runs neither change them nor differ from
// plain runs.
func TestRunKeepLeavesRunsAlone(t *testing.T) {
	n := net(t, "tutorial_aux.pth").WithoutAux()
	pm := emit(t, n, convert.ONNXOptions{Height: 96, Width: 96})
	data, err := proto.Marshal(pm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := verify.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*3*96*96)
	for i := range x {
		x[i] = float32(i%89)/40 - 1
	}
	in := map[string]*verify.Value{"input": {Shape: []int{2, 3, 96, 96}, F: x}}
	plain, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"inception3a.branch2.1": true, "inception3a": true, "conv1": true}
	outs, kept, err := m.RunKeep(in, func(name, op string, shape []int) bool { return names[name] })
	if err != nil {
		t.Fatal(err)
	}
	for name := range names {
		if kept[name] == nil {
			t.Fatalf("%s not kept", name)
		}
	}
	unit, br := kept["inception3a"], kept["inception3a.branch2.1"]
	hw := unit.Shape[2] * unit.Shape[3]
	c, bc, first := unit.Shape[1], br.Shape[1], 64 // branch1 has 64 channels
	for i := 0; i < 2; i++ {
		for j := 0; j < bc*hw; j++ {
			if br.F[i*bc*hw+j] != unit.F[(i*c+first)*hw+j] {
				t.Fatalf("kept branch differs from its channels of the unit at %d", j)
			}
		}
	}
	snapshot := append([]float32(nil), kept["conv1"].F...)
	again, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	for j := range plain[0].F {
		if outs[0].F[j] != plain[0].F[j] || again[0].F[j] != plain[0].F[j] {
			t.Fatalf("logit %d: %v plain, %v keeping, %v after", j, plain[0].F[j], outs[0].F[j], again[0].F[j])
		}
	}
	for j, v := range snapshot {
		if kept["conv1"].F[j] != v {
			t.Fatal("a later run overwrote a kept value")
		}
	}
}

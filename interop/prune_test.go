package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestPrunedCheckpointLoadsStrictlyInPyTorch writes deploy checkpoints of
// both layouts and has PyTorch load them with weights_only=True and
// strict=True into the aux_logits=False network.
func TestPrunedCheckpointLoadsStrictlyInPyTorch(t *testing.T) {
	requirePython(t, "torch", "torchvision")
	m, err := fixture.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		fx := m.Models[name]
		src := filepath.Join(fixture.Dir(), name)
		ck, err := convert.ReadCheckpoint(src)
		if err != nil {
			t.Fatal(err)
		}
		_, rep, err := graph.Load(ck.StateDict, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		kept, removed := graph.StripAux(ck.StateDict, graph.AuxEntries(ck.StateDict, rep))
		if len(removed) == 0 {
			t.Fatalf("%s: nothing removed", name)
		}
		out := filepath.Join(t.TempDir(), "deploy.pth")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := convert.WriteCheckpoint(f, kept); err != nil {
			t.Fatal(err)
		}
		f.Close()
		res, err := exec.Command(debianPython, "torch_deploy_check.py", src, out, fx.Layout, strconv.Itoa(fx.Classes)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, res)
		}
		if !strings.Contains(string(res), `"ok": true`) || !strings.Contains(string(res), "torch.float16") {
			t.Fatalf("%s: %s", name, res)
		}
	}
}

// TestPrunedONNXRunsWithLogitsOnly prunes an emitted file with aux outputs
// and runs what is left.
func TestPrunedONNXRunsWithLogitsOnly(t *testing.T) {
	requireORT(t)
	for _, mf := range loadModels(t, false) {
		model, err := convert.EmitONNX(mf.net, convert.ONNXOptions{Aux: true})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := model.Marshal()
		pm := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, pm); err != nil {
			t.Fatal(err)
		}
		nodes, inits, err := convert.PruneONNXOutputs(pm, []string{"aux1", "aux2"})
		if err != nil || nodes == 0 || inits == 0 {
			t.Fatalf("%s: pruned %d nodes, %d initializers: %v", mf.name, nodes, inits, err)
		}
		plain, _ := convert.EmitONNX(mf.net, convert.ONNXOptions{})
		if len(pm.Graph.Node) != plain.Nodes || len(pm.Graph.Initializer) != plain.Initializers || len(pm.Graph.Output) != 1 {
			t.Fatalf("%s: pruned file has %d nodes, %d initializers, %d outputs; the deploy export has %d, %d, 1",
				mf.name, len(pm.Graph.Node), len(pm.Graph.Initializer), len(pm.Graph.Output), plain.Nodes, plain.Initializers)
		}
		pruned, _ := proto.Marshal(pm)
		outs, err := Run(pruned, "input", []string{"logits"}, mf.x, 2, 3, 224, 224)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fixture.ReadF32(mf.fx.Outputs["logits"].File)
		if err != nil {
			t.Fatal(err)
		}
		if len(outs) != 1 {
			t.Fatalf("%s: %d outputs", mf.name, len(outs))
		}
		if _, err := fixture.Check(outs[0], nil, want, mf.fx.Outputs["logits"].Shape, fixture.Tolerance(want)); err != nil {
			t.Errorf("%s: logits: %v", mf.name, err)
		}
	}
}

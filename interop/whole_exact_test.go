package interop

import (
	"path/filepath"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/verify"
)

// TestWholeModelGivesExactNetwork: whole-model files whose state dicts
// alone would be bound to a wrong network (torchvision's GoogLeNet built
// with transform_input=True; a d2l GoogLeNet with ceil_mode stage pools
// under the d2l preset's exact names; the tutorial network with LRN), and
// pytorch-cifar's. Read whole, their modules' hyperparameters make the
// ONNX file and the reference pass equal PyTorch's recorded outputs; from
// the state dict alone, the same check against PyTorch fails (except for
// cifar, whose preset is its code), so gnconv cannot pass a wrong network.
func TestWholeModelGivesExactNetwork(t *testing.T) {
	requirePython(t, "torch", "torchvision")
	dir := t.TempDir()
	var made map[string]struct {
		Whole bool `json:"whole"`
	}
	pythonJSON(t, &made, "whole_exact.py", dir)
	if len(made) != 5 {
		t.Fatalf("%d files", len(made))
	}
	for name, m := range made {
		if !m.Whole {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ck, err := convert.ReadCheckpoint(filepath.Join(dir, name+".pth"))
			if err != nil {
				t.Fatal(err)
			}
			exp, err := convert.ReadCheckpoint(filepath.Join(dir, name+".expect.pt"))
			if err != nil {
				t.Fatal(err)
			}
			expected, err := verify.ExpectedFrom(exp.StateDict)
			if err != nil {
				t.Fatal(err)
			}
			model := ck.GraphModel()
			if model == nil {
				t.Fatal("no module tree")
			}
			check := func(opts graph.Options) (*verify.Report, *graph.LoadReport) {
				t.Helper()
				net, rep, err := graph.Load(ck.StateDict, opts)
				if err != nil {
					t.Fatal(err)
				}
				m, err := convert.EmitONNX(net, convert.ONNXOptions{})
				if err != nil {
					t.Fatal(err)
				}
				data, err := m.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				vr, err := verify.Run(data, net, verify.Options{Inputs: -1, Expect: expected})
				if err != nil {
					t.Fatal(err)
				}
				return vr, rep
			}
			whole, rep := check(graph.Options{Model: model})
			if !whole.Pass || whole.Expect == nil || !whole.Expect.Pass {
				t.Fatalf("whole model against PyTorch: %s", whole.Expect.Failure())
			}
			for _, c := range whole.Expect.Checks {
				t.Logf("whole model: %s max abs error ONNX %.3g, reference %.3g (bound %.3g)", c.Name, c.ONNX.MaxAbs, c.Reference.MaxAbs, c.Reference.Bound)
			}
			switch name {
			case "tv_transform":
				// transform_input comes from the file, not a flag
				if len(rep.Warnings) != 0 {
					t.Errorf("warnings for a whole model that records transform_input: %v", rep.Warnings)
				}
			case "d2l_ceil":
				if len(rep.FromModel) == 0 {
					t.Errorf("the ceil_mode pools were not reported as the file's own")
				}
			}
			alone, _ := check(graph.Options{})
			switch name {
			case "cifar":
				// the preset says what pytorch-cifar's code does
				if !alone.Expect.Pass {
					t.Fatalf("the cifar preset against PyTorch: %s", alone.Expect.Failure())
				}
			default:
				if alone.Expect.Pass {
					t.Fatalf("the state dict alone binds a network PyTorch disagrees with, yet it passed")
				}
				t.Logf("state dict alone: %s", alone.Expect.Failure())
			}
		})
	}
}

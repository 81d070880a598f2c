package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/verify"
)

// TestVerifyRunsTorchExports has torch.onnx.export write GoogLeNet at
// opsets 11 to 17 and checks that verify runs those files (which gnconv
// did not write), finds them equal to the reference, and tells them from
// the network without (or with) transform_input.
func TestVerifyRunsTorchExports(t *testing.T) {
	requirePython(t, "torch", "torchvision", "onnx")
	weights := filepath.Join(fixture.Dir(), "torchvision_aux.pth")
	ck, err := convert.ReadCheckpoint(weights)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, opset := range []int{11, 12, 13, 14, 15, 16, 17} {
		for _, variant := range []string{"plain", "transform", "unfolded"} {
			if variant != "plain" && opset != 11 && opset != 17 {
				continue
			}
			transform := variant == "transform"
			t.Run(fmt.Sprintf("opset=%d/%s", opset, variant), func(t *testing.T) {
				out := filepath.Join(dir, fmt.Sprintf("tv_%d_%s.onnx", opset, variant))
				args := []string{"torch_export.py", weights, out, fmt.Sprint(opset), "--dynamic"}
				switch variant {
				case "transform":
					args = append(args, "--transform-input")
				case "unfolded": // BatchNormalization nodes, initializers listed as inputs
					args = append(args, "--no-folding", "--inits-as-inputs")
				}
				if res, err := exec.Command(debianPython, args...).CombinedOutput(); err != nil {
					t.Fatalf("torch.onnx.export: %v\n%s", err, res)
				}
				net, _, err := graph.Load(ck.StateDict, graph.Options{Aux: graph.AuxOff, NonStrict: true, TransformInput: transform})
				if err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := verify.Run(data, net, verify.Options{Inputs: 1, Batch: 3, Seed: int64(opset)})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Pass || rep.Opset != opset || rep.Outputs[0].Top1 != 1 {
					t.Fatalf("%+v", rep)
				}
				// the wrong weights' network (no transform_input) must not pass
				other, _, _ := graph.Load(ck.StateDict, graph.Options{Aux: graph.AuxOff, NonStrict: true, TransformInput: !transform})
				if rep, err := verify.Run(data, other, verify.Options{Inputs: 1}); err != nil || rep.Pass {
					t.Fatalf("verify passed a network with transform_input=%v: %v", !transform, err)
				}
			})
		}
	}
}

// TestVerifyRunsTorchExportOfTutorialWithAux: torch exports the tutorial
// network with its aux heads (AvgPool 5/3), under names of its own; verify
// compares all three outputs once told what they are.
func TestVerifyRunsTorchExportOfTutorialWithAux(t *testing.T) {
	requirePython(t, "torch", "torchvision", "onnx")
	weights := filepath.Join(fixture.Dir(), "tutorial_aux.pth")
	out := filepath.Join(t.TempDir(), "tutorial.onnx")
	if res, err := exec.Command(debianPython, "torch_export.py", weights, out, "13", "--tutorial", "--dynamic").CombinedOutput(); err != nil {
		t.Fatalf("torch.onnx.export: %v\n%s", err, res)
	}
	ck, err := convert.ReadCheckpoint(weights)
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Run(data, net, verify.Options{}); err == nil {
		t.Fatal("three outputs of unknown names must be named")
	}
	rep, err := verify.Run(data, net, verify.Options{Outputs: []string{"logits", "aux2", "aux1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || len(rep.Outputs) != 3 {
		t.Fatalf("%+v", rep)
	}
	rep, err = verify.Run(data, net, verify.Options{Outputs: []string{"logits", "aux1", "aux2"}})
	if err != nil || rep.Pass {
		t.Fatalf("swapped aux heads passed: %v", err)
	}
}

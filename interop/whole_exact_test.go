package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/verify"
)

// TestWholeModelGivesExactNetwork: whole-model files whose state dicts
// alone would be bound to a wrong network (torchvision's GoogLeNet built
// with transform_input=True; a d2l GoogLeNet with ceil_mode stage pools
// under the d2l preset's exact names; the tutorial network with LRN), and
// pytorch-cifar's, d2l 1.0's and one only a layout file describes. Read whole, their modules' hyperparameters make the
// ONNX file and the reference pass equal PyTorch's recorded outputs; from
// the state dict alone, the same check against PyTorch fails (except for
// cifar, whose preset is its code), so gnconv cannot pass a wrong network.
func TestWholeModelGivesExactNetwork(t *testing.T) {
	dir, made := wholeExact(t)
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
			var layout *graph.Layout // a preset, found by the names
			if name == "custom" {
				if layout, err = graph.ReadLayoutFile("testdata/family_custom_layout.json"); err != nil {
					t.Fatal(err)
				}
			}
			check := func(opts graph.Options) (*verify.Report, *graph.LoadReport) {
				t.Helper()
				opts.Layout = layout
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
			switch {
			case m.ExactPreset:
				// the network's own description says what its code does
				if !alone.Expect.Pass {
					t.Fatalf("the state dict with its own description against PyTorch: %s", alone.Expect.Failure())
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

// wholeExact makes whole_exact.py's files once for the test binary.
var wholeExactOnce struct {
	sync.Once
	dir  string
	made map[string]wholeExactFile
}

// wholeExactFile is what whole_exact.py says of a file it made.
type wholeExactFile struct {
	Whole       bool `json:"whole"`
	ExactPreset bool `json:"exact_preset"`
}

func wholeExact(t *testing.T) (string, map[string]wholeExactFile) {
	t.Helper()
	requirePython(t, "torch", "torchvision")
	w := &wholeExactOnce
	w.Do(func() {
		dir, err := os.MkdirTemp("", "gnconv-whole-exact-")
		if err != nil {
			t.Fatal(err)
		}
		pythonJSON(t, &w.made, "whole_exact.py", dir)
		w.dir = dir
	})
	if len(w.made) != 7 {
		t.Fatalf("whole_exact.py made %d files", len(w.made))
	}
	return w.dir, w.made
}

// buildGnconv builds the command into dir.
func buildGnconv(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "gnconv")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gnconv/gnconv/cmd/gnconv").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestForcedLayoutFailsExpect: a d2l state dict forced onto the tutorial
// layout (bound by position: same shapes, other pools) converts, but
// verify --expect with PyTorch's own outputs exits 1 and says the network
// differs; onto its own preset it passes, and without a layout the
// renamed checkpoint is refused.
func TestForcedLayoutFailsExpect(t *testing.T) {
	dir, _ := wholeExact(t)
	tmp := t.TempDir()
	bin := buildGnconv(t, tmp)
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	sd, expect := filepath.Join(dir, "d2l_sd.pth"), filepath.Join(dir, "d2l_sd.expect.pt")
	forced := filepath.Join(tmp, "forced.onnx")
	if code, out := run("import", sd, "--layout", "tutorial", "-o", forced); code != 0 {
		t.Fatalf("forced import: exit %d\n%s", code, out)
	}
	code, out := run("verify", forced, "--weights", sd, "--layout", "tutorial", "--expect", expect)
	if code != 1 || !strings.Contains(out, "PyTorch's logits differs from the ONNX file") || !strings.Contains(out, "reference pass") {
		t.Fatalf("forced layout against PyTorch: exit %d\n%s", code, out)
	}
	own := filepath.Join(tmp, "d2l.onnx")
	if code, out := run("import", sd, "-o", own, "--expect", expect); code != 0 || !strings.Contains(out, "result: PASS") {
		t.Fatalf("the d2l preset against PyTorch: exit %d\n%s", code, out)
	}
}

package interop

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/verify"
)

// requireORT skips without onnxruntime, except in CI, where the interop
// tests must run.
func requireORT(t *testing.T) {
	t.Helper()
	if err := Init(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the onnxruntime tests: %v", err)
		}
		t.Skip(err)
	}
}

type modelFixture struct {
	name string
	fx   fixture.Model
	net  *graph.Net
	x    []float32
}

func loadModels(t *testing.T, transform bool) []modelFixture {
	t.Helper()
	m, err := fixture.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out []modelFixture
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		fx, ok := m.Models[name]
		if !ok {
			t.Fatalf("fixture %s missing from the manifest", name)
		}
		ck, err := fixture.Checkpoint(name)
		if err != nil {
			t.Fatal(err)
		}
		net, _, err := graph.Load(ck.StateDict, graph.Options{TransformInput: transform})
		if err != nil {
			t.Fatal(err)
		}
		x, err := fixture.ReadF32(fx.Input)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, modelFixture{name, fx, net, x})
	}
	return out
}

// softmaxTol bounds the error of a softmax output (probabilities, so
// absolute): measured at most 6.8e-6 (torchvision's aux1 on the fixture
// input, ORT against torch's logits through SoftmaxRows), 4.4× that.
const softmaxTol = 3e-5

// TestEmittedONNXRunsInORTAndMatchesTorch runs every emitted variant in
// onnxruntime and compares it with the outputs torch recorded.
func TestEmittedONNXRunsInORTAndMatchesTorch(t *testing.T) {
	requireORT(t)
	for _, transform := range []bool{false, true} {
		for _, mf := range loadModels(t, transform) {
			recorded := mf.fx.Outputs
			if transform {
				if mf.fx.OutputsTransformInput == nil {
					continue
				}
				recorded = mf.fx.OutputsTransformInput
			}
			for _, aux := range []bool{false, true} {
				for _, keepBN := range []bool{false, true} {
					if keepBN && mf.fx.Layout != "torchvision" {
						continue
					}
					for _, opset := range []int{13, 17} {
						for _, softmax := range []bool{false, true} {
							if softmax && (opset != 17 || keepBN || transform) {
								continue
							}
							name := fmt.Sprintf("%s/transform=%v/aux=%v/keepBN=%v/opset=%d/softmax=%v", mf.name, transform, aux, keepBN, opset, softmax)
							t.Run(name, func(t *testing.T) {
								model, err := convert.EmitONNX(mf.net, convert.ONNXOptions{Opset: opset, Aux: aux, KeepBN: keepBN, Softmax: softmax, Version: "test"})
								if err != nil {
									t.Fatal(err)
								}
								data, err := model.Marshal()
								if err != nil {
									t.Fatal(err)
								}
								batch := int64(len(mf.x) / (3 * 224 * 224))
								outs, err := Run(data, "input", model.Outputs, mf.x, batch, 3, 224, 224)
								if err != nil {
									t.Fatal(err)
								}
								if len(outs) != len(model.Outputs) {
									t.Fatalf("%d outputs for %d names", len(outs), len(model.Outputs))
								}
								for i, name := range model.Outputs {
									// softmax outputs are named probabilities,
									// aux1_probabilities, aux2_probabilities
									oname := strings.TrimSuffix(strings.TrimSuffix(name, "probabilities"), "_")
									if oname == "" {
										oname = "logits"
									}
									if _, ok := recorded[oname]; !ok {
										t.Fatalf("no recorded %s", oname)
									}
									want, err := fixture.ReadF32(recorded[oname].File)
									if err != nil {
										t.Fatal(err)
									}
									tol := fixture.Tolerance(want)
									if softmax {
										want = verify.SoftmaxRows(want, mf.fx.Classes)
										tol = softmaxTol
									}
									d, err := fixture.Check(outs[i], nil, want, recorded[oname].Shape, tol)
									if softmax {
										t.Logf("%s+softmax: max abs diff %.3g (tolerance %.3g)", oname, d, tol)
									} else {
										t.Logf("%s: max abs diff %.3g = %.3g relative", oname, d, d/tol*fixture.RelTol)
									}
									if err != nil {
										t.Errorf("%s: %v", oname, err)
									}
								}
							})
						}
					}
				}
			}
		}
	}
}

// TestSymbolicAndFixedBatch runs one image through a symbolic-batch file
// and the batch through a fixed-batch file.
func TestSymbolicAndFixedBatch(t *testing.T) {
	requireORT(t)
	for _, mf := range loadModels(t, false) {
		want, err := fixture.ReadF32(mf.fx.Outputs["logits"].File)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{0, 2} {
			model, err := convert.EmitONNX(mf.net, convert.ONNXOptions{Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := model.Marshal()
			n := 1
			if batch == 2 {
				n = 2
			}
			outs, err := Run(data, "input", []string{"logits"}, mf.x[:n*3*224*224], int64(n), 3, 224, 224)
			if err != nil {
				t.Fatalf("%s batch=%d: %v", mf.name, batch, err)
			}
			if _, err := fixture.Check(outs[0], nil, want[:n*mf.fx.Classes], []int{n, mf.fx.Classes}, fixture.Tolerance(want)); err != nil {
				t.Errorf("%s batch=%d: %v", mf.name, batch, err)
			}
		}
	}
}

// TestEmittedLRNMatchesTorch runs the tutorial network with LRN, as
// emitted, in onnxruntime against torch's recorded outputs.
func TestEmittedLRNMatchesTorch(t *testing.T) {
	requireORT(t)
	m, err := fixture.Load()
	if err != nil {
		t.Fatal(err)
	}
	fx := m.Models["tutorial_aux.pth"]
	if fx.OutputsLRN == nil {
		t.Fatal("no LRN outputs in the manifest")
	}
	ck, err := fixture.Checkpoint("tutorial_aux.pth")
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{LRN: true})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := fixture.ReadF32(fx.Input)
	for _, opset := range []int{13, 17} {
		model, err := convert.EmitONNX(net, convert.ONNXOptions{Opset: opset, Aux: true})
		if err != nil {
			t.Fatal(err)
		}
		if model.OpCounts["LRN"] != 2 {
			t.Fatalf("%d LRN nodes", model.OpCounts["LRN"])
		}
		data, _ := model.Marshal()
		outs, err := Run(data, "input", model.Outputs, x, 2, 3, 224, 224)
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range model.Outputs {
			want, err := fixture.ReadF32(fx.OutputsLRN[name].File)
			if err != nil {
				t.Fatal(err)
			}
			tol := fixture.Tolerance(want)
			d, err := fixture.Check(outs[i], nil, want, fx.OutputsLRN[name].Shape, tol)
			t.Logf("LRN opset %d %s: max abs diff %.3g = %.3g relative", opset, name, d, d/tol*fixture.RelTol)
			if err != nil {
				t.Errorf("opset %d %s: %v", opset, name, err)
			}
		}
	}
}

// TestOtherInputSizesInORT: torchvision's adaptive aux pooling at input
// sizes whose maps do not divide by 4 (and one that does), emitted and run
// in onnxruntime, against the reference forward pass.
func TestOtherInputSizesInORT(t *testing.T) {
	requireORT(t)
	for _, mf := range loadModels(t, false) {
		if mf.fx.Layout != "torchvision" {
			continue
		}
		for _, hw := range [][2]int{{299, 299}, {160, 200}, {256, 256}} {
			h, w := hw[0], hw[1]
			x := make([]float32, 2*3*h*w)
			for i := range x {
				x[i] = float32((i*7919)%1000)/500 - 1
			}
			model, err := convert.EmitONNX(mf.net, convert.ONNXOptions{Aux: true, Height: h, Width: w})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := model.Marshal()
			got, err := Run(data, "input", model.Outputs, x, 2, 3, int64(h), int64(w))
			if err != nil {
				t.Fatalf("%dx%d: %v", h, w, err)
			}
			want, err := mf.net.Forward(x, 2, h, w, true)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				tol := fixture.Tolerance(want[i].Data)
				d, err := fixture.Check(got[i], nil, want[i].Data, want[i].Shape, tol)
				t.Logf("%dx%d %s: max abs diff %.3g = %.3g relative", h, w, want[i].Name, d, d/tol*fixture.RelTol)
				if err != nil {
					t.Errorf("%dx%d %s: %v", h, w, want[i].Name, err)
				}
			}
		}
	}
}

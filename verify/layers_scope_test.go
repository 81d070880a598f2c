package verify

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestModuleScope(t *testing.T) {
	for name, want := range map[string]string{
		"/inception4a/branch2/branch2.1/conv/Conv": "inception4a.branch2.1.conv",
		"/inception4a/branch2/branch2.1/Relu":      "inception4a.branch2.1",
		"/conv1/Relu":                              "conv1",
		"/Flatten":                                 "",
		"/2/2.0/p1_1/Conv":                         "2.0.p1_1",
		"/aux1/fc1/Gemm":                           "aux1.fc1",
		"Conv_0":                                   "",
		"inception4a/branch2/1/conv":               "",
		"//Conv":                                   "",
	} {
		if got := moduleScope(name); got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}

// TestLayerNonFinite: NaN and Inf in a module's output fail it, and the
// report still encodes as JSON.
func TestLayerNonFinite(t *testing.T) {
	for _, got := range [][]float32{{float32(math.NaN()), 1}, {float32(math.Inf(1)), 1}, {float32(math.Inf(-1)), 1}} {
		lr := LayerReport{Module: "inception4a", Compared: true}
		compareValues(&lr, got, []float32{1, 1}, DefaultATol, DefaultRTol)
		lr.Pass = lr.MaxAbs <= lr.Bound
		if lr.Pass || !math.IsInf(lr.MaxAbs, 1) {
			t.Fatalf("%v: %+v", got, lr)
		}
		rep := LayersReport{Layers: []LayerReport{lr}, First: lr.Module, FirstMaxAbs: lr.MaxAbs}
		b, err := json.Marshal(&Report{Layers: &rep})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"max_abs_error":"+Inf"`) || !strings.Contains(string(b), `"first_divergence_max_abs":"+Inf"`) {
			t.Fatalf("%s", b)
		}
	}
}

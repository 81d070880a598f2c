package verify

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestReportJSONNonFinite: a failing report whose errors are NaN and Inf
// (a file whose outputs are not finite) still encodes, with those values
// as strings, in the report and in its comparison with PyTorch.
func TestReportJSONNonFinite(t *testing.T) {
	o := OutputReport{Name: "logits", Reference: "logits", Values: 4}
	o.add([]float32{float32(math.NaN()), 1, float32(math.Inf(1)), 2}, []float32{1, 2, 3, 4}, 2)
	o.finish(DefaultATol, DefaultRTol)
	if o.Pass {
		t.Fatal("a NaN output passed")
	}
	o.Cosine = math.NaN()
	o.MaxRel = math.Inf(-1)
	rep := &Report{Outputs: []OutputReport{o}, Expect: &ExpectReport{Checks: []ExpectCheck{{Name: "logits", ONNX: &o, Reference: &o}}}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"max_abs_error":"+Inf"`, `"cosine_similarity":"NaN"`, `"max_rel_error":"-Inf"`, `"pass":false`, `"name":"logits"`, `"values":8`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Count(s, `"cosine_similarity":"NaN"`) != 3 {
		t.Errorf("the expect report's outputs are not encoded the same way: %s", s)
	}
	// and finite values stay numbers
	b, _ = json.Marshal(OutputReport{MaxAbs: 1.5e-6, Top1: 1})
	if !strings.Contains(string(b), `"max_abs_error":1.5e-06`) || !strings.Contains(string(b), `"top1_agreement":1`) {
		t.Errorf("finite values: %s", b)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
}

package kernels

import (
	"strings"
	"testing"
)

// TestSelectKernel: GNCONV_KERNEL's values pick their kernel where the
// CPU runs it; anything else is an error naming the value, and the best
// kernel runs.
func TestSelectKernel(t *testing.T) {
	ks := availableKernels()
	best := ks[0]
	if k, info := selectKernel(""); k.name != best.name || info.Err != nil || info.Name != best.name || info.Requested != "" {
		t.Fatalf("unset: %s %+v, want %s", k.name, info, best.name)
	}
	for _, k := range ks {
		got, info := selectKernel(strings.ToUpper(k.isa))
		if got.isa != k.isa || info.Err != nil || info.ISA != k.isa || info.Name != k.name {
			t.Errorf("%s: got %s, %+v", k.isa, got.name, info)
		}
	}
	for _, req := range []string{"avx1024", "sse", "avx512", "avx2", "neon"} {
		runs := false
		for _, k := range ks {
			runs = runs || k.isa == req
		}
		if runs {
			continue
		}
		got, info := selectKernel(req)
		if got.name != best.name || info.Err == nil || !strings.Contains(info.Err.Error(), req) || info.Name != best.name {
			t.Errorf("%s: got %s, err %v", req, got.name, info.Err)
		}
	}
	if info := Kernel(); info.Name != KernelName() || info.CPU == "" || len(info.Available) != len(ks) || info.Available[len(ks)-1] != "go" {
		t.Errorf("Kernel() = %+v", info)
	}
	t.Logf("in use: %+v", Kernel())
}

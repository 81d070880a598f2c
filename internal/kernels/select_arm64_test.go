//go:build arm64 && !purego

package kernels

import "testing"

// TestNEONIsTheDefault: every arm64 CPU has Advanced SIMD, so the NEON
// kernel is the best one and runs unless another is asked for.
func TestNEONIsTheDefault(t *testing.T) {
	if ks := availableKernels(); ks[0].isa != "neon" || ks[0].name != "neon 6x16" {
		t.Fatalf("best kernel %s, want neon 6x16", ks[0].name)
	}
	if k, info := selectKernel(""); k.isa != "neon" || info.Err != nil {
		t.Fatalf("unset: %s, %v", k.name, info.Err)
	}
	if k, info := selectKernel("go"); k.isa != "go" || info.Err != nil {
		t.Fatalf("go: %s, %v", k.name, info.Err)
	}
}

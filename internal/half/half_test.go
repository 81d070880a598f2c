package half

import (
	"math"
	"math/rand"
	"testing"

	"github.com/gnconv/gnconv/tensor"
)

// Every float16 survives the round trip, and every float32 between two
// neighbouring float16 values goes to the nearer (ties to the even one),
// checked against float64 arithmetic.
func TestRoundTripAndNearest(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := tensor.HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if g := FromFloat32(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x became %#04x", h, g)
			}
			continue
		}
		if g := FromFloat32(f); g != uint16(h) {
			t.Fatalf("%#04x (%g) came back as %#04x", h, f, g)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100_000; i++ {
		f := math.Float32frombits(rng.Uint32())
		if math.IsNaN(float64(f)) {
			continue
		}
		got := float64(Round(f))
		want := nearest(float64(f))
		if got != want && !(math.IsInf(got, 0) && math.IsInf(want, 0) && math.Signbit(got) == math.Signbit(want)) {
			t.Fatalf("Round(%g) = %g, want %g", f, got, want)
		}
	}
}

// nearest is the float16 nearest x by search over the neighbouring
// values, ties to an even mantissa, overflow to infinity as IEEE rounds.
func nearest(x float64) float64 {
	if math.Abs(x) >= 65520 { // halfway between Max and 2^16 rounds to Inf
		return math.Copysign(math.Inf(1), x)
	}
	best, bestBits := math.Inf(1), uint16(0)
	for h := 0; h < 0x7c00; h++ {
		v := float64(tensor.HalfToFloat32(uint16(h)))
		d := math.Abs(math.Abs(x) - v)
		if d < best || (d == best && h&1 == 0) {
			best, bestBits = d, uint16(h)
		}
		if v > math.Abs(x) {
			break
		}
	}
	return math.Copysign(float64(tensor.HalfToFloat32(bestBits)), x)
}

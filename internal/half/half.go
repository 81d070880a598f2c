// Package half converts float32 to IEEE 754 binary16 (float16) with
// round-to-nearest-even, as a Cast to float16 does in ONNX runtimes, and
// rounds float32 values to the nearest float16 while keeping them in
// float32 (how the interpreter holds float16 tensors).
package half

import (
	"math"

	"github.com/gnconv/gnconv/tensor"
)

// Max is the largest finite float16; anything that rounds above it is
// infinite.
const Max = 65504

// FromFloat32 is the float16 nearest f (ties to even); overflow gives
// ±Inf, NaN stays NaN (quiet, with its sign).
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	// the value's exponent as a float16 would hold it
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// subnormal (or zero) in float16: the implicit bit joins the
		// mantissa, shifted right by 1-e more places
		if e < -10 {
			return sign // below half the smallest subnormal: ±0
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		return sign | uint16(roundShift(m, shift))
	}
	// normal: 13 low mantissa bits are dropped; a carry out of the
	// mantissa moves into the exponent, which is the right result (up to
	// Inf when e was 30)
	h := uint32(e)<<10 | mant>>13
	h += roundBit(mant, 13)
	return sign | uint16(h)
}

// roundShift is m >> shift rounded to nearest, ties to even.
func roundShift(m, shift uint32) uint32 {
	return m>>shift + roundBit(m, shift)
}

// roundBit is 1 when dropping the low shift bits of m must round up.
func roundBit(m, shift uint32) uint32 {
	rem := m & (1<<shift - 1)
	halfway := uint32(1) << (shift - 1)
	if rem > halfway || (rem == halfway && (m>>shift)&1 == 1) {
		return 1
	}
	return 0
}

// Round is f rounded to the nearest float16, as a float32.
func Round(f float32) float32 { return tensor.HalfToFloat32(FromFloat32(f)) }

// RoundAll rounds every value of v to float16 in place.
func RoundAll(v []float32) {
	for i, f := range v {
		v[i] = Round(f)
	}
}

// Package ops holds the operators of verify's ONNX interpreter, one file
// each: the attributes an operator takes, the static checks of a node,
// the output shape it computes (with checked arithmetic, against a
// Budget), how it runs, and whether it keeps the images of a batch apart
// (its batch-splitting rule). Table registers them all; the interpreter
// consults nothing else to run a node.
package ops

import (
	"sync"

	"github.com/gnconv/gnconv/internal/kernels"
)

// Value is a tensor during interpretation: float32 or int64 (int32 values
// are held as int64). len(F) or len(I) is always the product of Shape.
// A float16 tensor is held in F with Half set, every value a float16
// (the interpreter rounds what an operator makes); a uint8 tensor in I
// with Byte set, an int8 tensor in I with Int8 set (the quantized values
// QuantizeLinear makes and DequantizeLinear reads).
type Value struct {
	Shape []int
	F     []float32 // when !Int
	I     []int64   // when Int
	Int   bool
	Half  bool // float16 values held in F
	Byte  bool // uint8 values held in I
	Int8  bool // int8 values held in I

	// a convolution weight packed for the GEMM, made on first use (an
	// initializer is packed once for every run)
	packOnce sync.Once
	packed   *kernels.PackedMatrix
}

// Numel is the element count.
func (v *Value) Numel() int { return numel(v.Shape) }

// numel is the product of a shape already known to be within bounds.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// maxCount bounds every count the interpreter computes: products of
// dimensions beyond it are refused before they could overflow.
const maxCount = 1 << 62

// mul is a·b for non-negative counts, false when it exceeds maxCount.
func mul(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > maxCount/b {
		return 0, false
	}
	return a * b, true
}

// Elements is the product of a shape, false when a dimension is negative
// or the product exceeds 2^62.
func Elements(shape []int) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		var ok bool
		if n, ok = mul(n, int64(d)); !ok {
			return 0, false
		}
	}
	return n, true
}

// Elements64 is Elements of int64 dimensions.
func Elements64(dims []int64) (int64, bool) {
	n := int64(1)
	for _, d := range dims {
		var ok bool
		if n, ok = mul(n, d); !ok {
			return 0, false
		}
	}
	return n, true
}

// reshaped is v's values under another shape of the same element count.
func reshaped(v *Value, shape []int) *Value {
	return &Value{Shape: shape, F: v.F, I: v.I, Int: v.Int}
}

func floatInput(v *Value, what string) error {
	if v.Int {
		return errorf("%s must be float32, is int64", what)
	}
	return nil
}

func intInput(v *Value, what string) ([]int64, error) {
	if !v.Int {
		return nil, errorf("%s must be int64", what)
	}
	return v.I, nil
}

func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

func allOnes(v []int64) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// availableKernels lists the micro-kernels this CPU runs, best first: the
// AVX-512 8×32 tile, the AVX2+FMA 6×16 tile, the plain-Go twin.
func availableKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &microKernel{name: "avx512 8x32", isa: "avx512", mr: 8, nr: 32, stridedB: true, run: run8x32, narrow: run8x16})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &microKernel{name: "avx2 6x16", isa: "avx2", mr: 6, nr: 16, run: run6x16})
	}
	return append(ks, goKernel(6, 16))
}

func run8x32(k int, a, b, c *float32, ldb, ldc, cols int, add, ep bool, scale, shift *float32, floor float32) {
	kernel8x32(k, a, b, c, ldb, ldc, uint64(1)<<cols-1, kernelFlags(add, ep), scale, shift, floor)
}

func run8x16(k int, a, b, c *float32, ldb, ldc, cols int, add, ep bool, scale, shift *float32, floor float32) {
	kernel8x16(k, a, b, c, ldb, ldc, uint64(1)<<cols-1, kernelFlags(add, ep), scale, shift, floor)
}

// kernelFlags is the flags argument of the AVX-512 kernels.
func kernelFlags(add, ep bool) int {
	flags := 0
	if add {
		flags |= kAdd
	}
	if ep {
		flags |= kEpilogue
	}
	return flags
}

// kernel8x16 is kernel8x32 for at most 16 columns.
//
//go:noescape
func kernel8x16(k int, a, b, c *float32, ldb, ldc int, mask uint64, flags int, scale, shift *float32, floor float32)

// flags of kernel8x32
const (
	kAdd      = 1
	kEpilogue = 2
)

// kernel8x32 computes the 8×32 tile A·B of a packed 8-row panel of A and
// 32 columns of B (row stride ldb), adds C's values (flags&kAdd), passes it
// through max(x·scale[i] + shift[i], floor) (flags&kEpilogue, NaN kept)
// and stores the columns set in mask (bit j for column j) of each row;
// columns outside mask are never read from B or C.
//
//go:noescape
func kernel8x32(k int, a, b, c *float32, ldb, ldc int, mask uint64, flags int, scale, shift *float32, floor float32)

// run6x16 reads B packed only (ldb is 16).
func run6x16(k int, a, b, c *float32, _, ldc, cols int, add, ep bool, scale, shift *float32, floor float32) {
	if cols < 16 {
		// a partial tile: compute it aside, store what fits
		var t [6 * 16]float32
		kernel6x16Set(k, a, b, &t[0], 16)
		var sc, sh []float32
		if ep {
			sc, sh = unsafe.Slice(scale, 6), unsafe.Slice(shift, 6)
		}
		storeTile(t[:], 16, 6, cols, unsafe.Slice(c, 5*ldc+cols), ldc, add, sc, sh, floor)
		return
	}
	switch {
	case ep && add:
		kernel6x16AddEp(k, a, b, c, ldc, scale, shift, floor)
	case ep:
		kernel6x16SetEp(k, a, b, c, ldc, scale, shift, floor)
	case add:
		kernel6x16(k, a, b, c, ldc)
	default:
		kernel6x16Set(k, a, b, c, ldc)
	}
}

// kernel6x16 adds the product of a packed 6×k panel of A and a packed
// k×16 panel of B to the 6×16 tile of C at c (row stride ldc).
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int)

// kernel6x16Set is kernel6x16 that stores the product instead of adding it.
//
//go:noescape
func kernel6x16Set(k int, a, b, c *float32, ldc int)

// kernel6x16SetEp stores the tile through the epilogue
// max(x·scale[i] + shift[i], floor) of each row i.
//
//go:noescape
func kernel6x16SetEp(k int, a, b, c *float32, ldc int, scale, shift *float32, floor float32)

// kernel6x16AddEp adds the tile to C, then stores it through the epilogue.
//
//go:noescape
func kernel6x16AddEp(k int, a, b, c *float32, ldc int, scale, shift *float32, floor float32)

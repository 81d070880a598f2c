//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// availableKernels lists the micro-kernels this CPU runs, best first: the
// AVX-512 8×32 tile, the AVX2+FMA 6×16 tile, the plain-Go twin.
func availableKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &microKernel{name: "avx512 8x32", isa: "avx512", mr: 8, nr: 32, stridedB: true, inPlaceRows: 16, run: run8x32, narrow: run8x16})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &microKernel{name: "avx2 6x16", isa: "avx2", mr: 6, nr: 16, stridedB: true, inPlaceRows: 48, run: run6x16})
	}
	return append(ks, goKernel(6, 16))
}

func run8x32(k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32) {
	if rows < 8 {
		viaTile(run8x32, 8, 32, k, a, b, c, ldb, ldc, rows, cols, add, ep, scale, shift, floor)
		return
	}
	kernel8x32(k, a, b, c, ldb, ldc, uint64(1)<<cols-1, kernelFlags(add, ep)|maskB512(ldb, cols, 32), scale, shift, floor)
}

// maskB512 is kMaskB for an AVX-512 kernel of width nr when the columns
// of B past cols may not exist: B read in place (ldb is not the packed
// panel's nr) and the tile cut short. A packed panel always has nr
// columns, zero past the last one, so it is read by plain loads, which
// issue faster.
func maskB512(ldb, cols, nr int) int {
	if ldb != 32 && cols < nr {
		return kMaskB
	}
	return 0
}

func run8x16(k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32) {
	if rows < 8 {
		viaTile(run8x16, 8, 32, k, a, b, c, ldb, ldc, rows, cols, add, ep, scale, shift, floor)
		return
	}
	kernel8x16(k, a, b, c, ldb, ldc, uint64(1)<<cols-1, kernelFlags(add, ep)|maskB512(ldb, cols, 16), scale, shift, floor)
}

// kernel8x16 is kernel8x32 for at most 16 columns.
//
//go:noescape
func kernel8x16(k int, a, b, c *float32, ldb, ldc int, mask uint64, flags int, scale, shift *float32, floor float32)

// flags of the assembly kernels beyond kAdd and kEpilogue
const (
	kMaskB    = 4 // the kernels read only B's first cols columns
	kStridedB = 8 // B is read in place, its rows far apart
)

// kernel8x32 computes the 8×32 tile A·B of a packed 8-row panel of A and
// 32 columns of B (row stride ldb), adds C's values (flags&kAdd), passes it
// through max(x·scale[i] + shift[i], floor) (flags&kEpilogue, NaN kept)
// and stores the columns set in mask (bit j for column j) of each row;
// columns outside mask are never read from C, nor from B when
// flags&kMaskB (B's other columns are read, and play no part in the
// columns stored).
//
//go:noescape
func kernel8x32(k int, a, b, c *float32, ldb, ldc int, mask uint64, flags int, scale, shift *float32, floor float32)

// run6x16 runs the 6x16 kernel, or the 6x8 one for at most 8 columns.
func run6x16(k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32) {
	flags := kernelFlags(add, ep)
	if ldb != 16 {
		flags |= kStridedB // B in place
		if cols < 16 {
			flags |= kMaskB // its columns past cols may not exist
		}
	}
	if cols <= 8 {
		kernel6x8(k, a, b, c, ldb, ldc, rows, cols, flags, scale, shift, floor)
		return
	}
	kernel6x16(k, a, b, c, ldb, ldc, rows, cols, flags, scale, shift, floor)
}

// kernel6x16 computes the 6×16 tile A·B of a packed 6-row panel of A and
// 16 columns of B (row stride ldb), adds C's values (flags&kAdd), passes it
// through max(x·scale[i] + shift[i], floor) (flags&kEpilogue, NaN kept)
// and stores its first rows rows and cols columns (9 to 16), the partial
// ones by masked moves. With flags&kMaskB only B's first cols columns are
// read; nothing of C outside the stored part is read.
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldb, ldc, rows, cols, flags int, scale, shift *float32, floor float32)

// kernel6x8 is kernel6x16 for 1 to 8 columns, at half the work.
//
//go:noescape
func kernel6x8(k int, a, b, c *float32, ldb, ldc, rows, cols, flags int, scale, shift *float32, floor float32)

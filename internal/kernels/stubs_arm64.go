//go:build arm64 && !purego

package kernels

// availableKernels lists the micro-kernels this CPU runs, best first: the
// NEON 6×16 tile (Advanced SIMD is part of every arm64 CPU, so nothing is
// asked of the CPU), the plain-Go twin.
func availableKernels() []*microKernel {
	neon := &microKernel{name: "neon 6x16", isa: "neon", mr: 6, nr: 16, run: run6x16NEON}
	return []*microKernel{neon, goKernel(6, 16)}
}

// run6x16NEON runs the NEON kernel on a packed panel of B (the kernel
// reads B's rows whole, so B is never read in place: stridedB is unset).
func run6x16NEON(k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32) {
	kernel6x16NEON(k, a, b, c, ldb, ldc, rows, cols, kernelFlags(add, ep), scale, shift, floor)
}

// kernel6x16NEON computes the 6×16 tile A·B of a packed 6-row panel of A
// and 16 columns of B (row stride ldb), adds C's values (flags&kAdd),
// passes it through max(x·scale[i] + shift[i], floor) (flags&kEpilogue,
// NaN kept) and stores its first rows rows and cols columns; nothing of C
// outside them is read or written. Only the 4-column vectors of B that
// hold the stored columns are read (1, 2 or all 4 of them), so the last,
// narrow tile of a row costs a quarter or a half of a full one.
//
//go:noescape
func kernel6x16NEON(k int, a, b, c *float32, ldb, ldc, rows, cols, flags int, scale, shift *float32, floor float32)

//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// hasKernel6x16 is set when the CPU runs the AVX2+FMA micro-kernel.
var hasKernel6x16 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

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

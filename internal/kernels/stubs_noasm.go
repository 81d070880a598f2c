//go:build !amd64 || purego

package kernels

import "unsafe"

const hasKernel6x16 = false

// kernel6x16 is the plain-Go micro-kernel on machines without the
// assembly one.
func kernel6x16(k int, a, b, c *float32, ldc int) {
	kernel6x16Go(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), unsafe.Slice(c, 5*ldc+16), ldc)
}

func kernel6x16Set(k int, a, b, c *float32, ldc int) {
	cs := unsafe.Slice(c, 5*ldc+16)
	for i := 0; i < mr; i++ {
		clear(cs[i*ldc : i*ldc+nr])
	}
	kernel6x16Go(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), cs, ldc)
}

func kernel6x16SetEp(k int, a, b, c *float32, ldc int, scale, shift *float32, floor float32) {
	kernel6x16EpGo(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), unsafe.Slice(c, 5*ldc+16), ldc,
		unsafe.Slice(scale, mr), unsafe.Slice(shift, mr), floor, false)
}

func kernel6x16AddEp(k int, a, b, c *float32, ldc int, scale, shift *float32, floor float32) {
	kernel6x16EpGo(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), unsafe.Slice(c, 5*ldc+16), ldc,
		unsafe.Slice(scale, mr), unsafe.Slice(shift, mr), floor, true)
}

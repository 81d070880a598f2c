// Package kernels holds the numeric kernels shared by the reference forward
// pass and the ONNX interpreter: GEMM, convolution, pooling, LRN. Tensors
// are float32 in NCHW order; every kernel is checked against a plain loop.
package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// splitting counts the SplitBatch calls under way.
var splitting atomic.Int32

// SplitBatch runs f over [0, n) (a batch's images) in contiguous chunks,
// one per core, when n shares out evenly enough; otherwise it calls
// f(0, 0, n). share numbers the chunks from 0. While the chunks run every
// core has work, so Parallel runs its loops inline rather than
// oversubscribe the cores: each image goes through every layer on one
// core, with no synchronisation between layers. It reports whether it
// split.
func SplitBatch(n int, f func(share, lo, hi int)) bool {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || n < workers || (n%workers != 0 && n < 4*workers) || splitting.Load() > 0 {
		f(0, 0, n)
		return false
	}
	splitting.Add(1)
	defer splitting.Add(-1)
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo/per, lo, hi)
		}(lo, min(lo+per, n))
	}
	wg.Wait()
	return true
}

// Parallel runs f over [0, n) split into contiguous chunks, one per
// available core; chunks start at multiples of align and are as even as
// that allows (a 196-column GEMM on two cores with align 32 splits
// 96 | 100, not 128 | 68). The last chunk runs on the calling goroutine,
// the others on helper goroutines kept awake between calls
// (helpers.go); a panic in any chunk is raised again in the caller once
// all are done. Inside SplitBatch it runs f(0, n) on the calling
// goroutine.
func Parallel(n, align int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if splitting.Load() > 0 {
		workers = 1
	}
	if align < 1 {
		align = 1
	}
	chunks := (n + align - 1) / align
	if workers > chunks {
		workers = chunks
	}
	if workers <= 1 {
		f(0, n)
		return
	}
	var buf [16]int
	bounds := append(buf[:0], 0)
	for w := 1; w <= workers; w++ {
		hi := n
		if w < workers {
			// the w-th boundary, n·w/workers rounded to the nearest
			// multiple of align
			hi = min((n*w+workers*align/2)/(workers*align)*align, n)
		}
		if hi > bounds[len(bounds)-1] {
			bounds = append(bounds, hi)
		}
	}
	if len(bounds) == 2 {
		f(0, n)
		return
	}
	runChunks(f, bounds)
}

// blockN is the column block of MatMul: four C rows of it stay in L1.
const blockN = 512

// MatMul sets c (m×n) to a (m×k) times b (k×n), all row-major, or adds the
// product to c when accumulate is set. Rows of c are split over cores.
func MatMul(m, n, k int, a, b, c []float32, accumulate bool) {
	if m == 0 || n == 0 {
		return
	}
	_ = a[m*k-1]
	_ = b[k*n-1]
	_ = c[m*n-1]
	if useMicroKernel(m, n, k) {
		if !accumulate {
			clear(c[:m*n])
		}
		matMulPacked(m, n, k, a, b, c)
		return
	}
	Parallel(m, 4, func(lo, hi int) {
		matMulRows(lo, hi, n, k, a, b, c, accumulate)
	})
}

func matMulRows(lo, hi, n, k int, a, b, c []float32, accumulate bool) {
	if !accumulate {
		clear(c[lo*n : hi*n])
	}
	for jb := 0; jb < n; jb += blockN {
		je := jb + blockN
		if je > n {
			je = n
		}
		nb := je - jb
		i := lo
		for ; i+4 <= hi; i += 4 {
			c0 := c[i*n+jb : i*n+je]
			c1 := c[(i+1)*n+jb : (i+1)*n+je]
			c2 := c[(i+2)*n+jb : (i+2)*n+je]
			c3 := c[(i+3)*n+jb : (i+3)*n+je]
			a0 := a[i*k : i*k+k]
			a1 := a[(i+1)*k : (i+1)*k+k]
			a2 := a[(i+2)*k : (i+2)*k+k]
			a3 := a[(i+3)*k : (i+3)*k+k]
			for p := 0; p < k; p++ {
				bp := b[p*n+jb : p*n+jb+nb]
				x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
				c0, c1, c2, c3 := c0[:len(bp)], c1[:len(bp)], c2[:len(bp)], c3[:len(bp)]
				for j, v := range bp {
					c0[j] += x0 * v
					c1[j] += x1 * v
					c2[j] += x2 * v
					c3[j] += x3 * v
				}
			}
		}
		for ; i < hi; i++ {
			ci := c[i*n+jb : i*n+je]
			ai := a[i*k : i*k+k]
			for p := 0; p < k; p++ {
				bp := b[p*n+jb : p*n+jb+nb]
				x := ai[p]
				ci := ci[:len(bp)]
				for j, v := range bp {
					ci[j] += x * v
				}
			}
		}
	}
}

// MatMulBT sets c (m×n) to a (m×k) times the transpose of b (n×k): the
// product of a fully connected layer, y = x·Wᵀ. Columns are split over
// cores, so a batch of one still uses every core.
func MatMulBT(m, n, k int, a, b, c []float32) {
	if m == 0 || n == 0 {
		return
	}
	_ = a[m*k-1]
	_ = b[n*k-1]
	_ = c[m*n-1]
	Parallel(n, 8, func(lo, hi int) {
		for i := 0; i < m; i++ {
			ai := a[i*k : i*k+k]
			for j := lo; j < hi; j++ {
				c[i*n+j] = Dot(ai, b[j*k:j*k+k])
			}
		}
	})
}

// Dot is the inner product of two equal-length vectors.
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

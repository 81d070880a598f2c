package kernels

import (
	"math"
	"runtime"
	"sync"
)

// The packed GEMM: C (m×n) += A (m×k) · B (k×n), all row-major. B is packed
// into panels of nr columns and A into panels of mr rows, kc deep, so the
// micro-kernel streams both from cache; each worker takes its own range of
// columns (or rows, when there are few columns) with its own buffers.
const (
	mr = 6
	nr = 16
	kc = 256
	nc = 512 // columns of B packed at once (a multiple of nr)
)

var packPool = sync.Pool{New: func() any {
	return &packBufs{b: make([]float32, nc*kc+1)}
}}

type packBufs struct {
	b    []float32
	tile [mr * nr]float32
}

// useMicroKernel reports whether MatMul takes the packed path.
func useMicroKernel(m, n, k int) bool {
	return m*n*k >= 4096
}

// PackedMatrix is an m×k matrix packed once for the micro-kernel: for each
// block of kc columns, panels of mr rows (zero-padded), each column of a
// panel mr consecutive values. Convolution weights are packed once and
// reused for every image.
type PackedMatrix struct {
	M, K int
	mpad int
	data []float32
}

// PackMatrix packs a (m×k, row-major).
func PackMatrix(m, k int, a []float32) *PackedMatrix {
	mpad := (m + mr - 1) / mr * mr
	// one spare value keeps &panel[0] valid for an empty panel
	p := &PackedMatrix{M: m, K: k, mpad: mpad, data: make([]float32, mpad*k+1)}
	for pc := 0; pc < k; pc += kc {
		kcur := min(kc, k-pc)
		packA(a, k, 0, m, pc, kcur, p.data[pc*mpad:pc*mpad+mpad*kcur])
	}
	return p
}

// panel returns the packed panel of rows [i, i+mr) for the column block
// starting at pc, kcur deep.
func (p *PackedMatrix) panel(pc, kcur, i int) []float32 {
	off := pc*p.mpad + i*kcur
	return p.data[off : off+mr*kcur+1]
}

// MatMulPackedA sets c (m×n) to A·b, or adds to it when accumulate is set,
// with A packed by PackMatrix; then applies ep to each row (row i is
// channel i). The epilogue runs on each tile as its last block is written,
// while the tile is still in cache.
func MatMulPackedA(pa *PackedMatrix, n int, b, c []float32, accumulate bool, ep Epilogue) {
	m := pa.M
	if m == 0 || n == 0 {
		return
	}
	_ = c[m*n-1]
	_ = b[pa.K*n-1]
	workers := runtime.GOMAXPROCS(0)
	if n >= nr*workers || m < 2*mr*workers {
		Parallel(n, nr, func(lo, hi int) { packedBlock(pa, 0, m, lo, hi, n, b, c, accumulate, ep) })
	} else {
		Parallel(m, mr, func(lo, hi int) { packedBlock(pa, lo, hi, 0, n, n, b, c, accumulate, ep) })
	}
}

// matMulSerial is MatMulPackedA (setting c) on the calling goroutine.
func matMulSerial(pa *PackedMatrix, n int, b, c []float32, ep Epilogue) {
	if pa.M == 0 || n == 0 {
		return
	}
	packedBlock(pa, 0, pa.M, 0, n, n, b, c, false, ep)
}

// matMulPacked computes C += A·B with the packed micro-kernel.
func matMulPacked(m, n, k int, a, b, c []float32) {
	MatMulPackedA(PackMatrix(m, k, a), n, b, c, true, Epilogue{})
}

// packedBlock computes rows [i0,i1) × columns [j0,j1) of C (i0 a multiple
// of mr).
func packedBlock(pa *PackedMatrix, i0, i1, j0, j1, n int, b, c []float32, accumulate bool, ep Epilogue) {
	k := pa.K
	bufs := packPool.Get().(*packBufs)
	defer packPool.Put(bufs)
	hasEp := ep.Scale != nil || ep.Shift != nil || ep.ReLU
	var epScale, epShift []float32
	var floor float32
	if hasEp {
		epScale, epShift, floor = ep.rows(pa.mpad)
	}
	for jc := j0; jc < j1; jc += nc {
		ncur := min(nc, j1-jc)
		for pc := 0; pc < k || pc == 0; pc += kc {
			kcur := min(kc, k-pc)
			set := pc == 0 && !accumulate
			last := pc+kcur >= k
			if kcur > 0 {
				packB(b, n, pc, kcur, jc, ncur, bufs.b)
			}
			for jr := 0; jr < ncur; jr += nr {
				nrcur := min(nr, ncur-jr)
				bp := bufs.b[jr*kcur : (jr+nr)*kcur+1]
				for ir := i0; ir < i1; ir += mr {
					mrcur := min(mr, i1-ir)
					ap := pa.panel(pc, kcur, ir)
					ci := ir*n + jc + jr
					full := mrcur == mr && nrcur == nr
					switch {
					case full && last && hasEp && set:
						kernel6x16SetEp(kcur, &ap[0], &bp[0], &c[ci], n, &epScale[ir], &epShift[ir], floor)
						continue
					case full && last && hasEp:
						kernel6x16AddEp(kcur, &ap[0], &bp[0], &c[ci], n, &epScale[ir], &epShift[ir], floor)
						continue
					case kcur == 0:
						if set {
							for i := 0; i < mrcur; i++ {
								clear(c[ci+i*n : ci+i*n+nrcur])
							}
						}
					case mrcur == mr && nrcur == nr && set:
						kernel6x16Set(kcur, &ap[0], &bp[0], &c[ci], n)
					case mrcur == mr && nrcur == nr:
						kernel6x16(kcur, &ap[0], &bp[0], &c[ci], n)
					default:
						// a ragged edge: compute the whole tile aside, then
						// store or add what fits
						t := bufs.tile[:]
						kernel6x16Set(kcur, &ap[0], &bp[0], &t[0], nr)
						for i := 0; i < mrcur; i++ {
							row := c[ci+i*n : ci+i*n+nrcur]
							if set {
								copy(row, t[i*nr:i*nr+nrcur])
								continue
							}
							for j := range row {
								row[j] += t[i*nr+j]
							}
						}
					}
					if last && hasEp {
						for i := 0; i < mrcur; i++ {
							ep.applyRow(c[ci+i*n:ci+i*n+nrcur], ir+i)
						}
					}
				}
			}
			if kcur == 0 {
				break
			}
		}
	}
}

// packB lays out B[pc:pc+kcur, jc:jc+ncur] as panels of nr columns, each
// kcur rows of nr values, zero-padded past the last column.
func packB(b []float32, n, pc, kcur, jc, ncur int, dst []float32) {
	for jr := 0; jr < ncur; jr += nr {
		w := min(nr, ncur-jr)
		panel := dst[jr*kcur : (jr+nr)*kcur]
		for p := 0; p < kcur; p++ {
			src := b[(pc+p)*n+jc+jr : (pc+p)*n+jc+jr+w]
			row := panel[p*nr : p*nr+nr]
			copy(row, src)
			if w < nr {
				clear(row[w:])
			}
		}
	}
}

// packA lays out A[ic:ic+mcur, pc:pc+kcur] as panels of mr rows, each kcur
// columns of mr values, zero-padded past the last row.
func packA(a []float32, k, ic, mcur, pc, kcur int, dst []float32) {
	for ir := 0; ir < mcur; ir += mr {
		h := min(mr, mcur-ir)
		panel := dst[ir*kcur : (ir+mr)*kcur]
		for i := 0; i < mr; i++ {
			if i >= h {
				for p := 0; p < kcur; p++ {
					panel[p*mr+i] = 0
				}
				continue
			}
			src := a[(ic+ir+i)*k+pc : (ic+ir+i)*k+pc+kcur]
			for p, v := range src {
				panel[p*mr+i] = v
			}
		}
	}
}

// rows spells the epilogue out for the epilogue kernels: a scale and a
// shift for each of n rows (ones and zeros where the epilogue has none),
// and the floor, 0 for ReLU, -Inf without.
func (e Epilogue) rows(n int) (scale, shift []float32, floor float32) {
	scale, shift = make([]float32, n), make([]float32, n)
	for i := range scale {
		scale[i] = 1
	}
	copy(scale, e.Scale)
	copy(shift, e.Shift)
	floor = float32(math.Inf(-1))
	if e.ReLU {
		floor = 0
	}
	return
}

// kernel6x16EpGo is the plain-Go twin of the epilogue kernels: the tile
// (plus C when add is set) through max(x·scale[i] + shift[i], floor).
func kernel6x16EpGo(k int, a, b, c []float32, ldc int, scale, shift []float32, floor float32, add bool) {
	var t [mr * nr]float32
	kernel6x16Go(k, a, b, t[:], nr)
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			v := t[i*nr+j]
			if add {
				v += row[j]
			}
			v = v*scale[i] + shift[i]
			if !(v != v) && v < floor {
				v = floor
			}
			row[j] = v
		}
	}
}

// kernel6x16Go is the micro-kernel in plain Go: the assembly kernel's twin
// and the fallback where it cannot run.
func kernel6x16Go(k int, a, b, c []float32, ldc int) {
	var acc [mr][nr]float32
	for p := 0; p < k; p++ {
		bp := b[p*nr : p*nr+nr]
		ap := a[p*mr : p*mr+mr]
		for i := 0; i < mr; i++ {
			x := ap[i]
			row := &acc[i]
			for j := 0; j < nr; j++ {
				row[j] += x * bp[j]
			}
		}
	}
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			row[j] += acc[i][j]
		}
	}
}

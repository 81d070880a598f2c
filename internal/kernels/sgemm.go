package kernels

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The packed GEMM: C (m×n) += A (m×k) · B (k×n), all row-major. B is packed
// into panels of nr columns and A into panels of mr rows, kc deep, so the
// micro-kernel streams both from cache; each worker takes its own range of
// columns (or rows, when there are few columns) with its own buffers. The
// tile shape mr×nr is the micro-kernel's, picked once from the CPU's
// features (stubs_*.go).
const (
	kc = 256
	nc = 1024 // columns of B packed at once (a multiple of every nr)
	// panelPad separates packed panels of B by one cache line more than
	// their size: panels kc·nr values apart would be a multiple of 4 KiB
	// apart, and a packer writing one row of every panel in turn would
	// send all its stores to one set of the L1 cache
	panelPad = 16
	maxMR    = 8
	maxNR    = 32
	// fewPanels: a block of B at most this many panels wide takes its
	// tiles row by row of A rather than panel by panel of B
	fewPanels = 4
)

// microKernel computes one mr×nr tile of C from a packed mr×k panel of A
// and a packed k×nr panel of B.
type microKernel struct {
	name   string
	isa    string // KernelEnv's value for it
	mr, nr int
	// stridedB is set when run reads B in place (row stride ldb, only
	// the first cols columns), so that B need not be packed.
	stridedB bool
	// inPlaceRows: B is read in place (stridedB) by GEMMs of at most so
	// many rows of A; more rows reuse a packed copy enough to pay for it
	inPlaceRows int
	// run stores the first cols columns of the tile's first rows rows at
	// c (row stride ldc): A·B, plus C's values when add is set, then through
	// max(x·scale[i] + shift[i], floor) when ep is set (NaN kept). B's row
	// p is b[p·ldb:], ldb being nr for a packed panel.
	run kernelFunc
	// narrow, where set, is run for at most nr/2 columns at half the work
	narrow kernelFunc
}

// kernelFunc is a micro-kernel's run (see microKernel.run).
type kernelFunc func(k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32)

// viaTile runs run, an mr×nr kernel, for fewer than mr rows: the whole
// tile aside, then the rows that fit stored by storeTile.
func viaTile(run kernelFunc, mr, nr, k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32) {
	var t [maxMR * maxNR]float32
	run(k, a, b, &t[0], ldb, nr, mr, cols, false, false, nil, nil, 0)
	var sc, sh []float32
	if ep {
		sc, sh = unsafe.Slice(scale, rows), unsafe.Slice(shift, rows)
	}
	storeTile(t[:], nr, rows, cols, unsafe.Slice(c, (rows-1)*ldc+cols), ldc, add, sc, sh, floor)
}

var packPool = sync.Pool{New: func() any {
	return &packBufs{b: aligned64(nc*kc + nc/16*panelPad + 1)}
}}

// aligned64 allocates n values starting on a 64-byte boundary, so that
// the kernel's 64-byte loads of a packed panel never straddle two cache
// lines.
func aligned64(n int) []float32 {
	b := make([]float32, n+15)
	off := int(uintptr(unsafe.Pointer(&b[0])) % 64 / 4)
	if off != 0 {
		off = 16 - off
	}
	return b[off : off+n : off+n]
}

type packBufs struct {
	b []float32
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
	kern *microKernel // the kernel whose mr the panels have
	data []float32
	// the last epilogue spelled out for these rows (a convolution's is
	// the same on every call)
	lastEp atomic.Pointer[epRows]

	// a 3x3 convolution's weights for Winograd (PackConvWeights), with
	// the direct packing made from raw only if a call cannot use them
	wino   *winogradWeights
	raw    []float32
	direct sync.Once
}

// epRows is an Epilogue spelled out row by row (Epilogue.rows), with a
// copy of the epilogue it came from.
type epRows struct {
	from         Epilogue
	scale, shift []float32
	floor        float32
}

// epilogueRows is ep.rows(pa.mpad), made again only when the epilogue
// differs from the last one (a convolution's is the same on every call).
func (pa *PackedMatrix) epilogueRows(ep Epilogue) (scale, shift []float32, floor float32) {
	if r := pa.lastEp.Load(); r != nil && r.from.ReLU == ep.ReLU &&
		slices.Equal(r.from.Scale, ep.Scale) && slices.Equal(r.from.Shift, ep.Shift) {
		return r.scale, r.shift, r.floor
	}
	r := &epRows{from: Epilogue{Scale: slices.Clone(ep.Scale), Shift: slices.Clone(ep.Shift), ReLU: ep.ReLU}}
	r.scale, r.shift, r.floor = ep.rows(pa.mpad)
	pa.lastEp.Store(r)
	return r.scale, r.shift, r.floor
}

// PackMatrix packs a (m×k, row-major).
func PackMatrix(m, k int, a []float32) *PackedMatrix {
	kern := kernel
	mr := kern.mr
	mpad := (m + mr - 1) / mr * mr
	// one spare value keeps &panel[0] valid for an empty panel
	p := &PackedMatrix{M: m, K: k, mpad: mpad, kern: kern, data: make([]float32, mpad*k+1)}
	for pc := 0; pc < k; pc += kc {
		kcur := min(kc, k-pc)
		packA(a, k, mr, 0, m, pc, kcur, p.data[pc*mpad:pc*mpad+mpad*kcur])
	}
	return p
}

// panel returns the packed panel of rows [i, i+mr) for the column block
// starting at pc, kcur deep.
func (p *PackedMatrix) panel(pc, kcur, i int) []float32 {
	off := pc*p.mpad + i*kcur
	return p.data[off : off+p.kern.mr*kcur+1]
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
	matMulSplit(pa, denseB{b, n}, n, c, accumulate, ep)
}

// matMulSplit is MatMulPackedA with B from src, split over the cores by
// columns or, when there are few columns, by rows.
func matMulSplit(pa *PackedMatrix, src bSource, n int, c []float32, accumulate bool, ep Epilogue) {
	m := pa.M
	mr, nr := pa.kern.mr, pa.kern.nr
	workers := runtime.GOMAXPROCS(0)
	if n >= nr*workers || m < 2*mr*workers {
		Parallel(n, nr, func(lo, hi int) { packedBlock(pa, src, 0, m, lo, hi, n, c, accumulate, ep) })
	} else {
		Parallel(m, mr, func(lo, hi int) { packedBlock(pa, src, lo, hi, 0, n, n, c, accumulate, ep) })
	}
}

// matMulSerial sets c (m×n) to A·B, B from src, on the calling goroutine.
func matMulSerial(pa *PackedMatrix, src bSource, n int, c []float32, ep Epilogue) {
	if pa.M == 0 || n == 0 {
		return
	}
	packedBlock(pa, src, 0, pa.M, 0, n, n, c, false, ep)
}

// bSource is B as the GEMM packs it: a row-major matrix (denseB) or a
// convolution's columns, computed from the image as they are packed.
type bSource interface {
	// pack lays out B[pc:pc+kcur, jc:jc+ncur] as panels of nr columns,
	// each kcur rows of nr values, zero past the last column, panel q
	// starting at dst[q·ps].
	pack(nr, ps, pc, kcur, jc, ncur int, dst []float32)
}

// denseB is a row-major matrix with n columns.
type denseB struct {
	b []float32
	n int
}

func (d denseB) pack(nr, ps, pc, kcur, jc, ncur int, dst []float32) {
	packB(d.b, d.n, nr, ps, pc, kcur, jc, ncur, dst)
}

// matMulPacked computes C += A·B with the packed micro-kernel.
func matMulPacked(m, n, k int, a, b, c []float32) {
	MatMulPackedA(PackMatrix(m, k, a), n, b, c, true, Epilogue{})
}

// packedBlock computes rows [i0,i1) × columns [j0,j1) of C (i0 a multiple
// of mr, j0 of nr).
func packedBlock(pa *PackedMatrix, src bSource, i0, i1, j0, j1, n int, c []float32, accumulate bool, ep Epilogue) {
	k := pa.K
	kern := pa.kern
	mr, nr := kern.mr, kern.nr
	bufs := packPool.Get().(*packBufs)
	defer packPool.Put(bufs)
	hasEp := ep.Scale != nil || ep.Shift != nil || ep.ReLU
	var epScale, epShift []float32
	var floor float32
	if hasEp {
		epScale, epShift, floor = pa.epilogueRows(ep)
	}
	var zero [maxMR * maxNR]float32
	for jc := j0; jc < j1; jc += nc {
		ncur := min(nc, j1-jc)
		for pc := 0; pc < k || pc == 0; pc += kc {
			kcur := min(kc, k-pc)
			ps := nr*kcur + panelPad // panel stride
			set := pc == 0 && !accumulate
			epNow := hasEp && pc+kcur >= k
			// B is read in place where the kernel can and few rows of A
			// would reuse a packed copy; packed panels stay in L1 across
			// many rows of tiles where B's own rows, far apart, would not
			dense, isDense := src.(denseB)
			inPlace := isDense && kern.stridedB && i1-i0 <= kern.inPlaceRows
			if kcur > 0 && !inPlace {
				src.pack(nr, ps, pc, kcur, jc, ncur, bufs.b)
			}
			// few columns (7x7 maps): the tiles go row by row of A, each
			// panel of A read once, from memory, and used for every panel
			// of B, from cache; otherwise panel by panel of B, each
			// staying in L1 for every row of tiles
			rowsFirst := ncur <= fewPanels*nr
			outer, inner := (ncur+nr-1)/nr, (i1-i0+mr-1)/mr
			if rowsFirst {
				outer, inner = inner, outer
			}
			for o := 0; o < outer; o++ {
				for in := 0; in < inner; in++ {
					ti, tj := in, o // the tile's row and column of tiles
					if rowsFirst {
						ti, tj = o, in
					}
					ir, jr := i0+ti*mr, tj*nr
					nrcur := min(nr, ncur-jr)
					run := kern.run
					if kern.narrow != nil && nrcur <= nr/2 {
						run = kern.narrow // the last tile of a row (14x14 maps leave 4 columns)
					}
					bp, ldb := bufs.b[tj*ps:tj*ps+nr*kcur+1], nr
					if inPlace && kcur > 0 {
						bp, ldb = dense.b[pc*n+jc+jr:], n
					}
					mrcur := min(mr, i1-ir)
					ap := pa.panel(pc, kcur, ir)
					ci := ir*n + jc + jr
					var scale, shift []float32
					if epNow {
						scale, shift = epScale[ir:ir+mr], epShift[ir:ir+mr]
					}
					if kcur == 0 {
						// no products: C keeps its values or becomes zero
						clear(zero[:mr*nr])
						storeTile(zero[:], nr, mrcur, nrcur, c[ci:], n, !set, scale, shift, floor)
						continue
					}
					var sp, hp *float32
					if epNow {
						sp, hp = &scale[0], &shift[0]
					}
					run(kcur, &ap[0], &bp[0], &c[ci], ldb, n, mrcur, nrcur, !set, epNow, sp, hp, floor)
				}
			}
			if kcur == 0 {
				break
			}
		}
	}
}

// storeTile stores rows×cols values of the tile t (row stride ldt) at c
// (row stride ldc): plus C's values when add is set, then through the
// epilogue when scale is not nil; the Go side of the kernels' store.
func storeTile(t []float32, ldt, rows, cols int, c []float32, ldc int, add bool, scale, shift []float32, floor float32) {
	for i := 0; i < rows; i++ {
		src := t[i*ldt : i*ldt+cols]
		row := c[i*ldc : i*ldc+cols]
		for j, v := range src {
			if add {
				v += row[j]
			}
			if scale != nil {
				v = epilogueValue(v, scale[i], shift[i], floor)
			}
			row[j] = v
		}
	}
}

// packB lays out B[pc:pc+kcur, jc:jc+ncur] as panels of nr columns, each
// kcur rows of nr values, zero-padded past the last column.
func packB(b []float32, n, nr, ps, pc, kcur, jc, ncur int, dst []float32) {
	for jr := 0; jr < ncur; jr += nr {
		w := min(nr, ncur-jr)
		panel := dst[jr/nr*ps : jr/nr*ps+nr*kcur]
		if w == nr {
			packRows(panel, b[pc*n+jc+jr:], kcur, n, nr)
			continue
		}
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

// packRowsGo is packRows in plain Go.
func packRowsGo(dst, src []float32, rows, stride, w int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*w:(r+1)*w], src[r*stride:r*stride+w])
	}
}

// packA lays out A[ic:ic+mcur, pc:pc+kcur] as panels of mr rows, each kcur
// columns of mr values, zero-padded past the last row.
func packA(a []float32, k, mr, ic, mcur, pc, kcur int, dst []float32) {
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

// microGo is the micro-kernel in plain Go for any tile shape: the
// assembly kernels' twin and the fallback where they cannot run.
func microGo(mr, nr, k int, a, b, c []float32, ldb, ldc, rows, cols int, add bool, scale, shift []float32, floor float32) {
	var acc [maxMR * maxNR]float32
	t := acc[:mr*nr]
	for p := 0; p < k; p++ {
		bp := b[p*ldb : p*ldb+cols]
		ap := a[p*mr : p*mr+mr]
		for i, x := range ap {
			row := t[i*nr : i*nr+nr]
			for j, y := range bp {
				row[j] += x * y
			}
		}
	}
	storeTile(t, nr, rows, cols, c, ldc, add, scale, shift, floor)
}

// flags of the assembly kernels, bits their store tests
const (
	kAdd      = 1 // C's values are added
	kEpilogue = 2 // the epilogue is applied
)

// kernelFlags is the flags argument of the assembly kernels.
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

// goKernel wraps microGo as a microKernel of the given shape.
func goKernel(mr, nr int) *microKernel {
	mk := &microKernel{name: fmt.Sprintf("go %dx%d", mr, nr), isa: "go", mr: mr, nr: nr}
	mk.run = func(k int, a, b, c *float32, ldb, ldc, rows, cols int, add, ep bool, scale, shift *float32, floor float32) {
		var sc, sh []float32
		if ep {
			sc, sh = unsafe.Slice(scale, rows), unsafe.Slice(shift, rows)
		}
		var bs []float32
		if k > 0 {
			bs = unsafe.Slice(b, (k-1)*ldb+cols)
		}
		microGo(mr, nr, k, unsafe.Slice(a, mr*k), bs,
			unsafe.Slice(c, (rows-1)*ldc+cols), ldb, ldc, rows, cols, add, sc, sh, floor)
	}
	return mk
}

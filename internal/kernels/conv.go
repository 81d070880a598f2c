package kernels

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// ConvParams describes a 2-D convolution (one group, no dilation) on one
// image of InC×H×W. Pads may differ per side (ONNX's pads attribute).
type ConvParams struct {
	InC, H, W              int
	OutC, KH, KW           int
	StrideH, StrideW       int
	PadT, PadL, PadB, PadR int
}

// OutSize is the output's spatial size.
func (p ConvParams) OutSize() (int, int) {
	return (p.H+p.PadT+p.PadB-p.KH)/p.StrideH + 1, (p.W+p.PadL+p.PadR-p.KW)/p.StrideW + 1
}

// Check reports parameters the kernel cannot run.
func (p ConvParams) Check() error {
	if p.InC <= 0 || p.OutC <= 0 || p.KH <= 0 || p.KW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 ||
		p.PadT < 0 || p.PadL < 0 || p.PadB < 0 || p.PadR < 0 {
		return fmt.Errorf("invalid convolution %+v", p)
	}
	if oh, ow := p.OutSize(); oh <= 0 || ow <= 0 || p.H+p.PadT+p.PadB < p.KH || p.W+p.PadL+p.PadR < p.KW {
		return fmt.Errorf("convolution kernel %dx%d does not fit input %dx%d with its padding", p.KH, p.KW, p.H, p.W)
	}
	return nil
}

// Epilogue is applied to each output channel o as the result is written:
// y = x·Scale[o] + Shift[o], then ReLU. Nil slices mean 1 and 0. It holds a
// convolution's bias, or a batch norm applied to the convolution's output.
type Epilogue struct {
	Scale, Shift []float32
	ReLU         bool
}

// channel spells out channel c's epilogue as the kernels run it:
// max(x·scale + shift, floor), the floor 0 for ReLU and -Inf without.
func (e Epilogue) channel(c int) (scale, shift, floor float32) {
	scale, floor = 1, float32(math.Inf(-1))
	if e.Scale != nil {
		scale = e.Scale[c]
	}
	if e.Shift != nil {
		shift = e.Shift[c]
	}
	if e.ReLU {
		floor = 0
	}
	return scale, shift, floor
}

// epilogueValue is max(v·scale + shift, floor), NaN if v·scale + shift
// is. The product is exact in float64 and the sum rounded once more, as
// the kernels' fused multiply-add rounds it once (but in the rare case
// where rounding to float64 lands on a float32 tie).
func epilogueValue(v, scale, shift, floor float32) float32 {
	v = float32(float64(v)*float64(scale) + float64(shift))
	if !(v != v) && v < floor {
		v = floor
	}
	return v
}

// applyRow runs the epilogue over one row of channel c.
func (e Epilogue) applyRow(row []float32, c int) {
	scale, shift, floor := e.channel(c)
	for i, v := range row {
		row[i] = epilogueValue(v, scale, shift, floor)
	}
}

// Apply runs the epilogue over out (channels×plane values per image).
func (e Epilogue) Apply(out []float32, channels, plane int) {
	if e.Scale == nil && e.Shift == nil && !e.ReLU {
		return
	}
	for c := 0; c < channels; c++ {
		e.applyRow(out[c*plane:(c+1)*plane], c)
	}
}

var colPool, phasePool sync.Pool

// PackConvWeights packs convolution weights (OutC×InC×KH×KW) for Conv2D:
// transformed for Winograd when the convolution is one it runs (and it is
// on: WinogradEnabled), else for the direct GEMM. w must not change while the packing is
// in use (a call Winograd cannot take packs it then).
func PackConvWeights(p ConvParams, w []float32) *PackedMatrix {
	if winogradOn() && winogradFits(p) && winogradPays(p) {
		return packConvWinograd(p, w)
	}
	return PackConvWeightsDirect(p, w)
}

// PackConvWeightsDirect packs convolution weights for the direct GEMM
// only, whose sums add each product as it is: for callers that need them
// exact (whole numbers below 2^24 sum exactly in float32; Winograd's
// transforms take halves).
func PackConvWeightsDirect(p ConvParams, w []float32) *PackedMatrix {
	return PackMatrix(p.OutC, p.InC*p.KH*p.KW, w)
}

// directPacking makes w's direct packing, when it was packed for
// Winograd alone.
func (w *PackedMatrix) directPacking() {
	if w.wino == nil {
		return
	}
	w.direct.Do(func() {
		d := PackMatrix(w.M, w.K, w.raw)
		w.mpad, w.kern, w.data = d.mpad, d.kern, d.data
	})
}

// Conv2D convolves a batch of n images x (n×InC×H×W) with packed weights w
// into out (n×OutC×OH×OW), as a GEMM of the weights with the image's
// columns (the image itself for a 1x1 stride-1 convolution).
func Conv2D(x []float32, n int, p ConvParams, w *PackedMatrix, ep Epilogue, out []float32) {
	oh, ow := p.OutSize()
	Conv2DInto(x, n, p, w, ep, out, p.OutC*oh*ow)
}

// Conv2DInto is Conv2D writing image i's output at out[i*outStride:], so
// that several convolutions can fill one concatenated activation.
func Conv2DInto(x []float32, n int, p ConvParams, w *PackedMatrix, ep Epilogue, out []float32, outStride int) {
	oh, ow := p.OutSize()
	inSize := p.InC * p.H * p.W
	outSize := p.OutC * oh * ow
	direct := p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadT == 0 && p.PadL == 0 && p.PadB == 0 && p.PadR == 0
	wino := w.wino != nil && winogradFits(p) && w.wino.u[0].M == p.OutC && w.wino.u[0].K == p.InC
	if !wino {
		w.directPacking()
	}
	one := func(i int, serial bool) {
		img := x[i*inSize : (i+1)*inSize]
		o := out[i*outStride : i*outStride+outSize]
		if wino {
			winogradConv(img, p, w.wino, ep, o, serial)
			return
		}
		var src bSource
		var phases *[]float32
		if !direct && p.StrideH > 1 {
			phases, _ = phasePool.Get().(*[]float32)
			if phases == nil {
				phases = new([]float32)
			}
			defer phasePool.Put(phases)
		}
		shifted, ok := shiftConvB{}, false
		if !direct {
			shifted, ok = newShiftConvB(img, p, phases)
		}
		switch {
		case direct:
			src = denseB{img, oh * ow}
		case ok:
			// the columns are packed straight from the image (or its phases)
			src = shifted
		default:
			need := p.InC * p.KH * p.KW * oh * ow
			col, ok := colPool.Get().(*[]float32)
			if !ok || cap(*col) < need {
				c := make([]float32, need)
				col = &c
			}
			defer colPool.Put(col)
			b := (*col)[:need]
			if serial {
				im2col(img, p, b, 0, p.InC)
			} else {
				Im2Col(img, p, b)
			}
			src = denseB{b, oh * ow}
		}
		if serial {
			matMulSerial(w, src, oh*ow, o, ep)
		} else {
			matMulSplit(w, src, oh*ow, o, false, ep)
		}
	}
	// A batch at least as large as the cores: one image per core, each
	// GEMM whole, with no synchronisation inside a layer.
	if workers := runtime.GOMAXPROCS(0); n >= workers && workers > 1 {
		Parallel(n, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i, true)
			}
		})
		return
	}
	for i := 0; i < n; i++ {
		one(i, false)
	}
}

// Im2Col lays out one image's receptive fields as a (InC·KH·KW)×(OH·OW)
// matrix, zero where a field reaches into the padding.
func Im2Col(img []float32, p ConvParams, col []float32) {
	Parallel(p.InC, 1, func(lo, hi int) { im2col(img, p, col, lo, hi) })
}

// im2col lays out the rows of channels [lo, hi).
func im2col(img []float32, p ConvParams, col []float32, lo, hi int) {
	oh, ow := p.OutSize()
	for c := lo; c < hi; c++ {
		plane := img[c*p.H*p.W : (c+1)*p.H*p.W]
		for ky := 0; ky < p.KH; ky++ {
			for kx := 0; kx < p.KW; kx++ {
				row := col[((c*p.KH+ky)*p.KW+kx)*oh*ow:][:oh*ow]
				for y := 0; y < oh; y++ {
					iy := y*p.StrideH - p.PadT + ky
					dst := row[y*ow : (y+1)*ow]
					if iy < 0 || iy >= p.H {
						clear(dst)
						continue
					}
					src := plane[iy*p.W : (iy+1)*p.W]
					// outputs [a, b) read inside the row: ix = x·s + ix0
					s, ix0 := p.StrideW, kx-p.PadL
					a := min(max(0, (-ix0+s-1)/s), ow)
					b := max(min(ow, (p.W-ix0+s-1)/s), a)
					clear(dst[:a])
					clear(dst[b:])
					if s == 1 {
						copy(dst[a:b], src[a+ix0:b+ix0])
						continue
					}
					for x := a; x < b; x++ {
						dst[x] = src[x*s+ix0]
					}
				}
			}
		}
	}
}

// shiftConvB is the column matrix of a convolution whose output rows are
// as wide as its source planes' rows, so that row (c, ky, kx) of the
// matrix is one source plane shifted by (dy, dx): each panel row is one
// run of the plane, with the values that fall outside it set to zero.
// For stride 1 the source planes are the image's channels; for stride s
// they are each channel's s×s phases (the values at rows ≡ py and columns
// ≡ px mod s), zero-padded to a common size, and a tap reads the phase of
// its offset's remainder, shifted by its quotient.
type shiftConvB struct {
	planes   []float32 // perChan planes of hp×w for each input channel
	perChan  int
	hp, w    int // source plane rows and columns (w is the output's width)
	n        int // columns: output rows × w
	kw, taps int
	// for tap t = ky·KW + kx: the plane within the channel's and the shift
	tapPlane, tapDy, tapDx []int
}

// newShiftConvB returns the shifted-plane form of p's columns for img,
// or false where it does not apply (the output's width is not the source
// planes'). phases is scratch for the phase planes of a strided
// convolution, grown as needed (unused, and may be nil, for stride 1).
func newShiftConvB(img []float32, p ConvParams, phases *[]float32) (shiftConvB, bool) {
	oh, ow := p.OutSize()
	s := p.StrideH
	if p.StrideW != s {
		return shiftConvB{}, false
	}
	hp, wp := (p.H+s-1)/s, (p.W+s-1)/s
	if ow != wp {
		return shiftConvB{}, false
	}
	b := shiftConvB{planes: img, perChan: s * s, hp: hp, w: wp, n: oh * ow, kw: p.KW, taps: p.KH * p.KW}
	for ky := 0; ky < p.KH; ky++ {
		for kx := 0; kx < p.KW; kx++ {
			ty, tx := ky-p.PadT, kx-p.PadL
			ry, rx := ((ty%s)+s)%s, ((tx%s)+s)%s
			b.tapPlane = append(b.tapPlane, ry*s+rx)
			b.tapDy = append(b.tapDy, (ty-ry)/s)
			b.tapDx = append(b.tapDx, (tx-rx)/s)
		}
	}
	if s == 1 {
		return b, true
	}
	need := p.InC * s * s * hp * wp
	if cap(*phases) < need {
		*phases = make([]float32, need)
	}
	ph := (*phases)[:need]
	for c := 0; c < p.InC; c++ {
		src := img[c*p.H*p.W : (c+1)*p.H*p.W]
		if s == 2 {
			// each row's even and odd values, the two phases of its py
			for y := 0; y < 2*hp; y++ {
				even := ph[((c*2+y%2)*2)*hp*wp+y/2*wp:][:wp]
				odd := ph[((c*2+y%2)*2+1)*hp*wp+y/2*wp:][:wp]
				if y >= p.H {
					clear(even)
					clear(odd)
					continue
				}
				line := src[y*p.W : (y+1)*p.W]
				deinterleave(even[:p.W/2], odd[:p.W/2], line)
				if p.W%2 == 1 {
					even[wp-1], odd[wp-1] = line[p.W-1], 0
				}
			}
			continue
		}
		for py := 0; py < s; py++ {
			for px := 0; px < s; px++ {
				dst := ph[((c*s+py)*s+px)*hp*wp:][:hp*wp]
				for u := 0; u < hp; u++ {
					row := dst[u*wp : (u+1)*wp]
					y := u*s + py
					if y >= p.H {
						clear(row)
						continue
					}
					line := src[y*p.W : (y+1)*p.W]
					for v := range row {
						row[v] = 0
						if x := v*s + px; x < p.W {
							row[v] = line[x]
						}
					}
				}
			}
		}
	}
	b.planes = ph
	return b, true
}

// tap returns row k's source plane and shift.
func (s *shiftConvB) tap(k int) (plane []float32, dy, dx int) {
	c, t := k/s.taps, k%s.taps
	np := s.hp * s.w
	i := c*s.perChan + s.tapPlane[t]
	return s.planes[i*np : (i+1)*np], s.tapDy[t], s.tapDx[t]
}

// valid is the range of columns whose shifted source row is inside the
// plane and whose shifted index is inside its values.
func (s *shiftConvB) valid(dy, dx int) (lo, hi int) {
	np := s.hp * s.w
	delta := dy*s.w + dx
	return max(0, -dy*s.w, -delta), min(s.n, (s.hp-dy)*s.w, np-delta)
}

func (s shiftConvB) pack(nr, ps, pc, kcur, jc, ncur int, dst []float32) {
	if maskedPack(nr) {
		s.packMasked(nr, ps, pc, kcur, jc, ncur, dst)
		return
	}
	w := s.w
	for kk := 0; kk < kcur; kk++ {
		plane, dy, dx := s.tap(pc + kk)
		delta := dy*w + dx
		lo, hi := s.valid(dy, dx)
		for jr := 0; jr < ncur; jr += nr {
			j0 := jc + jr
			row := dst[jr/nr*ps+kk*nr:][:nr]
			a, b := max(j0, lo), min(j0+min(nr, ncur-jr), hi)
			if b <= a {
				clear(row)
				continue
			}
			clear(row[:a-j0])
			copy(row[a-j0:b-j0], plane[a+delta:b+delta])
			clear(row[b-j0:])
			if dx == 0 {
				continue
			}
			// columns whose x+dx left the row took a neighbour row's value
			for y := a / w; y*w < b; y++ {
				e0, e1 := y*w, y*w+min(-dx, w)
				if dx > 0 {
					e0, e1 = y*w+max(w-dx, 0), y*w+w
				}
				for j := max(e0, a); j < min(e1, b); j++ {
					row[j-j0] = 0
				}
			}
		}
	}
}

// packMasked is pack for panels of nr (16 or 32) columns as masked vector
// copies: each
// panel row is one run of the plane, loaded where a bit mask says the
// value is inside the plane (its row, by the range of columns; its
// column, by a mask for each horizontal tap), zero elsewhere.
func (s shiftConvB) packMasked(nr, ps, pc, kcur, jc, ncur int, dst []float32) {
	w := s.w
	panels := (ncur + nr - 1) / nr
	// cols[kx*panels + q]: the columns of panel q whose x+dx stays in the
	// row (and that exist), for the shift dx of horizontal tap kx, cut
	// from a bit pattern of w+nr columns from a row's start
	words := (w + nr + 63) / 64
	pat := make([]uint64, s.kw*words)
	for kx, dx := range s.tapDx[:s.kw] {
		for x := 0; x < w+nr; x++ {
			if xx := x%w + dx; xx >= 0 && xx < w {
				pat[kx*words+x/64] |= 1 << (x % 64)
			}
		}
	}
	cols := make([]uint32, s.kw*panels)
	x0 := jc % w // the x of panel q's first column
	for q := 0; q < panels; q++ {
		exist := uint32(uint64(1)<<min(nr, ncur-q*nr) - 1)
		wd, sh := x0/64, x0%64
		for kx := 0; kx < s.kw; kx++ {
			p := pat[kx*words:]
			v := p[wd] >> sh
			if sh+nr > 64 {
				v |= p[wd+1] << (64 - sh)
			}
			cols[kx*panels+q] = uint32(v) & exist
		}
		x0 = (x0 + nr) % w
	}
	// the masks depend on the tap only, not on the channel
	masks := make([]uint32, s.taps*panels)
	for t := 0; t < s.taps; t++ {
		dy, dx, kx := s.tapDy[t], s.tapDx[t], t%s.kw
		lo, hi := s.valid(dy, dx)
		for q := 0; q < panels; q++ {
			j0 := jc + q*nr
			a, b := max(lo-j0, 0), min(hi-j0, nr)
			var m uint32
			if b > a {
				m = uint32((uint64(1)<<b - 1) &^ (uint64(1)<<a - 1))
			}
			masks[t*panels+q] = m & cols[kx*panels+q]
		}
	}
	for kk := 0; kk < kcur; kk++ {
		plane, dy, dx := s.tap(pc + kk)
		t := (pc + kk) % s.taps
		packMasked(nr, dst[kk*nr:], ps, plane, jc+dy*w+dx, masks[t*panels:(t+1)*panels])
	}
}

// packMaskedGo is packMasked in plain Go.
func packMaskedGo(nr int, dst []float32, panelStride int, src []float32, off int, masks []uint32) {
	for q, m := range masks {
		row := dst[q*panelStride : q*panelStride+nr]
		for i := range row {
			row[i] = 0
			if m&(1<<i) != 0 {
				row[i] = src[off+nr*q+i]
			}
		}
	}
}

// PoolParams describes 2-D max or average pooling on C×H×W planes into
// OH×OW (the caller picks the output size: frameworks round differently).
type PoolParams struct {
	C, H, W                int
	KH, KW                 int
	StrideH, StrideW       int
	PadT, PadL, PadB, PadR int
	OH, OW                 int
	// CountIncludePad divides an average by the window's size clipped to
	// the padded input rather than by the number of input values in it.
	CountIncludePad bool
}

// PoolOutSize is PyTorch's output size: floor or ceil of the window count,
// dropping a last window that would start in the right padding.
func PoolOutSize(in, k, stride, padBegin, padEnd int, ceil bool) int {
	num := in + padBegin + padEnd - k
	if ceil {
		num += stride - 1
	}
	out := floorDiv(num, stride) + 1
	if ceil && (out-1)*stride >= in+padBegin {
		out--
	}
	return max(out, 0)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// MaxPool2D takes the maximum of each window; padding never wins. NaN
// propagates, as in PyTorch.
func MaxPool2D(x []float32, n int, p PoolParams, out []float32) {
	pool2D(x, n, p, out, true)
}

// AvgPool2D averages each window.
func AvgPool2D(x []float32, n int, p PoolParams, out []float32) {
	pool2D(x, n, p, out, false)
}

// pool2D pools separably, so a k×k window costs 2k steps instead of k².
func pool2D(x []float32, n int, p PoolParams, out []float32, isMax bool) {
	cols := make([][2]int, p.OW)
	for ox := range cols {
		cols[ox][0], cols[ox][1] = clipWindow(ox*p.StrideW-p.PadL, p.KW, p.W)
	}
	rows := make([][2]int, p.OH)
	for oy := range rows {
		rows[oy][0], rows[oy][1] = clipWindow(oy*p.StrideH-p.PadT, p.KH, p.H)
	}
	if isMax {
		maxPool(x, n*p.C, p, out, rows)
	} else {
		avgPool(x, n*p.C, p, out, rows, cols)
	}
}

// maxPool reduces each output row's input rows first, whole rows at a time,
// then the reduced row over the column windows: the row, padded with -Inf,
// is split into its StrideW phases so that the j-th value of every window
// is one contiguous run, and each window offset is one vector maximum.
// GoogLeNet's pools have faster ways of their own (below), where the
// vector maximum skips NaN handling if the planes at hand hold no NaN
// (poolMax, checked while they are in cache).
func maxPool(x []float32, planes int, p PoolParams, out []float32, rows [][2]int) {
	negInf := float32(math.Inf(-1))
	s := p.StrideW
	phLen := (s*(p.OW-1) + p.KW + s - 1) / s
	// the branch pools of an Inception unit (3x3, stride 1, padded 1, same
	// size) go over groups of planes at once
	same3 := p.KH == 3 && p.KW == 3 && p.StrideH == 1 && p.StrideW == 1 && p.PadT == 1 && p.PadL == 1 &&
		p.OH == p.H && p.OW == p.W && p.H >= 1 && p.W >= 1
	// the stem's pools (3 wide, stride 2, unpadded, rows of even length)
	// take the column windows over the whole plane first
	halves := p.KW == 3 && p.StrideW == 2 && p.PadL == 0 && p.W == 2*p.OW && p.W >= 4
	fast3s2 := halves && pool3s2Fits(p.H, p.OW, rows)
	// 2x2, stride 2, unpadded, even sides (torchvision's last pool): groups
	// of planes too
	quads := p.KH == 2 && p.KW == 2 && p.StrideH == 2 && p.StrideW == 2 && p.PadT == 0 && p.PadL == 0 &&
		p.H == 2*p.OH && p.W == 2*p.OW && p.W >= 2
	Parallel(planes, 1, func(lo, hi int) {
		if same3 || quads {
			// groups of planes small enough to stay in L1 through the
			// passes, large enough that the calls are few
			group := max(1, poolGroupValues/(p.H*p.W))
			buf := getScratch(min(group, hi-lo) * p.H * p.W)
			defer putScratch(buf)
			for g := lo; g < hi; g += group {
				ge := min(g+group, hi)
				src := x[g*p.H*p.W : ge*p.H*p.W]
				dst := out[g*p.OH*p.OW : ge*p.OH*p.OW]
				if same3 {
					maxPool3Same(src, ge-g, p.H, p.W, dst, buf, poolMax(src))
				} else {
					maxPool2x2(src, ge-g, p.H, p.W, dst, buf, poolMax(src))
				}
			}
			return
		}
		mx := maxVec
		vr := make([]float32, p.W)
		ph := make([]float32, s*phLen)
		var planeBuf []float32 // the halves' buffers, made when a plane first needs them
		for pl := lo; pl < hi; pl++ {
			src := x[pl*p.H*p.W : (pl+1)*p.H*p.W]
			dst := out[pl*p.OH*p.OW : (pl+1)*p.OH*p.OW]
			// one pass, with the rows' windows in registers, where the
			// plane holds no NaN
			if fast3s2 && pool3s2(dst, src, p.OW, rows) {
				continue
			}
			if halves {
				if planeBuf == nil {
					planeBuf = make([]float32, 3*p.H*p.W)
				}
				mx := poolMax(src)
				cols := planeBuf[:p.H*p.OW]
				maxCols3s2(src, p.H, p.OW, cols, planeBuf[p.H*p.OW:], mx)
				maxRows(cols, p.OW, rows, dst, mx)
				continue
			}
			for oy, rw := range rows {
				o := dst[oy*p.OW : (oy+1)*p.OW]
				if rw[0] == rw[1] || p.OW == 0 {
					for ox := range o {
						o[ox] = negInf
					}
					continue
				}
				line := src[rw[0]*p.W : (rw[0]+1)*p.W]
				if rw[1]-rw[0] > 1 {
					mx(vr, line, src[(rw[0]+1)*p.W:(rw[0]+2)*p.W])
					for y := rw[0] + 2; y < rw[1]; y++ {
						mx(vr, vr, src[y*p.W:(y+1)*p.W])
					}
					line = vr
				}
				// phase r holds the padded row's values r, r+s, r+2s, ...
				for r := 0; r < s; r++ {
					phase := ph[r*phLen : (r+1)*phLen]
					for i := range phase {
						v := negInf
						if xi := s*i + r - p.PadL; xi >= 0 && xi < p.W {
							v = line[xi]
						}
						phase[i] = v
					}
				}
				// window offset j of output ox is phase j%s at ox + j/s
				run := func(j int) []float32 {
					off := (j%s)*phLen + j/s
					return ph[off : off+p.OW]
				}
				if p.KW == 1 {
					copy(o, run(0))
					continue
				}
				mx(o, run(0), run(1))
				for j := 2; j < p.KW; j++ {
					mx(o, o, run(j))
				}
			}
		}
	})
}

// poolGroupValues is about how many input values the pools of
// GoogLeNet's branches take at once (a group of planes): with their
// intermediate planes, about the L1 cache.
const poolGroupValues = 2048

// maxCols3s2 sets cols (h×ow) to the maxima of the column windows
// [2x, 2x+3) of an h×2ow plane, clipped at each row's end: with the plane
// split into its even and odd values, e[i], o[i] and e[i+1] over the whole
// flattened plane, then each row's last window, which e[i+1] took from the
// next row, set apart.
func maxCols3s2(src []float32, h, ow int, cols, buf []float32, mx func(dst, a, b []float32)) {
	n := h * ow
	e, o := buf[:n], buf[n:2*n]
	deinterleave(e, o, src)
	mx(cols, e, o)
	mx(cols[:n-1], cols[:n-1], e[1:])
	for y := 1; y <= h; y++ {
		cols[y*ow-1] = fmax(e[y*ow-1], o[y*ow-1])
	}
}

// maxRows sets each row oy of dst to the maximum of rows [rows[oy][0],
// rows[oy][1]) of src (rows of w values), -Inf for an empty window.
func maxRows(src []float32, w int, rows [][2]int, dst []float32, mx func(dst, a, b []float32)) {
	for oy, rw := range rows {
		o := dst[oy*w : (oy+1)*w]
		switch rw[1] - rw[0] {
		case 0:
			for i := range o {
				o[i] = float32(math.Inf(-1))
			}
		case 1:
			copy(o, src[rw[0]*w:(rw[0]+1)*w])
		default:
			mx(o, src[rw[0]*w:(rw[0]+1)*w], src[(rw[0]+1)*w:(rw[0]+2)*w])
			for y := rw[0] + 2; y < rw[1]; y++ {
				mx(o, o, src[y*w:(y+1)*w])
			}
		}
	}
}

// maxPool3Same is the 3x3, stride 1, padding 1 maximum of planes h×w
// planes, as vector maxima over all of them at once: a window clipped at
// an edge is the maximum of the rows (columns) left, which is the same as
// repeating the edge row (column), so each pass is one vector maximum
// over the flattened planes with the rows (values) where it reached into
// the next plane (row) set right after. buf holds as many values as src.
func maxPool3Same(src []float32, planes, h, w int, o, buf []float32, mx func(dst, a, b []float32)) {
	n := planes * h * w
	plane := h * w
	row := func(b []float32, p, y int) []float32 { return b[p*plane+y*w : p*plane+(y+1)*w] }
	// down[i] = max(x[i], x[i+w]), in buf; a plane's last row has no row
	// below
	down := buf[:n]
	mx(down[:n-w], src[:n-w], src[w:])
	for p := 0; p < planes; p++ {
		copy(row(down, p, h-1), row(src, p, h-1))
	}
	// v[i] = max(down[i], x[i-w]), in o; a plane's first row has no row
	// above
	mx(o[w:n], down[w:], src[:n-w])
	for p := 0; p < planes; p++ {
		copy(row(o, p, 0), row(down, p, 0))
	}
	// r[i] = max(v[i], v[i+1]), in buf; a row's last value has no right
	// neighbour
	mx(buf[:n-1], o[:n-1], o[1:n])
	for i := w - 1; i < n; i += w {
		buf[i] = o[i]
	}
	// o[i] = max(r[i-1], r[i]); a row's first value has no left one
	mx(o[1:n], buf[:n-1], buf[1:n])
	for i := 0; i < n; i += w {
		o[i] = buf[i]
	}
}

// maxPool2x2 is the 2x2, stride 2 maximum of planes h×w planes (h and w
// even): each pair of rows, then each pair of values of the result, as
// vector maxima (rows pair up across the flattened planes, h being
// even). buf holds as many values as src.
func maxPool2x2(src []float32, planes, h, w int, o, buf []float32, mx func(dst, a, b []float32)) {
	pairs := planes * h / 2
	rows := buf[:pairs*w]
	for r := 0; r < pairs; r++ {
		mx(rows[r*w:(r+1)*w], src[2*r*w:(2*r+1)*w], src[(2*r+1)*w:(2*r+2)*w])
	}
	half := pairs * w / 2
	e, odd := buf[pairs*w:pairs*w+half], o[:half]
	deinterleave(e, odd, rows)
	mx(o[:half], e, odd)
}

// fmax is the larger of a and b, NaN if either is (as PyTorch's pools
// have it), without the builtin max's ordering of signed zeros.
func fmax(a, b float32) float32 {
	if a > b || a != a {
		return a
	}
	return b
}

// avgPool sums each input row over the column windows, then the summed
// rows over the row windows, and divides by each window's count.
func avgPool(x []float32, planes int, p PoolParams, out []float32, rows, cols [][2]int) {
	div := make([]float32, p.OH*p.OW)
	for oy := 0; oy < p.OH; oy++ {
		ys := oy*p.StrideH - p.PadT
		ye := min(ys+p.KH, p.H+p.PadB)
		for ox := 0; ox < p.OW; ox++ {
			xs := ox*p.StrideW - p.PadL
			xe := min(xs+p.KW, p.W+p.PadR)
			d := (rows[oy][1] - rows[oy][0]) * (cols[ox][1] - cols[ox][0])
			if p.CountIncludePad {
				d = (ye - ys) * (xe - xs)
			}
			div[oy*p.OW+ox] = float32(max(d, 1))
		}
	}
	Parallel(planes, 1, func(lo, hi int) {
		red := make([]float32, p.H*p.OW)
		for pl := lo; pl < hi; pl++ {
			src := x[pl*p.H*p.W : (pl+1)*p.H*p.W]
			dst := out[pl*p.OH*p.OW : (pl+1)*p.OH*p.OW]
			for y := 0; y < p.H; y++ {
				line := src[y*p.W : (y+1)*p.W]
				r := red[y*p.OW : (y+1)*p.OW]
				for ox, c := range cols {
					var s float32
					for _, v := range line[c[0]:c[1]] {
						s += v
					}
					r[ox] = s
				}
			}
			for oy, rw := range rows {
				o := dst[oy*p.OW : (oy+1)*p.OW]
				clear(o)
				for y := rw[0]; y < rw[1]; y++ {
					r := red[y*p.OW : (y+1)*p.OW]
					for ox, v := range r {
						o[ox] += v
					}
				}
				d := div[oy*p.OW : (oy+1)*p.OW]
				for ox := range o {
					o[ox] /= d[ox]
				}
			}
		}
	})
}

func clipWindow(start, k, size int) (int, int) {
	end := min(start+k, size)
	start = max(start, 0)
	if end < start {
		end = start
	}
	return start, end
}

// AdaptiveWindow is PyTorch's adaptive pooling window i of out over in:
// [floor(i·in/out), ceil((i+1)·in/out)).
func AdaptiveWindow(i, in, out int) (int, int) {
	return i * in / out, ((i+1)*in + out - 1) / out
}

// AdaptiveAvgPool2D averages into an OH×OW grid of adaptive windows.
func AdaptiveAvgPool2D(x []float32, n, c, h, w, oh, ow int, out []float32) {
	Parallel(n*c, 1, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*h*w : (pl+1)*h*w]
			dst := out[pl*oh*ow : (pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				y0, y1 := AdaptiveWindow(oy, h, oh)
				for ox := 0; ox < ow; ox++ {
					x0, x1 := AdaptiveWindow(ox, w, ow)
					var s float32
					for y := y0; y < y1; y++ {
						for _, v := range src[y*w+x0 : y*w+x1] {
							s += v
						}
					}
					dst[oy*ow+ox] = s / float32((y1-y0)*(x1-x0))
				}
			}
		}
	})
}

// LRN is local response normalisation across channels, as PyTorch's
// LocalResponseNorm and ONNX's LRN define it:
// b_c = a_c / (bias + alpha/size · Σ a_j²)^beta over j in
// [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉].
func LRN(x []float32, n, c, plane, size int, alpha, beta, bias float32, out []float32) {
	lo := (size - 1) / 2
	hi := size - 1 - lo
	Parallel(n*c, 1, func(a, b int) {
		for pc := a; pc < b; pc++ {
			img, ch := pc/c, pc%c
			base := img * c * plane
			dst := out[pc*plane : (pc+1)*plane]
			j0, j1 := max(ch-lo, 0), min(ch+hi, c-1)
			for i := 0; i < plane; i++ {
				var s float32
				for j := j0; j <= j1; j++ {
					v := x[base+j*plane+i]
					s += v * v
				}
				d := bias + alpha/float32(size)*s
				dst[i] = x[base+ch*plane+i] / float32(math.Pow(float64(d), float64(beta)))
			}
		}
	})
}

// ReLU clamps negatives to zero in place.
func ReLU(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

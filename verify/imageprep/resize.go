package imageprep

import "math"

// PIL's bilinear resampling (Image.resize with BILINEAR, which
// torchvision's Resize calls on PIL images), reproduced to the bit: a
// triangle filter widened by the reduction factor (so a reduction
// averages every source pixel, which plain bilinear sampling does not),
// coefficients in fixed point with 22 fractional bits, the horizontal
// pass first and its result rounded to 8 bits before the vertical one.

const precisionBits = 32 - 8 - 2

// coeffs are one pass's filter: for output pixel i, the source pixels
// first[i] .. first[i]+count[i]-1 weighted by k[i*size:].
type coeffs struct {
	first, count []int
	k            []int32
	size         int
}

func bilinearCoeffs(in, out int) coeffs {
	scale := float64(in) / float64(out)
	filterScale := max(scale, 1)
	support := filterScale // the triangle's support is 1
	size := int(math.Ceil(support))*2 + 1
	c := coeffs{first: make([]int, out), count: make([]int, out), k: make([]int32, out*size), size: size}
	w := make([]float64, size)
	for i := 0; i < out; i++ {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		sum := 0.0
		for x := lo; x < hi; x++ {
			t := math.Abs((float64(x) - center + 0.5) / filterScale)
			w[x-lo] = max(1-t, 0)
			sum += w[x-lo]
		}
		for x := 0; x < hi-lo; x++ {
			v := w[x]
			if sum != 0 {
				v /= sum
			}
			if v < 0 {
				c.k[i*size+x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				c.k[i*size+x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.first[i], c.count[i] = lo, hi-lo
	}
	return c
}

func clip8(v int32) uint8 {
	switch {
	case v >= 255<<precisionBits:
		return 255
	case v <= 0:
		return 0
	}
	return uint8(v >> precisionBits)
}

// Resize is PIL's img.resize((w, h), BILINEAR).
func (p *Pixels) Resize(w, h int) *Pixels {
	if w == p.W && h == p.H {
		return p
	}
	src := p
	if w != p.W {
		c := bilinearCoeffs(p.W, w)
		dst := &Pixels{W: w, H: p.H, C: p.C, Pix: make([]uint8, w*p.H*p.C)}
		for y := 0; y < p.H; y++ {
			row := p.Pix[y*p.W*p.C:]
			out := dst.Pix[y*w*p.C:]
			for x := 0; x < w; x++ {
				k := c.k[x*c.size:]
				for ch := 0; ch < p.C; ch++ {
					acc := int32(1 << (precisionBits - 1))
					for j := 0; j < c.count[x]; j++ {
						acc += int32(row[(c.first[x]+j)*p.C+ch]) * k[j]
					}
					out[x*p.C+ch] = clip8(acc)
				}
			}
		}
		src = dst
	}
	if h != src.H {
		c := bilinearCoeffs(src.H, h)
		dst := &Pixels{W: w, H: h, C: src.C, Pix: make([]uint8, w*h*src.C)}
		stride := w * src.C
		for y := 0; y < h; y++ {
			k := c.k[y*c.size:]
			out := dst.Pix[y*stride:]
			for x := 0; x < stride; x++ {
				acc := int32(1 << (precisionBits - 1))
				for j := 0; j < c.count[y]; j++ {
					acc += int32(src.Pix[(c.first[y]+j)*stride+x]) * k[j]
				}
				out[x] = clip8(acc)
			}
		}
		src = dst
	}
	return src
}

// Crop is the h×w window whose top-left corner is at (left, top); what
// lies outside the image is 0, as torchvision pads a crop larger than its
// image.
func (p *Pixels) Crop(left, top, w, h int) *Pixels {
	dst := &Pixels{W: w, H: h, C: p.C, Pix: make([]uint8, w*h*p.C)}
	for y := 0; y < h; y++ {
		sy := top + y
		if sy < 0 || sy >= p.H {
			continue
		}
		for x := 0; x < w; x++ {
			sx := left + x
			if sx < 0 || sx >= p.W {
				continue
			}
			copy(dst.Pix[(y*w+x)*p.C:(y*w+x+1)*p.C], p.Pix[(sy*p.W+sx)*p.C:])
		}
	}
	return dst
}

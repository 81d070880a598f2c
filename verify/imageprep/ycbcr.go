package imageprep

import (
	"image"
)

// Go's JPEG and WebP decoders hand back the image's luma and its
// subsampled chroma; how chroma is brought back to full size and turned
// into RGB is the converting library's choice. PIL's libraries (libjpeg
// and libwebp) both interpolate chroma ("fancy upsampling", a triangle
// filter) where Go repeats each sample, and libwebp reads WebP's luma in
// the studio range (16 to 235) where Go's YCbCr reads the full range,
// which shifts a WebP image's colours by several levels. These functions
// convert as those libraries do, so that a model sees what PyTorch's
// ImageFolder loader gives it.

// ycbcrPixels converts a decoded JPEG or WebP image as libjpeg or
// libwebp would; ok is false for a layout they do not use that way (it is
// then converted as any image).
func ycbcrPixels(img image.Image, format string, channels int) (*Pixels, bool) {
	var src *image.YCbCr
	switch m := img.(type) {
	case *image.YCbCr:
		src = m
	case *image.NYCbCrA:
		src = &m.YCbCr // alpha is dropped, as convert("RGB") drops it
	default:
		return nil, false
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	var cb, cr []uint8
	switch {
	case format == "jpeg" && src.SubsampleRatio == image.YCbCrSubsampleRatio420:
		cb, cr = jpegUpsample420(src, src.Cb, w, h), jpegUpsample420(src, src.Cr, w, h)
	case format == "jpeg" && src.SubsampleRatio == image.YCbCrSubsampleRatio422:
		cb, cr = jpegUpsample422(src, src.Cb, w, h), jpegUpsample422(src, src.Cr, w, h)
	case format == "webp" && src.SubsampleRatio == image.YCbCrSubsampleRatio420:
		cb, cr = webpUpsample420(src, src.Cb, w, h), webpUpsample420(src, src.Cr, w, h)
	default:
		return nil, false
	}
	p := &Pixels{W: w, H: h, C: channels, Pix: make([]uint8, w*h*channels)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yy := src.Y[src.YOffset(src.Rect.Min.X+x, src.Rect.Min.Y+y)]
			u, v := cb[y*w+x], cr[y*w+x]
			var r, g, b uint8
			if format == "webp" {
				r, g, b = webpRGB(yy, u, v)
			} else {
				r, g, b = jpegRGB(yy, u, v)
			}
			i := (y*w + x) * channels
			if channels == 3 {
				p.Pix[i], p.Pix[i+1], p.Pix[i+2] = r, g, b
			} else {
				p.Pix[i] = luminance(r, g, b)
			}
		}
	}
	return p, true
}

// chroma reads the subsampled plane at sample (i, j), clamped to the
// plane: libjpeg and libwebp repeat the edge samples.
func chroma(src *image.YCbCr, plane []uint8, i, j, cw, ch int) int {
	i, j = max(0, min(i, cw-1)), max(0, min(j, ch-1))
	return int(plane[src.COffset(src.Rect.Min.X+2*i, src.Rect.Min.Y+2*j)])
}

// jpegUpsample420 is libjpeg's h2v2_fancy_upsample: each output sample
// weighs its nearest input sample 9, the two next 3 each and the diagonal
// 1, with libjpeg's alternating rounding.
func jpegUpsample420(src *image.YCbCr, plane []uint8, w, h int) []uint8 {
	cw, ch := (w+1)/2, (h+1)/2
	out := make([]uint8, w*h)
	row := make([]int, cw)
	for y := 0; y < h; y++ {
		j := y / 2
		near := j - 1 // the row above for even output rows, below for odd
		if y%2 == 1 {
			near = j + 1
		}
		for i := 0; i < cw; i++ {
			row[i] = 3*chroma(src, plane, i, j, cw, ch) + chroma(src, plane, i, near, cw, ch)
		}
		for i := 0; i < cw; i++ {
			left, right := row[max(i-1, 0)], row[min(i+1, cw-1)]
			var a, b int
			switch {
			case cw == 1:
				a, b = (row[i]*4+8)>>4, (row[i]*4+7)>>4
			case i == 0:
				a, b = (row[i]*4+8)>>4, (row[i]*3+right+7)>>4
			case i == cw-1:
				a, b = (row[i]*3+left+8)>>4, (row[i]*4+7)>>4
			default:
				a, b = (row[i]*3+left+8)>>4, (row[i]*3+right+7)>>4
			}
			if x := 2 * i; x < w {
				out[y*w+x] = uint8(a)
			}
			if x := 2*i + 1; x < w {
				out[y*w+x] = uint8(b)
			}
		}
	}
	return out
}

// jpegUpsample422 is libjpeg's h2v1_fancy_upsample: along rows only,
// 3:1 weights.
func jpegUpsample422(src *image.YCbCr, plane []uint8, w, h int) []uint8 {
	cw := (w + 1) / 2
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		at := func(i int) int {
			return int(plane[src.COffset(src.Rect.Min.X+2*max(0, min(i, cw-1)), src.Rect.Min.Y+y)])
		}
		for i := 0; i < cw; i++ {
			v := at(i)
			a, b := (v*3+at(i-1)+1)>>2, (v*3+at(i+1)+2)>>2
			if i == 0 {
				a = v
			}
			if i == cw-1 {
				b = v
			}
			if x := 2 * i; x < w {
				out[y*w+x] = uint8(a)
			}
			if x := 2*i + 1; x < w {
				out[y*w+x] = uint8(b)
			}
		}
	}
	return out
}

// jpegRGB is libjpeg's ycc_rgb_convert: 16-bit fixed point, each
// product rounded, JFIF's full range.
func jpegRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	const half = 1 << 15
	u, v := int32(cb)-128, int32(cr)-128
	r := int32(y) + (91881*v+half)>>16
	g := int32(y) + (-22554*u-46802*v+half)>>16
	b := int32(y) + (116130*u+half)>>16
	return clamp8(r), clamp8(g), clamp8(b)
}

// webpUpsample420 is libwebp's fancy upsampler: the same 9:3:3:1
// weights as libjpeg's, computed through the diagonal averages libwebp
// uses, with its rounding.
func webpUpsample420(src *image.YCbCr, plane []uint8, w, h int) []uint8 {
	cw, ch := (w+1)/2, (h+1)/2
	out := make([]uint8, w*h)
	at := func(i, j int) int { return chroma(src, plane, i, j, cw, ch) }
	for y := 0; y < h; y++ {
		// output row y sits between chroma rows near (weight 3) and far
		// (weight 1): row 0 and the last row of an even height use one
		// row twice
		var near, far int
		switch {
		case y == 0:
			near, far = 0, 0
		case y%2 == 1:
			near, far = (y-1)/2, (y+1)/2
		default:
			near, far = y/2, y/2-1
		}
		if far >= ch {
			far = ch - 1
		}
		// the pair (tl, l) / (t, cur) of libwebp's loop: "top" is the row
		// weighted 3 for this output row
		for x := 0; x < w; x++ {
			var v int
			if x == 0 || (x == w-1 && w%2 == 0) {
				k := min(x/2, cw-1)
				v = (3*at(k, near) + at(k, far) + 2) >> 2
			} else {
				// output columns 2k-1 and 2k lie between chroma columns
				// k-1 and k
				k := (x + 1) / 2
				tl, t := at(k-1, near), at(k, near)
				l, c := at(k-1, far), at(k, far)
				avg := tl + t + l + c + 8
				if x%2 == 1 { // column 2k-1: nearer to k-1
					diag := (avg + 2*(t+l)) >> 3
					v = (diag + tl) >> 1
				} else {
					diag := (avg + 2*(tl+c)) >> 3
					v = (diag + t) >> 1
				}
			}
			out[y*w+x] = uint8(v)
		}
	}
	return out
}

// webpRGB is libwebp's VP8YUVToR/G/B: BT.601 studio-range YUV, 14-bit
// fixed point.
func webpRGB(y, u, v uint8) (uint8, uint8, uint8) {
	mult := func(a uint8, c int) int { return (int(a) * c) >> 8 }
	clip := func(x int) uint8 {
		const mask = (256 << 6) - 1
		if x&^mask == 0 {
			return uint8(x >> 6)
		}
		if x < 0 {
			return 0
		}
		return 255
	}
	yy := mult(y, 19077)
	return clip(yy + mult(v, 26149) - 14234), clip(yy - mult(u, 6419) - mult(v, 13320) + 8708), clip(yy + mult(u, 33050) - 17685)
}

func clamp8(v int32) uint8 {
	return uint8(max(0, min(v, 255)))
}

// luminance is PIL's L = R·299/1000 + G·587/1000 + B·114/1000.
func luminance(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

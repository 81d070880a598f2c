package verify

import (
	"fmt"
	"image"
	_ "image/jpeg" // decoders for LoadImages
	_ "image/png"
	"io"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/safeopen"
)

// MaxImagePixels bounds an input image's width times height, read from
// its header before it is decoded (a decoded pixel costs up to 8 bytes):
// 64 megapixels by default.
var MaxImagePixels = 64 << 20

// LoadImages decodes JPEG and PNG files into one NCHW batch the way
// torchvision's ImageNet evaluation does: the shorter side is resized to
// 256/224 of the target (bilinear), the centre h×w is cropped, values are
// scaled to [0, 1] and normalised with the ImageNet mean and std.
func LoadImages(paths []string, h, w int) (Batch, error) {
	b := Batch{N: len(paths), H: h, W: w, Data: make([]float32, len(paths)*3*h*w)}
	for i, p := range paths {
		img, err := decodeImage(p)
		if err != nil {
			return b, err
		}
		preprocess(img, h, w, b.Data[i*3*h*w:(i+1)*3*h*w])
	}
	return b, nil
}

func preprocess(img image.Image, h, w int, out []float32) {
	bounds := img.Bounds()
	sw, sh := float64(bounds.Dx()), float64(bounds.Dy())
	// resize so the shorter side is 256/224 of the crop, then centre-crop
	short := float64(min(h, w)) * 256 / 224
	scale := short / min(sw, sh)
	rw, rh := sw*scale, sh*scale
	ox, oy := (rw-float64(w))/2, (rh-float64(h))/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// centre of the output pixel, mapped back into the source
			sx := (float64(x)+ox+0.5)/scale - 0.5
			sy := (float64(y)+oy+0.5)/scale - 0.5
			r, g, bl := bilinear(img, sx, sy)
			rgb := [3]float64{r, g, bl}
			for c := 0; c < 3; c++ {
				out[(c*h+y)*w+x] = float32((rgb[c] - float64(graph.ImageNetMean[c])) / float64(graph.ImageNetStd[c]))
			}
		}
	}
}

func bilinear(img image.Image, x, y float64) (float64, float64, float64) {
	b := img.Bounds()
	clampi := func(v, lo, hi int) int { return max(lo, min(v, hi)) }
	x0, y0 := int(floor(x)), int(floor(y))
	fx, fy := x-floor(x), y-floor(y)
	var acc [3]float64
	for dy := 0; dy < 2; dy++ {
		for dx := 0; dx < 2; dx++ {
			wt := (1 - fx + float64(dx)*(2*fx-1)) * (1 - fy + float64(dy)*(2*fy-1))
			px := clampi(x0+dx, 0, b.Dx()-1) + b.Min.X
			py := clampi(y0+dy, 0, b.Dy()-1) + b.Min.Y
			r, g, bl, _ := img.At(px, py).RGBA()
			acc[0] += wt * float64(r) / 65535
			acc[1] += wt * float64(g) / 65535
			acc[2] += wt * float64(bl) / 65535
		}
	}
	return acc[0], acc[1], acc[2]
}

func floor(v float64) float64 {
	f := float64(int(v))
	if f > v {
		f--
	}
	return f
}

// decodeImage decodes a regular file's image once its header's size has
// been checked against MaxImagePixels.
func decodeImage(p string) (image.Image, error) {
	f, err := safeopen.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: an image of %dx%d pixels", p, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(MaxImagePixels) {
		return nil, fmt.Errorf("%s: an image of %dx%d pixels, more than the %d allowed", p, cfg.Width, cfg.Height, MaxImagePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return img, nil
}

package verify

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/verify/imageprep"
)

// TestLoadImagesNormalises: a uniform image becomes the ImageNet-normalised
// value of its colour everywhere, whatever its size; a left/right split
// stays split after the resize and the centre crop.
func TestLoadImagesNormalises(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, w, h int, at func(x, y int) color.RGBA) string {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Set(x, y, at(x, y))
			}
		}
		p := filepath.Join(dir, name)
		f, _ := os.Create(p)
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := color.RGBA{R: 200, G: 100, B: 50, A: 255}
	flat := write("flat.png", 300, 170, func(int, int) color.RGBA { return c })
	split := write("split.png", 400, 400, func(x, _ int) color.RGBA {
		if x < 200 {
			return color.RGBA{A: 255}
		}
		return color.RGBA{R: 255, G: 255, B: 255, A: 255}
	})
	b, err := LoadImages([]string{flat, split}, imagenet224, 3, 224, 224)
	if err != nil {
		t.Fatal(err)
	}
	if b.N != 2 || len(b.Data) != 2*3*224*224 {
		t.Fatalf("batch %d, %d values", b.N, len(b.Data))
	}
	rgb := [3]float64{200, 100, 50}
	for ch := 0; ch < 3; ch++ {
		want := (rgb[ch]/255 - float64(graph.ImageNetMean[ch])) / float64(graph.ImageNetStd[ch])
		for _, i := range []int{0, 224*224 - 1, 112*224 + 7} {
			if got := float64(b.Data[ch*224*224+i]); math.Abs(got-want) > 1e-4 {
				t.Fatalf("channel %d value %d: %v, want %v", ch, i, got, want)
			}
		}
	}
	second := b.Data[3*224*224:]
	black := (0 - float64(graph.ImageNetMean[0])) / float64(graph.ImageNetStd[0])
	white := (1 - float64(graph.ImageNetMean[0])) / float64(graph.ImageNetStd[0])
	if math.Abs(float64(second[100*224+5])-black) > 1e-4 || math.Abs(float64(second[100*224+218])-white) > 1e-4 {
		t.Fatalf("split image: left %v right %v", second[100*224+5], second[100*224+218])
	}
	if _, err := LoadImages([]string{filepath.Join(dir, "missing.png")}, imagenet224, 3, 224, 224); err == nil {
		t.Fatal("a missing image must fail")
	}
}

var imagenet224, _ = imageprep.Preset("imagenet", 224, 224, 3)

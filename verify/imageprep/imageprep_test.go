package imageprep

import (
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func TestCropOffsetRoundsHalfToEven(t *testing.T) {
	// torchvision: int(round((size - crop) / 2.0)), Python's round
	for _, tc := range []struct{ size, crop, want int }{
		{256, 224, 16}, {225, 224, 0}, {227, 224, 2}, {229, 224, 2}, {231, 224, 4}, {200, 224, -12}, {201, 224, -11},
	} {
		if got := cropOffset(tc.size, tc.crop); got != tc.want {
			t.Errorf("cropOffset(%d, %d) = %d, want %d", tc.size, tc.crop, got, tc.want)
		}
	}
}

// TestResizeAverages: a reduction averages every source pixel (as PIL's
// filter widened by the factor does), and a flat image stays flat.
func TestResizeAverages(t *testing.T) {
	p := &Pixels{W: 8, H: 2, C: 1, Pix: make([]uint8, 16)}
	for i := range p.Pix {
		if i%2 == 0 {
			p.Pix[i] = 200
		}
	}
	r := p.Resize(4, 2)
	// inside, each output pixel weighs 4 columns 1:3:3:1 (a triangle
	// twice as wide); at the edges the window is cut and renormalised
	if !reflect.DeepEqual(r.Pix, []uint8{114, 100, 100, 86, 114, 100, 100, 86}) {
		t.Fatalf("2:1 reduction of 200,0 columns gave %v", r.Pix)
	}
	flat := &Pixels{W: 37, H: 11, C: 3, Pix: make([]uint8, 37*11*3)}
	for i := range flat.Pix {
		flat.Pix[i] = 77
	}
	for _, size := range [][2]int{{224, 224}, {5, 3}, {37, 300}} {
		for _, v := range flat.Resize(size[0], size[1]).Pix {
			if v != 77 {
				t.Fatalf("a flat image resized to %v is not flat", size)
			}
		}
	}
}

func TestPresetsAndChecks(t *testing.T) {
	s, err := Preset("imagenet", 299, 299, 3)
	if err != nil || s.ResizeShorter != 342 || s.CropH != 299 {
		t.Fatalf("imagenet at 299: %+v, %v", s, err)
	}
	if got := s.String(); !strings.Contains(got, "Resize(342), CenterCrop((299, 299)), ToTensor(), Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])") {
		t.Errorf("String() = %q", got)
	}
	if _, err := Preset("imagenet", 96, 96, 1); err == nil {
		t.Error("imagenet accepted a 1-channel network")
	}
	if s, err := Preset("tutorial", 96, 96, 1); err != nil || !reflect.DeepEqual(s.Mean, []float32{0.5}) {
		t.Errorf("tutorial at 1 channel: %+v, %v", s, err)
	}
	bad := []Spec{
		{ResizeH: 224, ResizeW: 224, Mean: []float32{0.5}, Std: []float32{0.5}},         // one value for 3 channels
		{ResizeH: 224, ResizeW: 224, Mean: []float32{0, 0, 0}, Std: []float32{1, 0, 1}}, // zero std
		{ResizeShorter: 256},                 // no fixed size
		{ResizeH: 224, ResizeW: MaxSide + 1}, // too large
		{CropH: 200, CropW: 200},             // another size
	}
	for _, b := range bad {
		if err := b.Check(224, 224, 3); err == nil {
			t.Errorf("Check accepted %+v", b)
		}
	}
}

// TestPixelsRefusesHugeResize: a long thin image resized by its shorter
// side would grow past the pixel bound.
func TestPixelsRefusesHugeResize(t *testing.T) {
	p := &Pixels{W: 1, H: 5000, C: 3, Pix: make([]uint8, 3*5000)}
	s, _ := Preset("imagenet", 224, 224, 3)
	if _, err := s.Pixels(p, 1<<20); err == nil {
		t.Fatal("a 1x5000 image resized to 256 wide was allowed 1,280,000 pixels under a 1 Mi bound")
	}
}

// TestDecodeFormats: each format's decoder is registered, grey images
// become RGB or luminance as PIL's convert makes them, and other files
// are refused with the list of formats.
func TestDecodeFormats(t *testing.T) {
	dir := t.TempDir()
	rgb := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
	}
	for i := 3; i < len(rgb.Pix); i += 4 {
		rgb.Pix[i] = 255
	}
	grey := image.NewGray(image.Rect(0, 0, 5, 4))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 11)
	}
	write := func(name string, enc func(f *os.File) error) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := enc(f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := map[string]string{
		"png":  write("a.png", func(f *os.File) error { return png.Encode(f, rgb) }),
		"bmp":  write("a.bmp", func(f *os.File) error { return bmp.Encode(f, rgb) }),
		"tiff": write("a.tif", func(f *os.File) error { return tiff.Encode(f, rgb, nil) }),
	}
	for kind, p := range files {
		img, format, err := Decode(p, 0)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		px, _ := ToPixels(img, format, 3)
		for i := 0; i < 20; i++ {
			if px.Pix[3*i] != rgb.Pix[4*i] || px.Pix[3*i+2] != rgb.Pix[4*i+2] {
				t.Fatalf("%s: pixel %d is %v, want %v", kind, i, px.Pix[3*i:3*i+3], rgb.Pix[4*i:4*i+3])
			}
		}
	}
	g := write("g.gif", func(f *os.File) error {
		pal := image.NewPaletted(grey.Bounds(), nil)
		pal.Palette = make(color.Palette, 256)
		for i := range pal.Palette {
			pal.Palette[i] = color.Gray{uint8(i)}
		}
		copy(pal.Pix, grey.Pix)
		return gif.Encode(f, pal, nil)
	})
	img, format, err := Decode(g, 0)
	if err != nil {
		t.Fatal(err)
	}
	px, _ := ToPixels(img, format, 1)
	if !reflect.DeepEqual(px.Pix, grey.Pix) {
		t.Errorf("grey GIF read as %v, want %v", px.Pix, grey.Pix)
	}
	px, _ = ToPixels(img, format, 3)
	if px.Pix[3*7] != grey.Pix[7] || px.Pix[3*7+1] != grey.Pix[7] {
		t.Errorf("grey as RGB is not grey")
	}
	txt := write("a.png.txt", func(f *os.File) error { _, err := f.WriteString("hello"); return err })
	if _, _, err := Decode(txt, 0); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "webp") {
		t.Errorf("a text file: %v", err)
	}
	if _, _, err := Decode(files["png"], 10); err == nil || !strings.Contains(err.Error(), "5x4") {
		t.Errorf("a 20-pixel image under a 10-pixel bound: %v", err)
	}
}

// TestScanFolder: ImageFolder's rules: sorted sub-folders are classes,
// files at any depth, other endings skipped, empty sub-folders keep
// their number; loose images alone have no classes; both at once, or
// none, are refused.
func TestScanFolder(t *testing.T) {
	root := t.TempDir()
	touch := func(rel string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	touch("b/x.JPG")
	touch("b/deep/y.png")
	touch("b/notes.txt")
	touch("a/z.webp")
	os.MkdirAll(filepath.Join(root, "c"), 0o755)
	touch("d/w.bmp")
	f, err := ScanFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range f.Items {
		rel, _ := filepath.Rel(root, it.Path)
		got = append(got, rel+"="+f.Classes[it.Class])
	}
	want := []string{"a/z.webp=a", "b/deep/y.png=b", "b/x.JPG=b", "d/w.bmp=d"}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(f.Classes, []string{"a", "b", "c", "d"}) {
		t.Fatalf("items %v, classes %v", got, f.Classes)
	}
	touch("loose.png")
	if _, err := ScanFolder(root); err == nil {
		t.Error("images beside class folders were accepted")
	}
	flat := t.TempDir()
	os.WriteFile(filepath.Join(flat, "one.png"), nil, 0o644)
	if f, err := ScanFolder(flat); err != nil || len(f.Classes) != 0 || f.Items[0].Class != -1 {
		t.Errorf("a flat folder: %+v, %v", f, err)
	}
	if _, err := ScanFolder(t.TempDir()); !errors.Is(err, ErrNoImages) {
		t.Errorf("an empty folder: %v", err)
	}
	// a link to a folder is not followed: a link back to the root would loop
	if err := os.Symlink(root, filepath.Join(root, "b", "loop")); err == nil {
		os.Remove(filepath.Join(root, "loose.png"))
		if _, err := ScanFolder(root); err != nil {
			t.Errorf("a link loop: %v", err)
		}
	}
}

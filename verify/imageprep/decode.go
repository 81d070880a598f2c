package imageprep

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // the decoders Decode knows, registered with package image
	_ "image/jpeg"
	_ "image/png"
	"io"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/gnconv/gnconv/internal/safeopen"
)

// Formats are the image formats Decode reads (GIF: its first frame).
var Formats = []string{"jpeg", "png", "gif", "bmp", "tiff", "webp"}

// Extensions are the file name endings of an image folder's images,
// lower case: torchvision's ImageFolder list, so that a folder holds the
// same images for gnconv as for PyTorch (GIF files are not among them,
// though Decode reads one given by name; PPM and PGM are, and are refused
// when read, not skipped).
var Extensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// DefaultMaxPixels bounds an image's width times height, read from its
// header before it is decoded: 64 megapixels (a decoded pixel costs up to
// 8 bytes, so one image stays under 512 MiB).
const DefaultMaxPixels = 64 << 20

// ErrFormat is wrapped by the error for a file that no decoder reads.
var ErrFormat = errors.New("not an image gnconv reads (" + strings.Join(Formats, ", ") + ")")

// Decode reads a regular file's image once its header's size has been
// checked against maxPixels (DefaultMaxPixels when 0), and names its
// format ("jpeg", "png", ...).
func Decode(path string, maxPixels int) (image.Image, string, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	f, err := safeopen.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, "", ErrFormat
		}
		return nil, "", err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fmt.Errorf("an image of %dx%d pixels", cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, "", fmt.Errorf("an image of %dx%d pixels, more than the %d allowed", cfg.Width, cfg.Height, maxPixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, "", err
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, "", fmt.Errorf("the image decodes to %dx%d pixels, its header says %dx%d", b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, format, nil
}

// Pixels is an 8-bit image, channel-interleaved (RGB or gray), as PIL
// holds an image after convert("RGB") or convert("L").
type Pixels struct {
	W, H, C int
	Pix     []uint8
}

// ToPixels converts an image of the format Decode named to 8-bit RGB
// (channels 3) or luminance (channels 1) as PIL's convert does: alpha is
// dropped, not composited, and luminance weighs R, G, B by 0.299, 0.587,
// 0.114 (ITU-R 601); JPEG and WebP colours are made as PIL's libraries
// make them (ycbcr.go).
func ToPixels(img image.Image, format string, channels int) (*Pixels, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("images can feed networks of 1 or 3 channels, not %d", channels)
	}
	if p, ok := ycbcrPixels(img, format, channels); ok {
		return p, nil
	}
	b := img.Bounds()
	p := &Pixels{W: b.Dx(), H: b.Dy(), C: channels, Pix: make([]uint8, b.Dx()*b.Dy()*channels)}
	i := 0
	put := func(r, g, bl uint8) {
		if channels == 3 {
			p.Pix[i], p.Pix[i+1], p.Pix[i+2] = r, g, bl
			i += 3
			return
		}
		p.Pix[i] = luminance(r, g, bl)
		i++
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		switch src := img.(type) {
		case *image.YCbCr:
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := src.YOffset(x, y), src.COffset(x, y)
				put(color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci]))
			}
		case *image.Gray:
			row := src.Pix[src.PixOffset(b.Min.X, y):]
			for x := 0; x < b.Dx(); x++ {
				put(row[x], row[x], row[x])
			}
		case *image.NRGBA:
			row := src.Pix[src.PixOffset(b.Min.X, y):]
			for x := 0; x < b.Dx(); x++ {
				put(row[4*x], row[4*x+1], row[4*x+2])
			}
		default:
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				put(c.R, c.G, c.B)
			}
		}
	}
	return p, nil
}

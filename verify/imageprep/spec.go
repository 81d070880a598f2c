// Package imageprep turns image files into a network's input the way
// torchvision's transforms do: decode, convert to RGB (or luminance), Resize
// (PIL's bilinear), CenterCrop, ToTensor and Normalize, each step with the
// rounding PIL and torch apply, so that what gnconv feeds a network is what
// the user's PyTorch evaluation fed it.
package imageprep

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gnconv/gnconv/internal/preprocess"
)

// Spec is a preprocessing: the steps of a torchvision transforms.Compose.
type Spec struct {
	// Name is the preset the spec came from ("imagenet", "tutorial"), or
	// "custom" once a step is set by hand.
	Name string
	// ResizeShorter resizes the shorter side to this many pixels, the
	// longer in proportion (transforms.Resize(n)); ResizeH, ResizeW resize
	// to exactly that (transforms.Resize((h, w))). Neither: no resize.
	ResizeShorter    int
	ResizeH, ResizeW int
	// CropH, CropW cut the centre (transforms.CenterCrop); 0: no crop.
	CropH, CropW int
	// Mean and Std normalise each channel after scaling to [0, 1]; empty:
	// no normalisation (ToTensor alone).
	Mean, Std []float32
}

// MaxSide bounds a resize's or a crop's side.
const MaxSide = 1 << 14

// Presets are the named preprocessings.
var Presets = []string{"imagenet", "tutorial", "none"}

// Preset is a named preprocessing for a network input of h×w pixels:
//   - imagenet: Resize(round(256/224 of the shorter side)), CenterCrop((h, w)),
//     ImageNet mean and std (torchvision's evaluation transforms);
//   - tutorial: Resize((h, w)), mean and std 0.5 per channel;
//   - none: Resize((h, w)) and ToTensor alone, values in [0, 1].
func Preset(name string, h, w, channels int) (Spec, error) {
	switch name {
	case "imagenet", "tutorial":
		// the normalisation is import --preprocess's, which a file that
		// takes pixels carries out itself
		norm, err := preprocess.Preset(name, channels)
		if err != nil {
			return Spec{}, err
		}
		s := Spec{Name: name, ResizeH: h, ResizeW: w, Mean: norm.Mean, Std: norm.Std}
		if name == "imagenet" {
			s.ResizeH, s.ResizeW = 0, 0
			s.ResizeShorter, s.CropH, s.CropW = int(math.Floor(float64(min(h, w))*256/224+0.5)), h, w
		}
		return s, nil
	case "none":
		return Spec{Name: name, ResizeH: h, ResizeW: w}, nil
	}
	return Spec{}, fmt.Errorf("no preprocessing is named %q (known: %s)", name, strings.Join(Presets, ", "))
}

// Check says whether the spec makes inputs of h×w pixels and channels
// channels for a network.
func (s Spec) Check(h, w, channels int) error {
	for _, v := range []int{s.ResizeShorter, s.ResizeH, s.ResizeW, s.CropH, s.CropW} {
		if v < 0 || v > MaxSide {
			return fmt.Errorf("a resize or crop of %d pixels: each side must be 1 to %d", v, MaxSide)
		}
	}
	oh, ow := s.OutSize()
	if oh > 0 && (oh != h || ow != w) {
		return fmt.Errorf("the preprocessing (%s) makes %dx%d images, the network takes %dx%d", s, oh, ow, h, w)
	}
	if oh == 0 {
		return fmt.Errorf("the preprocessing (%s) neither crops nor resizes to a fixed size, the network takes %dx%d", s, h, w)
	}
	if len(s.Mean) != len(s.Std) {
		return fmt.Errorf("%d mean values and %d std values", len(s.Mean), len(s.Std))
	}
	if len(s.Mean) != 0 && len(s.Mean) != channels {
		return fmt.Errorf("%d mean and std values for a network of %d channels", len(s.Mean), channels)
	}
	for _, v := range s.Std {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("a std of %g: each must be a positive number", v)
		}
	}
	for _, v := range s.Mean {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("a mean of %g: each must be a finite number", v)
		}
	}
	return nil
}

// OutSize is the size of the images the spec makes, 0, 0 if it depends
// on the image.
func (s Spec) OutSize() (h, w int) {
	switch {
	case s.CropH > 0:
		return s.CropH, s.CropW
	case s.ResizeH > 0:
		return s.ResizeH, s.ResizeW
	}
	return 0, 0
}

// String states the spec as torchvision's transforms.
func (s Spec) String() string {
	var steps []string
	switch {
	case s.ResizeShorter > 0:
		steps = append(steps, fmt.Sprintf("Resize(%d)", s.ResizeShorter))
	case s.ResizeH > 0:
		steps = append(steps, fmt.Sprintf("Resize((%d, %d))", s.ResizeH, s.ResizeW))
	}
	if s.CropH > 0 {
		steps = append(steps, fmt.Sprintf("CenterCrop((%d, %d))", s.CropH, s.CropW))
	}
	steps = append(steps, "ToTensor()")
	if len(s.Mean) > 0 {
		steps = append(steps, fmt.Sprintf("Normalize(%s, %s)", floats(s.Mean), floats(s.Std)))
	}
	name := s.Name
	if name == "" {
		name = "custom"
	}
	return name + ": " + strings.Join(steps, ", ")
}

func floats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Pixels resizes and crops an image's pixels as the spec says. A resize
// to more than maxPixels is refused: a long thin image resized by its
// shorter side can grow by the square of the factor.
func (s Spec) Pixels(p *Pixels, maxPixels int) (*Pixels, error) {
	w, h := p.W, p.H
	switch {
	case s.ResizeShorter > 0:
		// torchvision: the longer side is int(size * long / short)
		long := func(a, b int) float64 { return math.Floor(float64(s.ResizeShorter) * float64(a) / float64(b)) }
		if p.W <= p.H {
			w, h = s.ResizeShorter, 0
			if l := long(p.H, p.W); l <= float64(maxPixels) {
				h = int(l)
			}
		} else {
			w, h = 0, s.ResizeShorter
			if l := long(p.W, p.H); l <= float64(maxPixels) {
				w = int(l)
			}
		}
	case s.ResizeH > 0:
		w, h = s.ResizeW, s.ResizeH
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h) > int64(maxPixels) {
		return nil, fmt.Errorf("resizing a %dx%d image (%s) would make more than %d pixels", p.W, p.H, s, maxPixels)
	}
	p = p.Resize(w, h)
	if s.CropH > 0 && (s.CropH != p.H || s.CropW != p.W) {
		p = p.Crop(cropOffset(p.W, s.CropW), cropOffset(p.H, s.CropH), s.CropW, s.CropH)
	}
	return p, nil
}

// cropOffset is where torchvision's CenterCrop starts along one side:
// round((size - crop) / 2) with Python's rounding (half to even), or,
// for a crop larger than the image, minus the padding it adds first.
func cropOffset(size, crop int) int {
	if crop > size {
		return -((crop - size) / 2)
	}
	return int(math.RoundToEven(float64(size-crop) / 2))
}

// Tensor writes the pixels as a CHW float tensor into out (len C*H*W):
// ToTensor's division by 255 and Normalize's (x - mean) / std, each in
// float32 as torch computes them.
func (s Spec) Tensor(p *Pixels, out []float32) {
	plane := p.W * p.H
	for c := 0; c < p.C; c++ {
		mean, std := float32(0), float32(1)
		if len(s.Mean) > 0 {
			mean, std = s.Mean[c], s.Std[c]
		}
		dst := out[c*plane : (c+1)*plane]
		for i := range dst {
			x := float32(p.Pix[i*p.C+c]) / 255
			dst[i] = (x - mean) / std
		}
	}
}

// Load decodes an image file and preprocesses it into out, a CHW tensor
// of channels × the spec's output size.
func (s Spec) Load(path string, channels, maxPixels int, out []float32) error {
	img, format, err := Decode(path, maxPixels)
	if err != nil {
		return err
	}
	p, err := ToPixels(img, format, channels)
	if err != nil {
		return err
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if p, err = s.Pixels(p, maxPixels); err != nil {
		return err
	}
	if len(out) != p.C*p.W*p.H {
		return fmt.Errorf("the preprocessing makes %dx%dx%d values, the input takes %d", p.C, p.H, p.W, len(out))
	}
	s.Tensor(p, out)
	return nil
}

package verify

import (
	"fmt"

	"github.com/gnconv/gnconv/verify/imageprep"
)

// LoadImages decodes image files into one NCHW batch of channels×h×w
// images, preprocessed as spec says (imageprep.Preset("imagenet", …) is
// torchvision's ImageNet evaluation).
func LoadImages(paths []string, spec imageprep.Spec, channels, h, w int) (Batch, error) {
	if err := spec.Check(h, w, channels); err != nil {
		return Batch{}, err
	}
	size := channels * h * w
	b := Batch{N: len(paths), H: h, W: w, C: channels, Data: make([]float32, len(paths)*size)}
	for i, p := range paths {
		if err := spec.Load(p, channels, MaxImagePixels, b.Data[i*size:(i+1)*size]); err != nil {
			return b, fmt.Errorf("%s: %w", p, err)
		}
	}
	return b, nil
}

// MaxImagePixels bounds an input image's width times height, read from
// its header before it is decoded.
var MaxImagePixels = imageprep.DefaultMaxPixels

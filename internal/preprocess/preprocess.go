// Package preprocess is the image normalisation that gnconv can build into
// an ONNX file (import --preprocess) and that verify repeats in Go to make
// the reference pass's input: uint8 pixels, NHWC or NCHW, scaled to [0, 1]
// and normalised per channel, (x/255 − mean)/std. One function computes
// it for both, so the reference and the emitted nodes cannot drift apart
// in anything but the file's own arithmetic.
package preprocess

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gnconv/gnconv/graph"
)

// Metadata keys under which an ONNX file records its preprocessing.
const (
	KeyPreprocess  = "preprocess"
	KeyMean        = "mean"
	KeyStd         = "std"
	KeyInputLayout = "input_layout"
)

// Layouts of the uint8 input.
const (
	NHWC = "nhwc"
	NCHW = "nchw"
)

// Spec is one normalisation: a preset's name (or "custom"), one mean and
// one std per channel, and the pixel layout of the input.
type Spec struct {
	Name      string
	Mean, Std []float32
	Layout    string
}

// Channels is the number of channels the spec normalises.
func (s Spec) Channels() int { return len(s.Mean) }

// Preset is a named normalisation for a network of that many channels:
// imagenet (torchvision's mean and std, 3 channels) or tutorial (0.5 and
// 0.5 per channel).
func Preset(name string, channels int) (Spec, error) {
	switch name {
	case "imagenet":
		if channels != 3 {
			return Spec{}, fmt.Errorf("--preprocess imagenet normalises 3 channels (RGB), the network takes %d: give --mean and --std with %d values", channels, channels)
		}
		return Spec{Name: name, Mean: graph.ImageNetMean[:], Std: graph.ImageNetStd[:]}, nil
	case "tutorial":
		s := Spec{Name: name}
		for i := 0; i < channels; i++ {
			s.Mean = append(s.Mean, 0.5)
			s.Std = append(s.Std, 0.5)
		}
		return s, nil
	}
	return Spec{}, fmt.Errorf("unknown preprocessing %q (imagenet, tutorial or none)", name)
}

// ParseValues reads a comma-separated list of one value per channel.
func ParseValues(flag, s string, channels int) ([]float32, error) {
	parts := strings.Split(s, ",")
	if len(parts) != channels {
		return nil, fmt.Errorf("--%s wants %d values (one per input channel), got %d", flag, channels, len(parts))
	}
	out := make([]float32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("--%s: value %d is not a finite number", flag, i+1)
		}
		out[i] = float32(v)
	}
	return out, nil
}

// Check refuses a spec that cannot normalise a network of that many
// channels: a count other than the channels', a std that is zero or not
// finite, an unknown layout.
func (s Spec) Check(channels int) error {
	if len(s.Mean) != channels || len(s.Std) != channels {
		return fmt.Errorf("preprocessing has %d means and %d stds for a network of %d input channels", len(s.Mean), len(s.Std), channels)
	}
	for i := range s.Mean {
		m, d := float64(s.Mean[i]), float64(s.Std[i])
		if math.IsNaN(m) || math.IsInf(m, 0) || math.IsNaN(d) || math.IsInf(d, 0) || d == 0 {
			return fmt.Errorf("preprocessing channel %d: mean and std must be finite and std non-zero", i+1)
		}
	}
	if s.Layout != NHWC && s.Layout != NCHW {
		return fmt.Errorf("input layout must be nhwc or nchw")
	}
	return nil
}

// Metadata is the spec as metadata_props entries.
func (s Spec) Metadata() map[string]string {
	return map[string]string{
		KeyPreprocess:  s.Name,
		KeyMean:        joinFloats(s.Mean),
		KeyStd:         joinFloats(s.Std),
		KeyInputLayout: s.Layout,
	}
}

// joinFloats prints values so that ParseFloat(…, 32) gives them back
// exactly.
func joinFloats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}

// FromMetadata reads a spec back from a file's metadata: false when the
// file records none. The values come from an untrusted file and are
// checked as the flags are.
func FromMetadata(meta map[string]string, channels int) (Spec, bool, error) {
	name, ok := meta[KeyPreprocess]
	if !ok || name == "none" {
		return Spec{}, false, nil
	}
	if len(meta[KeyMean]) > 4096 || len(meta[KeyStd]) > 4096 {
		return Spec{}, true, fmt.Errorf("the file's recorded mean or std is too long")
	}
	mean, err := ParseValues("mean", meta[KeyMean], channels)
	if err != nil {
		return Spec{}, true, fmt.Errorf("the file's recorded mean: %w", err)
	}
	std, err := ParseValues("std", meta[KeyStd], channels)
	if err != nil {
		return Spec{}, true, fmt.Errorf("the file's recorded std: %w", err)
	}
	s := Spec{Name: "recorded", Mean: mean, Std: std, Layout: meta[KeyInputLayout]}
	if err := s.Check(channels); err != nil {
		return Spec{}, true, fmt.Errorf("the file's recorded preprocessing: %w", err)
	}
	return s, true, nil
}

// Shape is the uint8 input's shape for a batch of n images of h×w.
func (s Spec) Shape(n, h, w int) []int {
	if s.Layout == NCHW {
		return []int{n, s.Channels(), h, w}
	}
	return []int{n, h, w, s.Channels()}
}

// Normalize turns n images of uint8 pixels (held as float32 integers
// 0..255, in the spec's layout) into the network's NCHW float32 input,
// with float32 arithmetic in the order the emitted nodes use: x/255, then
// − mean, then / std.
func (s Spec) Normalize(pixels []float32, n, h, w int) []float32 {
	c := s.Channels()
	out := make([]float32, n*c*h*w)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			mean, std := s.Mean[ch], s.Std[ch]
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					var p float32
					if s.Layout == NCHW {
						p = pixels[((i*c+ch)*h+y)*w+x]
					} else {
						p = pixels[((i*h+y)*w+x)*c+ch]
					}
					v := p / 255
					v = v - mean
					out[((i*c+ch)*h+y)*w+x] = v / std
				}
			}
		}
	}
	return out
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/convert/calib"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify/imageprep"
	"github.com/urfave/cli/v2"
)

// quantizeFlags are import's static quantization flags.
func quantizeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "quantize", Usage: "int8: static post-training quantization in QDQ form (uint8 activations per tensor, int8 weights per output channel, int32 bias), calibrated on the images of --calibrate"},
		&cli.StringFlag{Name: "calibrate", Usage: "with --quantize int8: an image folder (ImageFolder's layout, or images directly in it) whose activations set the quantization ranges"},
		&cli.StringFlag{Name: "calibration-method", Value: "minmax", Usage: "how ranges are made from the calibration: minmax (all values seen), percentile (the tails beyond --calibration-percentile dropped) or entropy (the clipping that loses the least information, by KL divergence)"},
		&cli.Float64Flag{Name: "calibration-percentile", Value: calib.DefaultPercentile, Usage: "with --calibration-method percentile: the share of values, in percent, the range holds at each end"},
		&cli.StringFlag{Name: "calibration-preprocess", Usage: "how calibration images become inputs, as verify --preprocess: imagenet (Resize(256/224), CenterCrop, ImageNet mean and std), tutorial or none (default: --preprocess's preset, else imagenet); with --preprocess the normalisation is always the file's"},
	}
}

// quantizeChecks checks the quantization flags before anything is read,
// and reports whether --quantize int8 is asked for.
func quantizeChecks(c *cli.Context) (bool, error) {
	q := c.String("quantize")
	if q == "" || q == "none" {
		for _, f := range []string{"calibrate", "calibration-method", "calibration-percentile", "calibration-preprocess"} {
			if c.IsSet(f) {
				return false, fmt.Errorf("--%s needs --quantize int8", f)
			}
		}
		return false, nil
	}
	if q != "int8" {
		return false, fmt.Errorf("--quantize must be int8")
	}
	if c.String("calibrate") == "" {
		return false, fmt.Errorf("--quantize int8 needs --calibrate DIR: a folder of images that sets the activations' ranges")
	}
	if c.String("dtype") == "float16" || c.IsSet("io") {
		return false, fmt.Errorf("--quantize int8 cannot be combined with --dtype float16 or --io: the file holds int8 weights with float32 scales")
	}
	if c.Bool("no-fold-bn") {
		return false, fmt.Errorf("--quantize int8 folds batch norm into the convolutions; it cannot be combined with --no-fold-bn")
	}
	if c.Bool("verify") || c.String("expect") != "" {
		return false, fmt.Errorf("an int8 file is verified on images: run gnconv verify FILE --weights CHECKPOINT --images DIR after import (--verify and --expect compare on inputs its calibrated ranges were not made for)")
	}
	if c.Bool("aux") {
		return false, fmt.Errorf("--quantize int8 writes the main path only; it cannot be combined with --aux")
	}
	m := c.String("calibration-method")
	if !contains(calib.Methods, m) {
		return false, fmt.Errorf("--calibration-method must be %s", strings.Join(calib.Methods, ", "))
	}
	if c.IsSet("calibration-percentile") && m != "percentile" {
		return false, fmt.Errorf("--calibration-percentile needs --calibration-method percentile")
	}
	if p := c.Float64("calibration-percentile"); !(p > 50 && p <= 100) {
		return false, fmt.Errorf("--calibration-percentile must be above 50 and at most 100")
	}
	if p := c.String("calibration-preprocess"); p != "" && !contains(imageprep.Presets, p) {
		return false, fmt.Errorf("--calibration-preprocess must be %s", strings.Join(imageprep.Presets, ", "))
	}
	return true, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// calibrate measures the activations' ranges over the --calibrate folder,
// at the size the file takes (the layout's for a dynamic one), the images
// prepared as --calibration-preprocess says and normalised as the network
// takes them (by the file's own --preprocess normalisation when it has
// one). Ctrl-C stops it; nothing is written.
func calibrate(c *cli.Context, net *graph.Net, h, w int, pre *preprocess.Spec) (*convert.Int8, error) {
	if h == 0 || w == 0 {
		h, w = net.Size[0], net.Size[1]
	}
	name := c.String("calibration-preprocess")
	if name == "" {
		name = "imagenet"
		if pre != nil && contains(imageprep.Presets, pre.Name) {
			name = pre.Name
		}
	}
	spec, err := imageprep.Preset(name, h, w, net.InChannels)
	if err != nil && pre == nil {
		return nil, fmt.Errorf("--calibration-preprocess: %w", err)
	}
	if err != nil {
		spec = imageprep.Spec{Name: name, ResizeH: h, ResizeW: w}
	}
	if pre != nil {
		spec.Mean, spec.Std = pre.Mean, pre.Std
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir := c.String("calibrate")
	q, err := calib.Folder(ctx, net, dir, calib.FolderOptions{
		Options: calib.Options{Method: c.String("calibration-method"), Percentile: c.Float64("calibration-percentile")},
		Spec:    spec, Height: h, Width: w,
	})
	if err != nil {
		return nil, fmt.Errorf("--calibrate %s: %w", clean(dir), err)
	}
	return q, nil
}

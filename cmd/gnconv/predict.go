package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/gnconv/gnconv/verify"
	"github.com/urfave/cli/v2"
)

// prediction is one image's top classes.
type prediction struct {
	File string       `json:"file"`
	Top  []classGuess `json:"top"`
}

type classGuess struct {
	Class       int     `json:"class"`
	Name        string  `json:"name,omitempty"`
	Probability float64 `json:"probability"`
	// Score is the file's own output value: a logit, or the probability
	// when the file ends in Softmax.
	Score float32 `json:"score"`
}

// predictBatch is the images run through the file at once.
const predictBatch = 8

func predictCommand() *cli.Command {
	flags := append([]cli.Flag{
		&cli.IntFlag{Name: "top", Value: 5, Usage: "classes to list per image"},
		&cli.BoolFlag{Name: "json", Usage: "print the predictions as JSON"},
		&cli.Int64Flag{Name: "limit-scale", Value: 1, Usage: "multiply every limit on what an input may announce (the ONNX interpreter's tensors and runs, image pixels; docs/security.md) by this factor"},
	}, imageFlags()...)
	return &cli.Command{
		Name:  "predict",
		Usage: "classify images with an ONNX file in gnconv's interpreter: the top classes and their probabilities",
		Description: "Each image is preprocessed as --preprocess says (imagenet by default) and run through the file.\n" +
			"Class names come from --labels, else from the names the file holds (gnconv import --labels).\n" +
			"Probabilities are the softmax of the file's logits, or its own output when it ends in Softmax.",
		ArgsUsage: "model.onnx image [image ...]",
		Flags:     flags,
		Action:    runPredict,
	}
}

func runPredict(c *cli.Context) error {
	if c.NArg() < 2 {
		return fail(fmt.Errorf("predict takes an ONNX file and at least one image, got %d arguments", c.NArg()))
	}
	k := c.Int64("limit-scale")
	if err := setLimitScale(k); err != nil {
		return fail(err)
	}
	path := c.Args().First()
	limits := verify.Limits{}.Scaled(k)
	data, err := verify.ReadFile(path, limits)
	if err != nil {
		return fail(err)
	}
	m, err := verify.ParseLimits(data, limits)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", clean(path), err))
	}
	if len(m.Outputs) == 0 {
		return fail(fmt.Errorf("%s: the file has no outputs", clean(path)))
	}
	feed, err := verify.NewImageFeed(m)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", clean(path), err))
	}
	in := m.Inputs[0]
	ch, h, w := feed.Channels, feed.Height, feed.Width
	if h <= 0 || w <= 0 {
		return fail(fmt.Errorf("%s: the file leaves its input's size open (%s): predict needs a file of fixed size (gnconv import --size H,W)", clean(path), shapeText(in.Shape)))
	}
	spec, err := imageSpec(c, ch, h, w)
	if err != nil {
		return fail(err)
	}
	out := 0 // the logits, or the first output
	for i, o := range m.Outputs {
		if o.Name == "logits" || o.Name == "probabilities" {
			out = i
			break
		}
	}
	softmax := m.ProducerOp(m.Outputs[out].Name) == "Softmax"
	top := c.Int("top")
	if top < 1 {
		return fail(fmt.Errorf("--top must be at least 1"))
	}
	images := c.Args().Slice()[1:]
	var preds []prediction
	var names []string
	for lo := 0; lo < len(images); lo += predictBatch {
		paths := images[lo:min(lo+predictBatch, len(images))]
		n := len(paths)
		if fixed := in.Shape[0]; fixed > 0 {
			n = fixed
			for len(paths) < n && len(paths) > 0 {
				paths = append(paths, paths[len(paths)-1]) // padding, not reported
			}
			paths = paths[:min(len(paths), n)]
		}
		b, err := verify.LoadImages(paths, spec, ch, h, w)
		if err != nil {
			return fail(err)
		}
		x, err := feed.Value(b, spec)
		if err != nil {
			return fail(err)
		}
		got, err := m.Run(map[string]*verify.Value{in.Name: x})
		if err != nil {
			return fail(fmt.Errorf("%s: %w", clean(path), err))
		}
		o := got[out]
		if len(o.Shape) != 2 || o.Shape[0] != b.N || o.Shape[1] < 1 {
			return fail(fmt.Errorf("%s: output %s has shape %s, not one row of class scores per image", clean(path), clean(m.Outputs[out].Name), shapeText(o.Shape)))
		}
		classes := o.Shape[1]
		if names == nil {
			if names, err = classNames(c, m, classes); err != nil {
				return fail(err)
			}
			if names == nil {
				names = []string{}
			}
		}
		probs := o.F
		if !softmax {
			probs = verify.SoftmaxRows(o.F, classes)
		}
		for i := 0; i < min(len(images)-lo, b.N); i++ {
			row := o.F[i*classes : (i+1)*classes]
			p := prediction{File: images[lo+i]}
			for _, t := range topN(row, top) {
				g := classGuess{Class: t.Class, Probability: float64(probs[i*classes+t.Class]), Score: t.Score}
				if t.Class < len(names) {
					g.Name = names[t.Class]
				}
				p.Top = append(p.Top, g)
			}
			preds = append(preds, p)
		}
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, map[string]interface{}{"model": path, "preprocess": spec.String(), "predictions": preds}); err != nil {
			return fail(err)
		}
		return nil
	}
	printPredictions(c.App.Writer, preds, spec.String())
	return nil
}

func printPredictions(w io.Writer, preds []prediction, spec string) {
	fmt.Fprintf(w, "preprocessing: %s\n", spec)
	for _, p := range preds {
		fmt.Fprintf(w, "%s\n", clean(p.File))
		for _, g := range p.Top {
			name := ""
			if g.Name != "" {
				name = "  " + clean(g.Name)
			}
			fmt.Fprintf(w, "  %6.2f%%  %5d%s\n", 100*g.Probability, g.Class, name)
		}
	}
}

func shapeText(s []int) string {
	out := ""
	for i, d := range s {
		if i > 0 {
			out += "x"
		}
		if d < 0 {
			out += "?"
		} else {
			out += strconv.Itoa(d)
		}
	}
	return out
}

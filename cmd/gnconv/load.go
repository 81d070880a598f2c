package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/urfave/cli/v2"
)

// loadFlags are the flags of every command that binds a checkpoint.
func loadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "strict", Value: true, Usage: "fail on any missing, unexpected or mis-shaped key, as load_state_dict(strict=True)"},
		&cli.BoolFlag{Name: "no-strict", Usage: "load what matches and report the rest, as load_state_dict(strict=False)"},
		&cli.StringFlag{Name: "layout", Value: "auto", Usage: "the network's description: auto (a preset whose names are exactly the checkpoint's), a preset (" + strings.Join(graph.PresetNames(), ", ") + ") or a layout file (docs/layouts.md)"},
		&cli.IntFlag{Name: "classes", Usage: "class count (default: read from the checkpoint)"},
		&cli.StringFlag{Name: "aux-heads", Value: "auto", Usage: "the network's aux heads: auto (as the checkpoint), yes (the training network, aux_logits=True) or no (the deploy network, aux_logits=False)"},
		&cli.BoolFlag{Name: "transform-input", Usage: "apply torchvision's transform_input (its pretrained weights expect it)"},
		&cli.BoolFlag{Name: "lrn", Usage: "switch on the layout's local response normalisation layers (the tutorial layout: after pool1 and conv3, as the original Caffe network)"},
	}
}

// loadOptions reads the loading flags; aux is the network's aux heads when
// the command fixes them (prune-aux's deploy network), else AuxAuto and
// the --aux-heads flag decides.
func loadOptions(c *cli.Context, aux graph.AuxMode) (graph.Options, error) {
	layout, err := graph.ParseLayout(c.String("layout"))
	if err != nil {
		return graph.Options{}, err
	}
	if aux == graph.AuxAuto {
		switch c.String("aux-heads") {
		case "", "auto":
		case "yes", "on", "true":
			aux = graph.AuxOn
		case "no", "off", "false":
			aux = graph.AuxOff
		default:
			return graph.Options{}, fmt.Errorf("--aux-heads is auto, yes or no, not %q", c.String("aux-heads"))
		}
	}
	if c.Int("classes") < 0 {
		return graph.Options{}, fmt.Errorf("--classes must be positive")
	}
	return graph.Options{
		NonStrict:      !c.Bool("strict") || c.Bool("no-strict"),
		Layout:         layout,
		Classes:        c.Int("classes"),
		Aux:            aux,
		TransformInput: c.Bool("transform-input"),
		LRN:            c.Bool("lrn"),
	}, nil
}

// loaded is a checkpoint bound to a network.
type loaded struct {
	ck     *convert.Checkpoint
	net    *graph.Net
	report *graph.LoadReport
}

// loadCheckpoint reads a checkpoint and binds it, printing the non-strict
// report's findings to stderr.
func loadCheckpoint(c *cli.Context, path string, aux graph.AuxMode) (*loaded, error) {
	opts, err := loadOptions(c, aux)
	if err != nil {
		return nil, err
	}
	ck, err := convert.MapCheckpoint(path)
	if err != nil {
		return nil, err
	}
	opts.Model = ck.GraphModel()
	net, rep, err := graph.Load(ck.StateDict, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	warnReport(rep)
	return &loaded{ck, net, rep}, nil
}

// warnReport tells the user what a successful load left out.
func warnReport(r *graph.LoadReport) {
	if !r.Strict && len(r.Missing) > 0 {
		fmt.Fprintf(os.Stderr, "gnconv: warning: missing key(s) in state_dict (not loaded): %s\n", shortList(r.Missing))
	}
	if !r.Strict && len(r.Unexpected) > 0 {
		fmt.Fprintf(os.Stderr, "gnconv: warning: unexpected key(s) in state_dict (ignored): %s\n", shortList(r.Unexpected))
	}
	if len(r.NonFinite) > 0 {
		fmt.Fprintf(os.Stderr, "gnconv: warning: weights hold NaN or Inf: %s\n", shortList(r.NonFinite))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(os.Stderr, "gnconv: warning: %s\n", w)
	}
	if len(r.FromModel) > 0 {
		fmt.Fprintf(os.Stderr, "gnconv: note: the pickled model's own hyperparameters differ from the %s layout's and are used: %s\n", r.Layout, shortList(r.FromModel))
	}
	if len(r.Assumed) > 0 {
		fmt.Fprintf(os.Stderr, "gnconv: note: not recorded in the file, so taken as said: %s\n", strings.Join(r.Assumed, "; "))
	}
}

func shortList(keys []string) string {
	if len(keys) > 8 {
		return strings.Join(keys[:8], ", ") + fmt.Sprintf(" and %d more", len(keys)-8)
	}
	return strings.Join(keys, ", ")
}

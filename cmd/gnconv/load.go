package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/filekind"
	"github.com/gnconv/gnconv/verify"
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
		&cli.Int64Flag{Name: "limit-scale", Value: 1, Usage: "multiply every limit on what an input may announce (a checkpoint's pickles and data, the ONNX interpreter's tensors and runs, image pixels; docs/security.md) by this factor"},
		&cli.BoolFlag{Name: "lrn", Usage: "switch on the layout's local response normalisation layers (the tutorial layout: after pool1 and conv3, as the original Caffe network)"},
	}
}

// loadOptions reads the loading flags; aux is the network's aux heads when
// the command fixes them (prune-aux's deploy network), else AuxAuto and
// the --aux-heads flag decides.
func loadOptions(c *cli.Context, aux graph.AuxMode) (graph.Options, error) {
	if c.IsSet("strict") && c.Bool("strict") && c.Bool("no-strict") {
		return graph.Options{}, usageErr(fmt.Errorf("conflicting flags: --strict and --no-strict (give one)"))
	}
	if err := setLimitScale(c.Int64("limit-scale")); err != nil {
		return graph.Options{}, usageErr(err)
	}
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
// report's findings to stderr. A failed binding is a *loadFailure.
func loadCheckpoint(c *cli.Context, path string, aux graph.AuxMode) (*loaded, error) {
	opts, err := loadOptions(c, aux)
	if err != nil {
		return nil, err
	}
	ck, err := readCheckpoint(path, true)
	if err != nil {
		return nil, err
	}
	opts.Model = ck.GraphModel()
	net, rep, err := graph.Load(ck.StateDict, opts)
	if err != nil {
		return nil, &loadFailure{path: path, ck: ck, report: rep, err: err, text: clean(path) + ": " + loadErrorMessage(err, ck)}
	}
	warnReport(c, rep)
	return &loaded{ck, net, rep}, nil
}

// loadFailure is a checkpoint that was read but did not bind: its report
// goes into --json output.
type loadFailure struct {
	path   string
	ck     *convert.Checkpoint
	report *graph.LoadReport
	err    error
	text   string
}

func (e *loadFailure) Error() string { return e.text }
func (e *loadFailure) Unwrap() error { return e.err }

// loadErrorMessage is a failed binding's message for people: PyTorch's
// wording with long key lists cut short, every name from the file
// escaped.
func loadErrorMessage(err error, ck *convert.Checkpoint) string {
	var le *graph.LoadError
	if errors.As(err, &le) {
		return loadErrorText(le, ck.StateDict.Names)
	}
	return scrubNames(err.Error(), ck.StateDict.Names)
}

// readCheckpoint reads a checkpoint (memory-mapped when mapped is set);
// a file that is not one is named for what it is, when it can be told.
// readLimits bound what a checkpoint may announce (--limit-scale).
var readLimits = convert.DefaultLimits()

// defaultImagePixels is verify's image bound before --limit-scale.
var defaultImagePixels = verify.MaxImagePixels

// maxLimitScale keeps scaled limits far from overflowing.
const maxLimitScale = 1 << 16

// setLimitScale multiplies every input limit: the checkpoint reader's, the
// interpreter's (verifyFile reads the same flag) and the image pixels'.
func setLimitScale(k int64) error {
	if k < 1 || k > maxLimitScale {
		return fmt.Errorf("--limit-scale must be 1 to %d", maxLimitScale)
	}
	readLimits = convert.DefaultLimits().Scaled(int(k))
	verify.MaxImagePixels = defaultImagePixels * int(k)
	return nil
}

func readCheckpoint(path string, mapped bool) (*convert.Checkpoint, error) {
	var ck *convert.Checkpoint
	var err error
	if mapped {
		ck, err = convert.MapCheckpointWith(path, readLimits)
	} else {
		ck, err = convert.ReadCheckpointWith(path, readLimits)
	}
	if err == nil {
		return ck, nil
	}
	if errors.Is(err, convert.ErrFormat) {
		if k, kerr := filekind.File(path); kerr == nil && k.Known() {
			if what := notACheckpoint(path, k); what != "" {
				return nil, errors.New(what)
			}
		}
	}
	return nil, err
}

// notACheckpoint says what a file is and what to do with it, for the
// kinds that are surely not a checkpoint; "" for the others (a
// safetensors file is one: the reader's own error says what is wrong).
func notACheckpoint(path string, k filekind.Kind) string {
	p := clean(path)
	what := fmt.Sprintf("%s is %s, not a PyTorch checkpoint", p, clean(k.Description))
	switch k.Name {
	case "onnx":
		return what + fmt.Sprintf(": to check it against its weights, gnconv verify %s --weights model.pth; to drop its aux outputs, gnconv prune-aux %s", p, p)
	case "torchscript":
		return what + ": it holds compiled code, which gnconv does not run; torch.save(model.state_dict(), \"model.pth\") from the model it was made of, or from torch.jit.load(...).state_dict()"
	case "hdf5", "npy":
		return what + ": gnconv reads PyTorch's torch.save files only"
	case "gzip", "zip", "text", "empty":
		return what
	}
	return ""
}

// warnReport tells the user what a successful load left out. NaN and Inf
// weights are not a warning for a command that refuses them.
func warnReport(c *cli.Context, r *graph.LoadReport) {
	if !r.Strict && len(r.Missing) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "gnconv: warning: missing key(s) in state_dict (not loaded): %s\n", shortList(r.Missing))
	}
	if !r.Strict && len(r.Unexpected) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "gnconv: warning: unexpected key(s) in state_dict (ignored): %s\n", shortList(r.Unexpected))
	}
	if len(r.NonFinite) > 0 && !refusesNonFinite(c) {
		fmt.Fprintf(c.App.ErrWriter, "gnconv: warning: weights hold NaN or Inf: %s\n", shortList(r.NonFinite))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "gnconv: warning: %s\n", cleanLines(w))
	}
	if len(r.FromModel) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "gnconv: note: the pickled model's own hyperparameters differ from the %s layout's and are used: %s\n", clean(r.Layout.String()), shortList(r.FromModel))
	}
	if len(r.Assumed) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "gnconv: note: not recorded in the file, so taken as said: %s\n", cleanLines(strings.Join(r.Assumed, "; ")))
	}
}

// refusesNonFinite: the command has --allow-nonfinite and it was not
// given.
func refusesNonFinite(c *cli.Context) bool {
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n == "allow-nonfinite" {
				return !c.Bool("allow-nonfinite")
			}
		}
	}
	return false
}

// loadFailed is the error of a command whose checkpoint did not load;
// with --json, the whole binding report (every key) goes to standard
// output first.
func loadFailed(c *cli.Context, err error) error {
	var lf *loadFailure
	if c.Bool("json") && errors.As(err, &lf) {
		g := binding(nil, lf.report, lf.err, lf.ck)
		if jerr := writeJSON(c.App.Writer, struct {
			File      string           `json:"file"`
			Error     string           `json:"error"`
			GoogLeNet inspectGoogLeNet `json:"googlenet"`
		}{lf.path, lf.err.Error(), g}); jerr != nil {
			return fail(jerr)
		}
	}
	return fail(err)
}

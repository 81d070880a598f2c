package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gnconv/gnconv/internal/labels"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/htmlreport"
	"github.com/gnconv/gnconv/verify/imageprep"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// imageFlags choose how images are turned into the network's input:
// verify's and predict's.
func imageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "preprocess", Value: "imagenet", Usage: "how images become inputs, as torchvision's transforms: imagenet (Resize(256/224 of the input), CenterCrop(input), ImageNet mean and std), tutorial (Resize(input), mean and std 0.5) or none (Resize(input), values in [0, 1])"},
		&cli.StringFlag{Name: "resize", Usage: "instead of the preset's resize: N (the shorter side, as Resize(N)) or H,W (as Resize((H, W)))"},
		&cli.StringFlag{Name: "crop", Usage: "instead of the preset's crop: N or H,W (CenterCrop), or none"},
		&cli.StringFlag{Name: "mean", Usage: "instead of the preset's normalisation: one mean per channel, comma-separated (with --std)"},
		&cli.StringFlag{Name: "std", Usage: "one std per channel, comma-separated (with --mean)"},
		&cli.StringFlag{Name: "labels", Usage: "class names, one per line in class order (default: those the ONNX file holds, if any)"},
	}
}

// imageSpec is the preprocessing the flags ask for, for a network input
// of channels×h×w.
func imageSpec(c *cli.Context, channels, h, w int) (imageprep.Spec, error) {
	s, err := imageprep.Preset(c.String("preprocess"), h, w, channels)
	if err != nil && !(c.IsSet("mean") && c.IsSet("std")) {
		return s, fmt.Errorf("--preprocess: %w", err)
	}
	if err != nil { // a preset for other channels, whose normalisation the flags replace
		s = imageprep.Spec{Name: c.String("preprocess"), ResizeH: h, ResizeW: w}
	}
	if r := c.String("resize"); r != "" {
		s.ResizeShorter, s.ResizeH, s.ResizeW = 0, 0, 0
		a, b, one, err := sides("resize", r)
		if err != nil {
			return s, err
		}
		if one {
			s.ResizeShorter = a
		} else {
			s.ResizeH, s.ResizeW = a, b
		}
		s.Name = "custom"
	}
	if cr := c.String("crop"); cr != "" {
		s.CropH, s.CropW = 0, 0
		if cr != "none" {
			a, b, _, err := sides("crop", cr)
			if err != nil {
				return s, err
			}
			s.CropH, s.CropW = a, b
		}
		s.Name = "custom"
	}
	if c.IsSet("mean") != c.IsSet("std") {
		return s, fmt.Errorf("--mean and --std go together")
	}
	if c.IsSet("mean") {
		if s.Mean, err = preprocess.ParseValues("mean", c.String("mean"), channels); err != nil {
			return s, err
		}
		if s.Std, err = preprocess.ParseValues("std", c.String("std"), channels); err != nil {
			return s, err
		}
		s.Name = "custom"
	}
	return s, s.Check(h, w, channels)
}

// sides reads N or H,W.
func sides(flag, s string) (a, b int, one bool, err error) {
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return 0, 0, false, fmt.Errorf("--%s takes N or H,W", flag)
	}
	var v [2]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > imageprep.MaxSide {
			return 0, 0, false, fmt.Errorf("--%s takes N or H,W, each 1 to %d", flag, imageprep.MaxSide)
		}
		v[i] = n
	}
	if len(parts) == 1 {
		return v[0], v[0], true, nil
	}
	return v[0], v[1], false, nil
}

// classNames are the --labels file's names, else those the ONNX file
// holds, else none; a count other than the network's classes is refused.
func classNames(c *cli.Context, m *verify.Model, classes int) ([]string, error) {
	if p := c.String("labels"); p != "" {
		names, err := labels.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--labels: %w", err)
		}
		if err := labels.Check(names, classes); err != nil {
			return nil, fmt.Errorf("--labels %s: %w", clean(p), err)
		}
		return names, nil
	}
	v, ok := m.Metadata(labels.MetadataKey)
	if !ok {
		return nil, nil
	}
	names, err := labels.Decode(v)
	if err != nil {
		return nil, fmt.Errorf("the file's class names: %w", err)
	}
	if err := labels.Check(names, classes); err != nil {
		return nil, fmt.Errorf("the file's class names: %w", err)
	}
	return names, nil
}

// progressBar draws the images done on a terminal, at most ten times a
// second; elsewhere it draws nothing.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	p := &progressBar{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.on = err == nil
	}
	return p
}

func (p *progressBar) update(done, total int) {
	if !p.on || (time.Since(p.last) < 100*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := width * done / max(total, 1)
	rate := float64(done) / max(time.Since(p.start).Seconds(), 1e-9)
	eta := ""
	if rate > 0 && done < total {
		eta = fmt.Sprintf(", %s left", (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r\x1b[Kimages %d/%d [%s%s] %.1f/s%s", done, total, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), rate, eta)
	if done >= total {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// folderRun is verify --images' run over a folder.
type folderRun struct {
	report *verify.FolderReport
	folder *imageprep.Folder
	spec   imageprep.Spec
}

// runFolder is verify --images: the folder's images through the file and
// the reference pass, interruptible with Ctrl-C.
// names are the class names verify found (classNames).
func runFolder(c *cli.Context, m *verify.Model, l *loaded, names []string, opts verify.Options, hist *htmlreport.Histogram) (*folderRun, error) {
	dir := c.String("images")
	folder, err := imageprep.ScanFolder(dir)
	if err != nil {
		return nil, fmt.Errorf("--images %s: %w", clean(dir), err)
	}
	ch, h, w := inputShape(m, l)
	spec, err := imageSpec(c, ch, h, w)
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := newProgressBar(c.App.ErrWriter)
	batch := 8
	if c.IsSet("batch") {
		batch = c.Int("batch")
	}
	fo := verify.FolderOptions{Spec: spec, Batch: batch, Labels: names, ATol: opts.ATol, RTol: opts.RTol,
		Outputs: opts.Outputs, Limits: opts.Limits, Progress: bar.update, MaxPixels: verify.MaxImagePixels}
	if hist != nil {
		fo.Errors = hist
	}
	// a folder's run makes garbage at every batch (decoded images, each
	// pass's outputs) over a large live heap (the model, both passes'
	// buffers): collecting at 1.5× the live heap rather than Go's 2× keeps
	// the peak lower at the cost of a few more collections
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	rep, err := verify.RunFolder(ctx, m, l.net, folder, fo)
	if err != nil {
		return nil, err
	}
	return &folderRun{report: rep, folder: folder, spec: spec}, nil
}

// layers compares every module on the images where the file and the
// reference disagree most visibly (their top classes differ), else on the
// folder's first images, to name where a failing file first diverges.
func (r *folderRun) layers(m *verify.Model, l *loaded, vr *verify.Report, opts verify.Options) *verify.LayersReport {
	var paths []string
	for _, d := range r.report.Disagreements {
		paths = append(paths, d.File)
	}
	for _, it := range r.folder.Items {
		if len(paths) >= 2 {
			break
		}
		paths = append(paths, it.Path)
	}
	paths = paths[:min(len(paths), 2)]
	if n := vr.Shape[0]; len(m.Inputs) == 1 && m.Inputs[0].Shape[0] > 0 && n != len(paths) {
		paths = paths[:1]
		for len(paths) < n {
			paths = append(paths, paths[0])
		}
	}
	ch, h, w := vr.Shape[1], vr.Shape[2], vr.Shape[3]
	b, err := verify.LoadImages(paths, r.spec, ch, h, w)
	if err != nil {
		return &verify.LayersReport{Error: err.Error()}
	}
	withAux := false
	for _, o := range vr.Outputs {
		withAux = withAux || o.Reference != "logits"
	}
	lr, err := verify.CompareLayers(m, l.net, b, withAux, vr.Input, opts)
	if err != nil {
		return &verify.LayersReport{Error: err.Error()}
	}
	return lr
}

// inputShape is the channels and size the file's input takes, the
// layout's where the file leaves them open (or cannot say: Run then
// names what is wrong with the input).
func inputShape(m *verify.Model, l *loaded) (ch, h, w int) {
	ch, h, w = l.net.InChannels, l.net.Size[0], l.net.Size[1]
	if f, err := verify.NewImageFeed(m); err == nil {
		if f.Height > 0 {
			h = f.Height
		}
		if f.Width > 0 {
			w = f.Width
		}
	}
	return ch, h, w
}

// printFolder prints verify --images' part of the report.
func printFolder(w io.Writer, r *verify.FolderReport, names []string) {
	fmt.Fprintf(w, "images: %d under %s, preprocessed as %s\n", r.Images, clean(r.Root), r.Preprocess)
	printOutputs(w, r.Outputs, "%.2f%%")
	fmt.Fprintf(w, "images whose top class differs between the file and the reference: %d of %d\n", r.Disagreeing, r.Images)
	for _, d := range r.Disagreements {
		fmt.Fprintf(w, "  %s: file %s, reference %s\n", clean(d.File), className(d.ONNX[0], names), className(d.Reference[0], names))
	}
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(w, "accuracy on %d labelled images (classes %s): file top-1 %.2f%% top-5 %.2f%%, reference top-1 %.2f%% top-5 %.2f%%, difference %+.2f points\n",
			a.Images, r.Labelled, 100*a.ONNXTop1, 100*a.ONNXTop5, 100*a.ReferenceTop1, 100*a.ReferenceTop5, 100*(a.ONNXTop1-a.ReferenceTop1))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CLASS\tFOLDER\tIMAGES\tFILE TOP-1\tREFERENCE TOP-1\tDIFFERENCE")
		for _, cs := range r.Classes {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%.2f%%\t%.2f%%\t%+.2f\n", className(cs.Class, names), clean(cs.Folder), cs.Images, 100*cs.ONNX, 100*cs.Reference, 100*(cs.ONNX-cs.Reference))
		}
		tw.Flush()
	}
}

// className is "index (name)", or the index alone without names.
func className(i int, names []string) string {
	if i >= 0 && i < len(names) {
		return fmt.Sprintf("%d (%s)", i, clean(names[i]))
	}
	return strconv.Itoa(i)
}

// Package calib measures the ranges of a network's activations over a
// folder of images, for static int8 quantization (convert.Int8): it runs
// the reference forward pass and keeps, for the network's input and each
// layer's output, the values' minimum, maximum and a histogram of fixed
// size, so memory does not grow with the folder. The ranges come from
// one of three methods: minmax (everything seen), percentile (the tails
// beyond a percentile dropped) or entropy (the clipping threshold that
// loses the least information, by KL divergence).
package calib

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/verify/imageprep"
)

// Methods are the calibration methods, the first the default.
var Methods = []string{"minmax", "percentile", "entropy"}

// DefaultPercentile is the percentile method's default: one value in ten
// thousand may fall outside the range.
const DefaultPercentile = 99.99

// Options choose how ranges are made from the statistics.
type Options struct {
	Method     string  // one of Methods; "": minmax
	Percentile float64 // percentile only; 0: DefaultPercentile
}

func (o Options) check() (Options, error) {
	if o.Method == "" {
		o.Method = Methods[0]
	}
	if o.Percentile == 0 {
		o.Percentile = DefaultPercentile
	}
	switch o.Method {
	case "minmax", "percentile", "entropy":
	default:
		return o, fmt.Errorf("no calibration method is named %q (known: minmax, percentile, entropy)", o.Method)
	}
	if !(o.Percentile > 50 && o.Percentile <= 100) {
		return o, fmt.Errorf("the percentile must be above 50 and at most 100")
	}
	return o, nil
}

// Collector gathers the statistics of batches.
type Collector struct {
	net    *graph.Net
	shards []*shard // one per core: each takes a share of every batch
	images int
}

// shard is the statistics of the images one core saw; Int8 merges them
// (merging histograms is exact, so the ranges do not depend on how the
// images were shared out).
type shard struct {
	input  *hist
	layers map[*graph.Layer]*hist
}

func newShard() *shard { return &shard{input: newHist(), layers: map[*graph.Layer]*hist{}} }

// New starts the statistics of a network.
func New(net *graph.Net) *Collector {
	c := &Collector{net: net}
	for i := 0; i < max(1, runtime.GOMAXPROCS(0)); i++ {
		c.shards = append(c.shards, newShard())
	}
	return c
}

// Add runs a batch (NCHW, normalised as the network takes it) through
// the reference pass and counts the values of its input and of every
// layer's output on the main path. The batch is shared out over the
// cores, each image going through the pass whole on one.
func (c *Collector) Add(x []float32, n, h, w int) error {
	if n <= 0 || len(x)%n != 0 {
		return fmt.Errorf("calibration: %d values for %d images", len(x), n)
	}
	size := len(x) / n
	parts := min(len(c.shards), n)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for k := 0; k < parts; k++ {
		lo, hi := k*n/parts, (k+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = c.shards[k].add(c.net, x[lo*size:hi*size], hi-lo, h, w)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	c.images += n
	return nil
}

func (c *shard) add(net *graph.Net, x []float32, n, h, w int) error {
	var err error
	input := x
	_, ferr := net.ForwardLayers(x, n, h, w, false, func(o graph.LayerOutput) {
		if err != nil {
			return
		}
		if o.Layer == nil {
			// transform_input: the first layer reads this, not x
			input = nil
			err = c.input.add(o.Data)
			if err != nil {
				err = fmt.Errorf("calibration: the transformed input: %w", err)
			}
			return
		}
		hs := c.layers[o.Layer]
		if hs == nil {
			hs = newHist()
			c.layers[o.Layer] = hs
		}
		if e := hs.add(o.Data); e != nil {
			err = fmt.Errorf("calibration: layer %s: %w", o.Name, e)
		}
	})
	if ferr != nil {
		return fmt.Errorf("calibration: reference forward pass: %w", ferr)
	}
	if err != nil {
		return err
	}
	if input != nil {
		if err := c.input.add(input); err != nil {
			return fmt.Errorf("calibration: the input: %w", err)
		}
	}
	return nil
}

// merged is every shard's statistics together.
func (c *Collector) merged() *shard {
	all := newShard()
	for _, s := range c.shards {
		all.input.merge(s.input)
		for l, h := range s.layers {
			if all.layers[l] == nil {
				all.layers[l] = newHist()
			}
			all.layers[l].merge(h)
		}
	}
	return all
}

// Images is the number of images counted.
func (c *Collector) Images() int { return c.images }

// Int8 is the quantization the statistics call for under o.
func (c *Collector) Int8(o Options) (*convert.Int8, error) {
	o, err := o.check()
	if err != nil {
		return nil, err
	}
	if c.images == 0 {
		return nil, fmt.Errorf("calibration saw no images")
	}
	rng := func(h *hist) convert.Range {
		var lo, hi float64
		switch o.Method {
		case "minmax":
			lo, hi = h.min, h.max
		case "percentile":
			lo, hi = h.percentile(o.Percentile)
		case "entropy":
			lo, hi = h.entropy()
		}
		return convert.Range{Min: float32(lo), Max: float32(hi)}
	}
	all := c.merged()
	q := &convert.Int8{Ranges: map[*graph.Layer]convert.Range{}, Input: rng(all.input), Images: c.images, Method: o.Method}
	if o.Method == "percentile" {
		q.Method = fmt.Sprintf("percentile %g", o.Percentile)
	}
	last := c.net.Body[len(c.net.Body)-1]
	for l, h := range all.layers {
		if l == last {
			// the logits are the output: clipping them would cut the
			// largest class scores, the ones that decide
			q.Ranges[l] = convert.Range{Min: float32(h.min), Max: float32(h.max)}
			continue
		}
		q.Ranges[l] = rng(h)
	}
	return q, nil
}

// FolderOptions steer Folder.
type FolderOptions struct {
	Options
	Spec      imageprep.Spec // how images become the network's input
	Height    int            // the input's size (the spec's output)
	Width     int
	Batch     int // images per reference pass; 0: 8
	MaxPixels int // per image; 0: imageprep.DefaultMaxPixels
	// Progress, when set, is told the images done after each batch.
	Progress func(done, total int)
}

// Folder calibrates a network on every image of an image folder (read as
// ImageFolder reads it; classes are ignored), in the folder's order, so
// the same folder gives the same file. The images of a batch are decoded
// in parallel; one batch is held at a time.
func Folder(ctx context.Context, net *graph.Net, dir string, o FolderOptions) (*convert.Int8, error) {
	if _, err := o.Options.check(); err != nil {
		return nil, err
	}
	c, err := Collect(ctx, net, dir, o)
	if err != nil {
		return nil, err
	}
	return c.Int8(o.Options)
}

// Collect gathers the statistics of a folder's images as Folder does, for
// ranges by more than one method from one pass.
func Collect(ctx context.Context, net *graph.Net, dir string, o FolderOptions) (*Collector, error) {
	if err := o.Spec.Check(o.Height, o.Width, net.InChannels); err != nil {
		return nil, err
	}
	f, err := imageprep.ScanFolder(dir)
	if err != nil {
		return nil, err
	}
	if o.Batch <= 0 {
		o.Batch = 8
	}
	c := New(net)
	size := net.InChannels * o.Height * o.Width
	buf := make([]float32, o.Batch*size)
	errs := make([]error, o.Batch)
	workers := min(runtime.GOMAXPROCS(0), o.Batch)
	for start := 0; start < len(f.Items); start += o.Batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(o.Batch, len(f.Items)-start)
		var wg sync.WaitGroup
		next := make(chan int, n)
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		for k := 0; k < workers; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					errs[i] = o.Spec.Load(f.Items[start+i].Path, net.InChannels, o.MaxPixels, buf[i*size:(i+1)*size])
				}
			}()
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			if errs[i] != nil {
				return nil, fmt.Errorf("calibration image %q: %w", f.Items[start+i].Path, errs[i])
			}
		}
		if err := c.Add(buf[:n*size], n, o.Height, o.Width); err != nil {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress(start+n, len(f.Items))
		}
	}
	return c, nil
}

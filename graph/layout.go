package graph

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/gnconv/gnconv/internal/safeopen"
)

// LayoutFormat is the format tag every layout file carries.
const LayoutFormat = "gnconv-layout/1"

// Layout describes one member of the GoogLeNet family: every layer in
// order with the hyperparameters a state dict does not record, and the
// module names its parameters are stored under. The built-in presets are
// layout files themselves (graph/layouts/*.json), in the format that
// --layout FILE reads (docs/layouts.md).
type Layout struct {
	Format      string `json:"format"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Class is the PyTorch class name that load_state_dict's messages
	// name ("GoogLeNet" unless said).
	Class string `json:"class,omitempty"`
	Input struct {
		Channels int  `json:"channels"`
		Size     Pair `json:"size"`
	} `json:"input"`
	// TransformInput is torchvision's input re-normalisation: true when
	// the layout always applies it.
	TransformInput bool `json:"transform_input,omitempty"`
	// Defaults fill in the conv fields a layer leaves out (bias, bn_eps,
	// relu).
	Defaults  LayerSpec            `json:"defaults,omitempty"`
	Templates map[string]LayerSpec `json:"templates,omitempty"`
	Layers    []LayerSpec          `json:"layers"`
	Aux       []LayerSpec          `json:"aux,omitempty"`

	// Source is where the description came from: "preset", the file it
	// was read from, or "model" for a whole-model pickle's own modules.
	Source string `json:"-"`
}

// LayerSpec is one layer of a layout file. Op says which fields apply:
//
//	conv              conv, bn, bias, bn_eps, relu, out, kernel, stride, padding
//	maxpool, avgpool  kernel, stride (default: kernel), padding, ceil_mode, count_include_pad
//	adaptive_avgpool  size
//	lrn               lrn_size, alpha, beta, k
//	inception         channels, branches (each a list of layers, names relative to the unit)
//	flatten, dropout  (none)
//	linear            out, in (default: what reaches it at the layout's input size), relu
//	aux               after, register_after, channels, layers (names relative to the head)
//
// template names an entry of the layout's templates whose fields the layer
// takes unless it sets them itself; when names a switch ("lrn") that
// includes the layer only when it is on.
type LayerSpec struct {
	Op       string `json:"op,omitempty"`
	Template string `json:"template,omitempty"`
	Name     string `json:"name,omitempty"`
	When     string `json:"when,omitempty"`

	Conv  string   `json:"conv,omitempty"`
	BN    string   `json:"bn,omitempty"`
	Bias  *bool    `json:"bias,omitempty"`
	BNEps *float64 `json:"bn_eps,omitempty"`
	ReLU  *bool    `json:"relu,omitempty"`
	Out   Sym      `json:"out,omitempty"`
	In    int      `json:"in,omitempty"`

	Kernel          Pair  `json:"kernel,omitempty"`
	Stride          Pair  `json:"stride,omitempty"`
	Padding         Pair  `json:"padding,omitempty"`
	CeilMode        bool  `json:"ceil_mode,omitempty"`
	CountIncludePad *bool `json:"count_include_pad,omitempty"`
	Size            Pair  `json:"size,omitempty"`

	LRNSize int     `json:"lrn_size,omitempty"`
	Alpha   float64 `json:"alpha,omitempty"`
	Beta    float64 `json:"beta,omitempty"`
	K       float64 `json:"k,omitempty"`

	Channels map[string]int `json:"channels,omitempty"`
	Branches [][]LayerSpec  `json:"branches,omitempty"`

	After         string      `json:"after,omitempty"`
	RegisterAfter string      `json:"register_after,omitempty"`
	Layers        []LayerSpec `json:"layers,omitempty"`
}

// Pair is a size that is the same in both dimensions (3) or given per
// dimension ([3, 5]), as PyTorch's kernel_size, stride and padding.
type Pair [2]int

// IsZero reports whether the pair was left out.
func (p Pair) IsZero() bool { return p == Pair{} }

func (p *Pair) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*p = Pair{n, n}
		return nil
	}
	var v []int
	if err := json.Unmarshal(b, &v); err != nil || len(v) != 2 {
		return fmt.Errorf("want a number or two numbers [h, w]")
	}
	*p = Pair{v[0], v[1]}
	return nil
}

func (p Pair) MarshalJSON() ([]byte, error) {
	if p[0] == p[1] {
		return json.Marshal(p[0])
	}
	return json.Marshal([]int{p[0], p[1]})
}

// Sym is a channel count: a number, or the name of one (a unit's channel
// name such as "c1", or "classes").
type Sym struct {
	N    int
	Name string
}

func (s *Sym) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.N); err == nil {
		return nil
	}
	if err := json.Unmarshal(b, &s.Name); err != nil || s.Name == "" {
		return fmt.Errorf("want a channel count or the name of one")
	}
	return nil
}

func (s Sym) MarshalJSON() ([]byte, error) {
	if s.Name != "" {
		return json.Marshal(s.Name)
	}
	return json.Marshal(s.N)
}

// IsZero reports whether the count was left out.
func (s Sym) IsZero() bool { return s.N == 0 && s.Name == "" }

//go:embed layouts/*.json
var presetFiles embed.FS

// maxLayoutBytes bounds a layout file; real ones are a few kilobytes.
const maxLayoutBytes = 1 << 20

var presets = loadPresets()

func loadPresets() []*Layout {
	entries, err := presetFiles.ReadDir("layouts")
	if err != nil {
		panic(err)
	}
	var out []*Layout
	for _, e := range entries {
		b, err := presetFiles.ReadFile(path.Join("layouts", e.Name()))
		if err != nil {
			panic(err)
		}
		l, err := DecodeLayout(bytes.NewReader(b))
		if err != nil {
			panic(fmt.Sprintf("preset %s: %v", e.Name(), err))
		}
		l.Source = "preset"
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return presetRank(out[i].Name) < presetRank(out[j].Name) })
	return out
}

// presetRank keeps the presets in the order they are listed in messages.
func presetRank(name string) int {
	for i, n := range []string{"tutorial", "torchvision", "d2l", "d2l-1.0", "cifar"} {
		if n == name {
			return i
		}
	}
	return 100
}

// Presets returns the built-in layouts.
func Presets() []*Layout { return presets }

// PresetNames lists the built-in layouts' names.
func PresetNames() []string {
	var names []string
	for _, l := range presets {
		names = append(names, l.Name)
	}
	return names
}

// Preset returns the built-in layout of that name, or nil.
func Preset(name string) *Layout {
	for _, l := range presets {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// ParseLayout reads a --layout value: "auto" (or empty) gives nil, a
// preset's name gives the preset, anything else is a layout file.
func ParseLayout(s string) (*Layout, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return nil, nil
	case "tv":
		s = "torchvision"
	}
	if l := Preset(strings.ToLower(s)); l != nil {
		return l, nil
	}
	if !strings.ContainsAny(s, "/.") {
		return nil, fmt.Errorf("unknown layout %q: want auto, a preset (%s) or a layout file (.json)", s, strings.Join(PresetNames(), ", "))
	}
	return ReadLayoutFile(s)
}

// ReadLayoutFile reads a layout file: a regular file (a FIFO or a device
// is refused before it is opened for reading) of at most maxLayoutBytes.
func ReadLayoutFile(filename string) (*Layout, error) {
	b, err := safeopen.ReadFile(filename, maxLayoutBytes)
	if err != nil {
		return nil, err
	}
	l, err := DecodeLayout(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("layout file %s: %w", filename, err)
	}
	l.Source = filename
	return l, nil
}

// ErrLayout is wrapped by every error about a layout description.
var ErrLayout = errors.New("invalid layout")

// DecodeLayout reads a layout file's JSON and checks it: every layer is
// known, every template and switch exists, and the network it describes
// builds (channels agree from layer to layer, sizes are sane).
func DecodeLayout(r io.Reader) (*Layout, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLayoutBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLayoutBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrLayout, maxLayoutBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	l := &Layout{}
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLayout, err)
	}
	if l.Format != LayoutFormat {
		return nil, fmt.Errorf("%w: \"format\" must be %q", ErrLayout, LayoutFormat)
	}
	if l.Name == "" {
		return nil, fmt.Errorf("%w: no \"name\"", ErrLayout)
	}
	if l.Input.Channels <= 0 || l.Input.Channels > maxChannels {
		return nil, fmt.Errorf("%w: input channels must be 1 to %d", ErrLayout, maxChannels)
	}
	if l.Input.Size[0] <= 0 || l.Input.Size[1] <= 0 || l.Input.Size[0] > maxSpatial || l.Input.Size[1] > maxSpatial {
		return nil, fmt.Errorf("%w: input size must be 1 to %d", ErrLayout, maxSpatial)
	}
	// the description must build: with and without every switch, with
	// and without aux heads, at its own input size
	for _, sw := range []Switches{{}, {LRN: true}} {
		for _, aux := range []bool{false, true} {
			if aux && len(l.Aux) == 0 {
				continue
			}
			n, err := l.build(l.Input.Channels, 10, aux, sw)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrLayout, err)
			}
			if err := n.CheckInput(l.Input.Size[0], l.Input.Size[1]); err != nil {
				return nil, fmt.Errorf("%w: at its own input size: %v", ErrLayout, err)
			}
		}
	}
	return l, nil
}

// String is the layout's name, "auto" for none.
func (l *Layout) String() string {
	if l == nil {
		return "auto"
	}
	return l.Name
}

// Summary says in a few words what sets the layout apart, for messages.
func (l *Layout) Summary() string {
	if l == nil {
		return ""
	}
	return l.Description
}

// HasSwitch reports whether some layer depends on the switch.
func (l *Layout) HasSwitch(name string) bool {
	var walk func([]LayerSpec) bool
	walk = func(ls []LayerSpec) bool {
		for _, s := range ls {
			s = l.expand(s)
			if s.When == name || walk(s.Layers) {
				return true
			}
			for _, br := range s.Branches {
				if walk(br) {
					return true
				}
			}
		}
		return false
	}
	return walk(l.Layers) || walk(l.Aux)
}

// expand fills in a layer's fields from its template: every field the
// layer sets wins, the template gives the rest. The merge goes through
// the JSON form, so it covers every field of the format by construction.
func (l *Layout) expand(s LayerSpec) LayerSpec {
	t, ok := l.Templates[s.Template]
	if s.Template == "" || !ok {
		return s
	}
	merged := map[string]json.RawMessage{}
	for _, v := range []LayerSpec{t, s} {
		b, err := json.Marshal(v)
		if err != nil {
			return s
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return s
		}
		for k, x := range fields {
			merged[k] = x
		}
	}
	delete(merged, "template")
	b, err := json.Marshal(merged)
	var out LayerSpec
	if err != nil || json.Unmarshal(b, &out) != nil {
		return s
	}
	return out
}

// Encode writes the layout as a layout file.
func (l *Layout) Encode(w io.Writer) error {
	c := *l
	c.Format = LayoutFormat
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&c)
}

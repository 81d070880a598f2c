package main

import (
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	"github.com/gnconv/gnconv/convert"
)

// inspectModule is one module of a whole pickled model, as inspect shows
// it: never constructed, only read.
type inspectModule struct {
	Path  string            `json:"path"`
	Class string            `json:"class"`
	Depth int               `json:"depth"`
	Attrs map[string]string `json:"attributes,omitempty"`
	// Params and Buffers are the module's own tensors (not its children's).
	Params  []string `json:"parameters,omitempty"`
	Buffers []string `json:"buffers,omitempty"`
}

// moduleAttrs are the attributes that decide what a module computes, in
// the order they are shown.
var moduleAttrs = []string{"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
	"ceil_mode", "count_include_pad", "divisor_override", "output_size", "eps", "affine", "in_features", "out_features",
	"size", "alpha", "beta", "k", "p", "transform_input", "aux_logits"}

// moduleTree lists a whole model's modules in pre-order.
func moduleTree(m *convert.Module) []inspectModule {
	var out []inspectModule
	_ = m.Walk(func(x *convert.Module) error {
		im := inspectModule{Path: x.Path, Class: x.Class, Depth: strings.Count(x.Path, ".") + 1, Attrs: map[string]string{}}
		if x.Path == "" {
			im.Depth = 0
		}
		for _, a := range moduleAttrs {
			if v, ok := x.Attr(a); ok {
				im.Attrs[a] = plainText(v, 0)
			}
		}
		if x.Params != nil {
			im.Params = x.Params.Names
		}
		if x.Buffers != nil {
			im.Buffers = x.Buffers.Names
		}
		out = append(out, im)
		return nil
	})
	return out
}

// plainText writes a plain value read from a pickle in a few characters:
// numbers, booleans, short strings and tuples of them; anything else is
// named by its kind, never formatted whole.
func plainText(v interface{}, depth int) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case *big.Int:
		if x.BitLen() > 64 {
			return "(a large integer)"
		}
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return strconv.Quote(x)
	case convert.Tuple:
		if depth > 1 || len(x) > 8 {
			return "(a tuple)"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = plainText(e, depth+1)
		}
		if len(parts) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return "(" + clean(fmt.Sprintf("%T", v)) + ")"
}

// maxTreeLines bounds the module tree in human output; --json has all.
const maxTreeLines = 400

func printModuleTree(w io.Writer, tree []inspectModule) {
	fmt.Fprintf(w, "\nwhole pickled model (read, never run): %d modules\n", len(tree))
	for i, m := range tree {
		if i == maxTreeLines {
			fmt.Fprintf(w, "  … and %d more (all of them with --json)\n", len(tree)-i)
			break
		}
		name := m.Path
		if j := strings.LastIndex(name, "."); j >= 0 {
			name = name[j+1:]
		}
		if name == "" {
			name = "(model)"
		}
		class := m.Class[strings.LastIndex(m.Class, ".")+1:]
		var attrs []string
		for _, a := range moduleAttrs {
			if v, ok := m.Attrs[a]; ok {
				attrs = append(attrs, a+"="+v)
			}
		}
		line := fmt.Sprintf("%s%s  %s", strings.Repeat("  ", m.Depth+1), name, class)
		if len(attrs) > 0 {
			line += "  " + strings.Join(attrs, " ")
		}
		fmt.Fprintln(w, clean(line))
	}
}

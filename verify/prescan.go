package verify

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// counts are what a file's graph holds, counted from its bytes without
// decoding it.
type counts struct {
	nodes, initializers, values int
}

// ONNX field numbers: ModelProto.graph, and GraphProto's node,
// initializer, input, output and value_info.
const (
	fieldModelGraph       = 7
	fieldGraphNode        = 1
	fieldGraphInitializer = 5
	fieldGraphInput       = 11
	fieldGraphOutput      = 12
	fieldGraphValueInfo   = 13
)

// prescan counts the graph's nodes, initializers and declared values in
// the file's bytes, so that a file with too many is refused before the
// decoder builds them all. Malformed bytes are left to the decoder.
func prescan(data []byte) counts {
	var c counts
	each(data, func(num protowire.Number, typ protowire.Type, v []byte) {
		if num != fieldModelGraph || typ != protowire.BytesType {
			return
		}
		each(v, func(num protowire.Number, typ protowire.Type, _ []byte) {
			if typ != protowire.BytesType {
				return
			}
			switch num {
			case fieldGraphNode:
				c.nodes++
			case fieldGraphInitializer:
				c.initializers++
			case fieldGraphInput, fieldGraphOutput, fieldGraphValueInfo:
				c.values++
			}
		})
	})
	return c
}

// each calls f on every top-level field of a message (v holds a
// length-delimited field's bytes), stopping at the first malformed one.
func each(b []byte, f func(protowire.Number, protowire.Type, []byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return
		}
		f(num, typ, v)
		b = b[n:]
	}
}

// checkCounts refuses a graph over the limits.
func (l Limits) checkCounts(c counts) error {
	switch {
	case c.nodes > l.MaxNodes:
		return fmt.Errorf("the graph has %d nodes, over the limit of %d (see Limits in docs/verify.md)", c.nodes, l.MaxNodes)
	case c.initializers > l.MaxInitializers:
		return fmt.Errorf("the graph has %d initializers, over the limit of %d (see Limits in docs/verify.md)", c.initializers, l.MaxInitializers)
	case c.values > l.MaxNodes:
		return fmt.Errorf("the graph declares %d inputs, outputs and value_info entries, over the limit of %d (see Limits in docs/verify.md)", c.values, l.MaxNodes)
	}
	return nil
}

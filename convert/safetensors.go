package convert

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/gnconv/gnconv/tensor"
)

// A safetensors file is an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and data offsets (and an
// optional "__metadata__" map of strings), then the tensors' raw
// little-endian bytes. Nothing in it can run, but every number it holds
// is untrusted: the header is bounded before it is read, parsed as the
// fixed structure it must have (safetensors_json.go), and the offsets
// must tile the data exactly, as the format's reference implementation
// requires, before any tensor is read.

// safetensorsMaxHeader is the format's own bound on the header: the
// reference implementation refuses a longer one.
const safetensorsMaxHeader = 100_000_000

// safetensorsMetadataKey is the header key of the free-form string map.
const safetensorsMetadataKey = "__metadata__"

// stDTypes are the safetensors dtypes gnconv reads, with their tensor
// dtype and their rank in the reference implementation's dtype order
// (which its writer sorts by: alignment, then declaration order).
var stDTypes = map[string]struct {
	dtype tensor.DType
	rank  int
}{
	"BOOL": {tensor.Bool, 0}, "U8": {tensor.Uint8, 1}, "I8": {tensor.Int8, 2},
	"I16": {tensor.Int16, 3}, "F16": {tensor.Float16, 4}, "BF16": {tensor.BFloat16, 5},
	"I32": {tensor.Int32, 6}, "F32": {tensor.Float32, 7}, "F64": {tensor.Float64, 8},
	"I64": {tensor.Int64, 9},
}

// stOtherDTypes are dtypes of the format that have no torch 1.x
// counterpart in gnconv: named in the error rather than called unknown.
var stOtherDTypes = map[string]bool{
	"U16": true, "U32": true, "U64": true, "F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true,
	"F4": true, "F6_E2M3": true, "F6_E3M2": true, "C64": true,
}

// stNames gives each tensor dtype its safetensors name.
var stNames = func() map[tensor.DType]string {
	m := map[tensor.DType]string{}
	for n, d := range stDTypes {
		m[d.dtype] = n
	}
	return m
}()

// stEntry is one tensor of a safetensors header.
type stEntry struct {
	name       string
	dtype      tensor.DType
	shape      []int
	begin, end uint64 // offsets into the data, after the header
}

// stHeader is a parsed and validated safetensors header.
type stHeader struct {
	n        uint64    // header bytes, padding included
	entries  []stEntry // in the header's order
	metadata map[string]string
	dataLen  uint64 // bytes after the header: what the entries tile
}

// stQuote is a name or string from a file, fit for a message: clipped,
// quoted, every control or invisible character escaped.
func stQuote(s string) string { return strconv.QuoteToGraphic(clipText(s, 100)) }

// isSafetensors tells a safetensors file from its first bytes: a header
// length, then the header's opening brace. Torch's formats cannot start
// so (a zip starts "PK", a legacy file's magic number has 0xf9 there).
func isSafetensors(head []byte) bool { return len(head) >= 9 && head[8] == '{' }

// readSafetensors reads the file into ck: its tensors as the state dict,
// in the header's order, each in its dtype and exact bytes.
func readSafetensors(r io.ReaderAt, size int64, whole []byte, ck *Checkpoint, rs *readState) error {
	h, err := readSafetensorsHeader(r, size, whole, rs.lim)
	if err != nil {
		return err
	}
	if len(h.entries) == 0 {
		return formatErr("the safetensors file holds no tensors")
	}
	if err := rs.data.take(int64(h.dataLen), "the safetensors data"); err != nil {
		return err
	}
	base := 8 + h.n
	sd := tensor.NewStateDict()
	root := &Dict{}
	for _, e := range h.entries {
		n := e.end - e.begin
		var raw []byte
		switch {
		case n == 0:
			raw = []byte{}
		case whole != nil:
			raw = rs.own(whole[base+e.begin : base+e.end : base+e.end])
		default:
			raw = make([]byte, n) // within the file: the offsets were checked against its size
			if m, err := r.ReadAt(raw, int64(base+e.begin)); uint64(m) < n {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("tensor %s: %w", stQuote(e.name), err)
			}
		}
		t := &tensor.Tensor{DType: e.dtype, Shape: e.shape, Raw: raw}
		sd.Set(e.name, t)
		root.Keys = append(root.Keys, e.name)
		root.Values = append(root.Values, t)
	}
	ck.Root = root
	ck.Metadata = h.metadata
	ck.StateDict, ck.Prefix = stripPrefixes(sd)
	return nil
}

// readSafetensorsHeader reads and validates the header: its length
// against the format's bound, PickleBytes and the file; its JSON; and
// the tensors' offsets against each other and the data that follows.
func readSafetensorsHeader(r io.ReaderAt, size int64, whole []byte, lim Limits) (*stHeader, error) {
	lim = lim.withDefaults()
	if size < 8 {
		return nil, formatErr("a safetensors file of %d bytes, shorter than its header length", size)
	}
	var lenBytes [8]byte
	if whole != nil {
		copy(lenBytes[:], whole)
	} else if m, err := r.ReadAt(lenBytes[:], 0); m < 8 {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(lenBytes[:])
	switch {
	case n > safetensorsMaxHeader:
		return nil, formatErr("safetensors header of %d bytes, more than the format's %d", n, safetensorsMaxHeader)
	case n > uint64(size-8):
		return nil, formatErr("safetensors header of %d bytes runs past the end of the file (%d bytes after the length)", n, size-8)
	case n > uint64(lim.PickleBytes):
		return nil, limitErr("PickleBytes", lim.PickleBytes, "safetensors header of %d bytes, more than %d", n, lim.PickleBytes)
	}
	var hdr []byte
	if whole != nil {
		hdr = whole[8 : 8+n]
	} else {
		hdr = make([]byte, n) // within the file and the bounds above
		if m, err := r.ReadAt(hdr, 8); uint64(m) < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	h, err := parseSafetensorsHeader(hdr, lim)
	if err != nil {
		return nil, err
	}
	h.n = n
	h.dataLen = uint64(size) - 8 - n
	if err := h.checkOffsets(); err != nil {
		return nil, err
	}
	return h, nil
}

// checkOffsets holds the entries to the reference implementation's
// rules: in offset order, each tensor starts where the one before ended
// (no gap, no overlap), spans exactly its elements' bytes (element counts
// computed with overflow checks), and the last ends at the file's end.
func (h *stHeader) checkOffsets() error {
	order := make([]int, len(h.entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := &h.entries[order[a]], &h.entries[order[b]]
		return x.begin < y.begin || x.begin == y.begin && x.end < y.end
	})
	at := uint64(0)
	for _, i := range order {
		e := &h.entries[i]
		bad := func(format string, args ...interface{}) error {
			return fmt.Errorf("%w: %w", ErrFormat, &TensorError{stQuote(e.name), fmt.Sprintf(format, args...)})
		}
		switch {
		case e.end < e.begin:
			return bad("data_offsets [%d, %d] end before they begin", e.begin, e.end)
		case e.begin < at:
			return bad("data_offsets [%d, %d] overlap the tensor before, which ends at %d", e.begin, e.end, at)
		case e.begin > at:
			return bad("data_offsets [%d, %d] leave a gap after the tensor before, which ends at %d", e.begin, e.end, at)
		case e.end > h.dataLen:
			return bad("data_offsets [%d, %d] run past the file's %d bytes of data", e.begin, e.end, h.dataLen)
		}
		at = e.end
		numel := uint64(1)
		for _, d := range e.shape {
			if d != 0 && numel > math.MaxUint64/uint64(d) {
				return bad("the element count of shape %s overflows", tensor.ShapeString(e.shape))
			}
			numel *= uint64(d)
		}
		es := uint64(e.dtype.Size())
		if numel > math.MaxUint64/es {
			return bad("the byte count of shape %s overflows", tensor.ShapeString(e.shape))
		}
		if n := numel * es; n != e.end-e.begin {
			return bad("shape %s of %s is %d bytes, its data_offsets [%d, %d] span %d",
				tensor.ShapeString(e.shape), stNames[e.dtype], n, e.begin, e.end, e.end-e.begin)
		}
	}
	if at != h.dataLen {
		return formatErr("the safetensors tensors end at byte %d of the data, the file holds %d", at, h.dataLen)
	}
	return nil
}

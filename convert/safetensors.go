package convert

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/gnconv/gnconv/tensor"
)

// A safetensors file is an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and data offsets (and an
// optional "__metadata__" map of strings), then the tensors' raw
// little-endian bytes. Nothing in it can run, but every number it holds
// is untrusted: the header is bounded before it is read, parsed by a
// token walk of fixed depth (a nested value where a number or string
// belongs ends it), and the offsets must tile the data exactly, as the
// format's reference implementation requires, before any tensor is read.

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
	case n > uint64(lim.PickleBytes):
		return nil, limitErr("PickleBytes", lim.PickleBytes, "safetensors header of %d bytes, more than %d", n, lim.PickleBytes)
	case n > uint64(size-8):
		return nil, formatErr("safetensors header of %d bytes runs past the end of the file (%d bytes after the length)", n, size-8)
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

// parseSafetensorsHeader parses the header's JSON. The header must be
// UTF-8 and start with its brace (the reference's rules); a key given
// twice, at any level, is refused (a JSON decoder that keeps the first
// and one that keeps the last would read different tensors), and so is a
// field the format does not have.
func parseSafetensorsHeader(hdr []byte, lim Limits) (*stHeader, error) {
	if !utf8.Valid(hdr) {
		return nil, formatErr("the safetensors header is not UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr("the safetensors header does not start with {")
	}
	if err := checkSurrogates(hdr); err != nil {
		return nil, err
	}
	p := &stParser{dec: json.NewDecoder(bytes.NewReader(hdr)), lim: lim}
	p.dec.UseNumber()
	h, err := p.header()
	if err != nil {
		return nil, err
	}
	for _, c := range hdr[p.dec.InputOffset():] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return nil, formatErr("the safetensors header goes on after its JSON object")
		}
	}
	return h, nil
}

// checkSurrogates refuses a \u escape of half a UTF-16 surrogate pair.
// Go's decoder would read it as U+FFFD; the reference refuses it, and two
// such names would otherwise read as one.
func checkSurrogates(b []byte) error {
	hex := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		switch {
		case !ok:
			i++ // another escape: skip its letter (a backslash included)
		case r >= 0xd800 && r < 0xdc00:
			lo, ok := hex(i + 6)
			if !ok || lo < 0xdc00 || lo >= 0xe000 {
				return formatErr("the safetensors header has an unpaired UTF-16 surrogate escape")
			}
			i += 11
		case r >= 0xdc00 && r < 0xe000:
			return formatErr("the safetensors header has an unpaired UTF-16 surrogate escape")
		default:
			i += 5
		}
	}
	return nil
}

// stParser walks the header's JSON tokens. The structure has a fixed
// depth (object → tensor object → shape array), so anything nested
// deeper is refused at its first token, never walked.
type stParser struct {
	dec *json.Decoder
	lim Limits
}

func (p *stParser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		return nil, formatErr("the safetensors header is not valid JSON: %s", clipText(err.Error(), 100))
	}
	return t, nil
}

// delim reads the delimiter want.
func (p *stParser) delim(want json.Delim, what string) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return formatErr("%s is %s, not %s", what, tokenKind(t), delimKind(want))
	}
	return nil
}

// key reads an object's next key (the decoder has checked it is a string).
func (p *stParser) key() (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	s, _ := t.(string)
	return s, nil
}

func (p *stParser) header() (*stHeader, error) {
	if err := p.delim('{', "the safetensors header"); err != nil {
		return nil, err
	}
	h := &stHeader{}
	seen := map[string]bool{}
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, formatErr("the safetensors header names %s twice", stQuote(k))
		}
		seen[k] = true
		if len(seen) > p.lim.Objects {
			return nil, limitErr("Objects", int64(p.lim.Objects), "a safetensors header of more than %d entries", p.lim.Objects)
		}
		if k == safetensorsMetadataKey {
			if h.metadata, err = p.metadata(len(seen)); err != nil {
				return nil, err
			}
			continue
		}
		e, err := p.entry(k)
		if err != nil {
			return nil, err
		}
		h.entries = append(h.entries, e)
	}
	if err := p.delim('}', "the safetensors header's end"); err != nil {
		return nil, err
	}
	return h, nil
}

// metadata reads "__metadata__": an object of strings, or null.
func (p *stParser) metadata(entries int) (map[string]string, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, formatErr("the safetensors __metadata__ is %s, not an object", tokenKind(t))
	}
	m := map[string]string{}
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, ok := m[k]; ok {
			return nil, formatErr("the safetensors __metadata__ names %s twice", stQuote(k))
		}
		if entries+len(m) >= p.lim.Objects {
			return nil, limitErr("Objects", int64(p.lim.Objects), "a safetensors header of more than %d entries", p.lim.Objects)
		}
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		v, ok := t.(string)
		if !ok {
			return nil, formatErr("the safetensors __metadata__ value of %s is %s, not a string", stQuote(k), tokenKind(t))
		}
		m[k] = v
	}
	return m, p.delim('}', "the end of the safetensors __metadata__")
}

// entry reads one tensor's {"dtype", "shape", "data_offsets"}.
func (p *stParser) entry(name string) (stEntry, error) {
	e := stEntry{name: name}
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: %w", ErrFormat, &TensorError{stQuote(name), fmt.Sprintf(format, args...)})
	}
	t, err := p.token()
	if err != nil {
		return e, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return e, bad("its header entry is %s, not an object", tokenKind(t))
	}
	var haveDType, haveShape, haveOffsets bool
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return e, err
		}
		var dup bool
		switch k {
		case "dtype":
			dup, haveDType = haveDType, true
			t, err := p.token()
			if err != nil {
				return e, err
			}
			s, ok := t.(string)
			if !ok {
				return e, bad("dtype is %s, not a string", tokenKind(t))
			}
			d, ok := stDTypes[s]
			switch {
			case ok:
				e.dtype = d.dtype
			case stOtherDTypes[s]:
				return e, bad("dtype %s is not one gnconv reads (BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64)", s)
			default:
				return e, bad("unknown dtype %s", stQuote(s))
			}
		case "shape":
			dup, haveShape = haveShape, true
			dims, err := p.numbers(name, "shape", maxTensorDims)
			if err != nil {
				return e, err
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d > 1<<62 {
					return e, bad("dimension %d of its shape is too large", d)
				}
				e.shape[i] = int(d)
			}
		case "data_offsets":
			dup, haveOffsets = haveOffsets, true
			offs, err := p.numbers(name, "data_offsets", 2)
			if err != nil {
				return e, err
			}
			if len(offs) != 2 {
				return e, bad("data_offsets has %d numbers, not 2", len(offs))
			}
			e.begin, e.end = offs[0], offs[1]
		default:
			return e, bad("its header entry has a field %s, not dtype, shape or data_offsets", stQuote(k))
		}
		if dup {
			return e, bad("its header entry gives %s twice", k)
		}
	}
	if err := p.delim('}', "the end of a tensor's header entry"); err != nil {
		return e, err
	}
	if !haveDType || !haveShape || !haveOffsets {
		return e, bad("its header entry lacks dtype, shape or data_offsets")
	}
	if e.shape == nil {
		e.shape = []int{}
	}
	return e, nil
}

// numbers reads an array of at most max natural numbers.
func (p *stParser) numbers(name, field string, max int) ([]uint64, error) {
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: %w", ErrFormat, &TensorError{stQuote(name), field + " " + fmt.Sprintf(format, args...)})
	}
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return nil, bad("is %s, not an array", tokenKind(t))
	}
	var out []uint64
	for p.dec.More() {
		if len(out) == max {
			return nil, bad("has more than %d numbers", max)
		}
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		num, ok := t.(json.Number)
		if !ok {
			return nil, bad("holds %s, not a number", tokenKind(t))
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return nil, bad("holds %s, not a natural number of 64 bits", clipText(string(num), 40))
		}
		out = append(out, v)
	}
	return out, p.delim(']', "the end of "+field)
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

// tokenKind names a JSON token's kind for a message, never its value.
func tokenKind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return delimKind(v)
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a value"
}

func delimKind(d json.Delim) string {
	switch d {
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "the end of " + map[json.Delim]string{'}': "an object", ']': "an array"}[d]
}

package convert

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/gnconv/gnconv/tensor"
)

// WriteSafetensors writes sd as a safetensors file: each tensor in its
// own dtype and exact bytes, with metadata (nil for none) as the
// header's "__metadata__".
//
// The output is deterministic and laid out as the format's reference
// implementation lays it out: the data ordered by dtype (widest
// alignment first, in the reference's dtype order) then by name, so that
// every tensor starts at a multiple of its element size; the header
// compact JSON, "__metadata__" first (its keys sorted), padded with
// spaces to a multiple of 8 bytes. One difference: the header lists the
// tensors in sd's order rather than the data's, because JSON object order
// is free and gnconv's reader keeps the header's order as the state
// dict's (the order a layout binds by position; docs/checkpoints.md).
//
// A tensor that cannot be written is refused with an error wrapping
// ErrNotPlain: a name that is not UTF-8 or is "__metadata__", a dtype the
// format lacks, bytes that do not match the shape. The header is parsed
// and checked by the reader before anything is written; on any error
// nothing is written to w.
func WriteSafetensors(w io.Writer, sd *tensor.StateDict, metadata map[string]string) error {
	hdr, order, err := safetensorsLayout(sd, metadata)
	if err != nil {
		return err
	}
	if err := checkWrittenHeader(hdr, sd, metadata); err != nil {
		// a writer bug, not the caller's tensors: write nothing
		return fmt.Errorf("%w: the safetensors writer's header failed its own check: %w", ErrNotPlain, err)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, name := range order {
		if _, err := w.Write(sd.Tensors[name].Raw); err != nil {
			return err
		}
	}
	return nil
}

// safetensorsLayout makes the header and the order of the data.
func safetensorsLayout(sd *tensor.StateDict, metadata map[string]string) ([]byte, []string, error) {
	refuse := func(name, format string, args ...interface{}) error {
		return fmt.Errorf("%w: tensor %s: %s", ErrNotPlain, stQuote(name), fmt.Sprintf(format, args...))
	}
	for _, name := range sd.Names {
		t := sd.Tensors[name]
		switch {
		case !utf8.ValidString(name):
			return nil, nil, refuse(name, "the name is not UTF-8, which a safetensors header must be")
		case name == safetensorsMetadataKey:
			return nil, nil, refuse(name, "the name is the header's metadata key")
		case t == nil:
			return nil, nil, refuse(name, "no tensor")
		}
		if _, ok := stNames[t.DType]; !ok {
			return nil, nil, refuse(name, "dtype %s has no safetensors counterpart", t.DType)
		}
		if len(t.Shape) > maxTensorDims {
			return nil, nil, refuse(name, "%d dimensions", len(t.Shape))
		}
		numel := uint64(1)
		for _, d := range t.Shape {
			if d < 0 || d != 0 && numel > math.MaxInt64/uint64(d) {
				return nil, nil, refuse(name, "shape %s", tensor.ShapeString(t.Shape))
			}
			numel *= uint64(d)
		}
		if es := uint64(t.DType.Size()); numel > math.MaxInt64/es || numel*es != uint64(len(t.Raw)) {
			return nil, nil, refuse(name, "%d bytes for shape %s of %s", len(t.Raw), tensor.ShapeString(t.Shape), t.DType)
		}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("%w: safetensors metadata %s is not UTF-8", ErrNotPlain, stQuote(k))
		}
	}

	order := slices.Clone(sd.Names)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := stDTypes[stNames[sd.Tensors[order[i]].DType]].rank, stDTypes[stNames[sd.Tensors[order[j]].DType]].rank
		return a > b || a == b && order[i] < order[j]
	})
	offsets := make(map[string][2]uint64, len(order))
	at := uint64(0)
	for _, name := range order {
		n := uint64(len(sd.Tensors[name].Raw))
		offsets[name] = [2]uint64{at, at + n}
		at += n
	}

	var b bytes.Buffer
	b.WriteByte('{')
	if metadata != nil {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		jsonString(&b, safetensorsMetadataKey)
		b.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			jsonString(&b, k)
			b.WriteByte(':')
			jsonString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	for i, name := range sd.Names {
		if i > 0 || metadata != nil {
			b.WriteByte(',')
		}
		t := sd.Tensors[name]
		jsonString(&b, name)
		b.WriteString(`:{"dtype":"` + stNames[t.DType] + `","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		off := offsets[name]
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off[0], off[1])
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > safetensorsMaxHeader {
		return nil, nil, fmt.Errorf("%w: the safetensors header would be %d bytes, more than the format's %d", ErrNotPlain, b.Len(), safetensorsMaxHeader)
	}
	return b.Bytes(), order, nil
}

// jsonString writes s as a JSON string the way the reference
// implementation's JSON library does: only the quote, the backslash and
// control characters escaped (the short forms where JSON has them, else
// \u00xx), everything else as its UTF-8 bytes.
func jsonString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// checkWrittenHeader parses a header the writer made, as the reader
// parses one, and holds it to what was meant: sd's names in order, each
// tensor's dtype, shape and byte count, the metadata, and offsets that
// tile the data.
func checkWrittenHeader(hdr []byte, sd *tensor.StateDict, metadata map[string]string) error {
	h, err := parseSafetensorsHeader(hdr, DefaultLimits().Scaled(1<<10))
	if err != nil {
		return err
	}
	for _, name := range sd.Names {
		h.dataLen += uint64(len(sd.Tensors[name].Raw))
	}
	if err := h.checkOffsets(); err != nil {
		return err
	}
	return h.matches(sd, metadata)
}

// matches reports how h differs from sd and metadata.
func (h *stHeader) matches(sd *tensor.StateDict, metadata map[string]string) error {
	if len(h.entries) != len(sd.Names) {
		return fmt.Errorf("%d tensors in the header, %d meant", len(h.entries), len(sd.Names))
	}
	for i, e := range h.entries {
		t := sd.Tensors[sd.Names[i]]
		if e.name != sd.Names[i] || e.dtype != t.DType || !slices.Equal(e.shape, t.Shape) || e.end-e.begin != uint64(len(t.Raw)) {
			return fmt.Errorf("tensor %d of the header is not the one meant (%s)", i, stQuote(sd.Names[i]))
		}
	}
	if len(h.metadata) != len(metadata) || (h.metadata == nil) != (metadata == nil) {
		return fmt.Errorf("the header's metadata has %d entries, %d meant", len(h.metadata), len(metadata))
	}
	for k, v := range metadata {
		if got, ok := h.metadata[k]; !ok || got != v {
			return fmt.Errorf("the header's metadata %s is not the one meant", stQuote(k))
		}
	}
	return nil
}

// CheckSafetensors re-reads a safetensors file that WriteSafetensors
// wrote from sd and metadata, size bytes at r, and reports the first way
// it differs: its header, as the reader parses and validates it, and
// every tensor's bytes, compared a block at a time (nothing the size of
// the file is allocated). Writers call it on the finished file before
// it is renamed into place.
func CheckSafetensors(r io.ReaderAt, size int64, sd *tensor.StateDict, metadata map[string]string) error {
	h, err := readSafetensorsHeader(r, size, nil, DefaultLimits().Scaled(1<<10))
	if err != nil {
		return fmt.Errorf("the written safetensors file does not read back: %w", err)
	}
	if err := h.matches(sd, metadata); err != nil {
		return fmt.Errorf("the written safetensors file does not read back as written: %w", err)
	}
	buf := make([]byte, 1<<20)
	base := int64(8 + h.n)
	for i, e := range h.entries {
		raw := sd.Tensors[sd.Names[i]].Raw
		for done := 0; done < len(raw); {
			chunk := buf[:min(len(buf), len(raw)-done)]
			if m, err := r.ReadAt(chunk, base+int64(e.begin)+int64(done)); m < len(chunk) {
				return fmt.Errorf("the written safetensors file does not read back: tensor %s: %v", stQuote(e.name), err)
			}
			if !bytes.Equal(chunk, raw[done:done+len(chunk)]) {
				return fmt.Errorf("the written safetensors file does not read back as written: tensor %s differs", stQuote(e.name))
			}
			done += len(chunk)
		}
	}
	return nil
}

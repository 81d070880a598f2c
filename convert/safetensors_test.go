package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/tensor"
)

// stFile is a safetensors file of the given header (unpadded) and data.
func stFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// f32Bytes is the little-endian bytes of vs.
func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestSafetensorsReferenceBytes holds the writer to the files the
// format's reference implementation writes for the same tensors (the
// expected bytes of its own serialization tests), and the reader to
// reading them back.
func TestSafetensorsReferenceBytes(t *testing.T) {
	data := f32Bytes(0, 1, 2, 3, 4, 5)
	for _, c := range []struct {
		name  string
		shape []int
		meta  map[string]string
		want  []byte
	}{
		{"attn.0", []int{1, 2, 3}, nil,
			stFile(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, data)},
		// a shorter name: 7 spaces keep the data 8-byte aligned
		{"attn0", []int{1, 1, 2, 3}, nil,
			stFile(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `, data)},
		{"", nil, nil, stFile(`{}      `, nil)},
		{"", nil, map[string]string{"framework": "pt"}, stFile(`{"__metadata__":{"framework":"pt"}}     `, nil)},
	} {
		sd := tensor.NewStateDict()
		if c.shape != nil {
			sd.Set(c.name, &tensor.Tensor{DType: tensor.Float32, Shape: c.shape, Raw: data})
		}
		var b bytes.Buffer
		if err := WriteSafetensors(&b, sd, c.meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), c.want) {
			t.Errorf("%q: wrote\n%q\nwant\n%q", c.name, b.Bytes(), c.want)
		}
		h, err := readSafetensorsHeader(bytes.NewReader(c.want), int64(len(c.want)), c.want, Limits{})
		if err != nil {
			t.Fatalf("%q: %v", c.name, err)
		}
		if err := h.matches(sd, c.meta); err != nil {
			t.Errorf("%q: %v", c.name, err)
		}
	}
	// the reference reader's example: metadata after the tensor
	b := stFile(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"foo":"bar"}}`, make([]byte, 16))
	ck, err := ReadCheckpointBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Format != "safetensors" || ck.Metadata["foo"] != "bar" || ck.StateDict.Tensors["test"].DType != tensor.Int32 {
		t.Errorf("read %+v", ck)
	}
}

// allDTypes is a state dict with a tensor of every dtype in a scrambled
// order, a 0-dim one, empty ones and names that need escaping.
func allDTypes(rng *rand.Rand) *tensor.StateDict {
	sd := tensor.NewStateDict()
	add := func(name string, dt tensor.DType, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		raw := make([]byte, n*dt.Size())
		rng.Read(raw)
		if dt == tensor.Bool {
			for i := range raw {
				raw[i] &= 1
			}
		}
		sd.Set(name, &tensor.Tensor{DType: dt, Shape: append([]int{}, shape...), Raw: raw})
	}
	add("layer.bias", tensor.Float16, 5)
	add("layer.weight", tensor.Float32, 3, 5)
	add("bn.num_batches_tracked", tensor.Int64)
	add("x.bf16", tensor.BFloat16, 7)
	add("x.f64", tensor.Float64, 2, 3)
	add("x.i32", tensor.Int32, 3)
	add("x.i16", tensor.Int16, 3)
	add("x.i8", tensor.Int8, 5)
	add("x.u8", tensor.Uint8, 1, 3)
	add("x.bool", tensor.Bool, 3)
	add("empty", tensor.Float32, 0, 3)
	add("empty.i64", tensor.Int64, 4, 0)
	add("quote\"back\\slash\ttab\x1b\u202e\u00e9", tensor.Float32, 1)
	return sd
}

func sameStateDicts(t *testing.T, got, want *tensor.StateDict) {
	t.Helper()
	if !slices.Equal(got.Names, want.Names) {
		t.Fatalf("names %q, want %q", got.Names, want.Names)
	}
	for _, n := range want.Names {
		g, w := got.Tensors[n], want.Tensors[n]
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Raw, w.Raw) || g.Shape == nil {
			t.Errorf("%q: %s %v (%d bytes), want %s %v (%d bytes)", n, g.DType, g.Shape, len(g.Raw), w.DType, w.Shape, len(w.Raw))
		}
	}
}

// TestSafetensorsRoundTrip writes every dtype and reads it back through
// each reading path: the same names in the same order, dtypes, shapes and
// bytes; the data laid out as the reference lays it out, aligned.
func TestSafetensorsRoundTrip(t *testing.T) {
	sd := allDTypes(rand.New(rand.NewSource(1)))
	meta := map[string]string{"format": "pt", "z": "\u2028", "a": "line\nbreak"}
	var b bytes.Buffer
	if err := WriteSafetensors(&b, sd, meta); err != nil {
		t.Fatal(err)
	}
	file := b.Bytes()
	var again bytes.Buffer
	WriteSafetensors(&again, sd, meta)
	if !bytes.Equal(file, again.Bytes()) {
		t.Error("two writes differ")
	}
	if !bytes.Contains(file, []byte(`"quote\"back\\slash\ttab\u001b`+"\u202e\u00e9"+`"`)) {
		t.Errorf("a name escaped otherwise than the reference escapes it: %q", file[:300])
	}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	for how, read := range map[string]func() (*Checkpoint, error){
		"bytes": func() (*Checkpoint, error) { return ReadCheckpointBytes(file) },
		"read":  func() (*Checkpoint, error) { return ReadCheckpoint(path) },
		"map":   func() (*Checkpoint, error) { return MapCheckpoint(path) },
	} {
		ck, err := read()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if ck.Format != "safetensors" || ck.ByteOrder != "little" || ck.Prefix != "" || ck.WrapperKey != "" {
			t.Errorf("%s: %+v", how, ck)
		}
		if len(ck.Metadata) != 3 || ck.Metadata["z"] != "\u2028" || ck.Metadata["a"] != "line\nbreak" {
			t.Errorf("%s: metadata %q", how, ck.Metadata)
		}
		sameStateDicts(t, ck.StateDict, sd)
		if d, ok := ck.Root.(*Dict); !ok || len(d.Keys) != sd.Len() {
			t.Errorf("%s: root %T", how, ck.Root)
		}
	}
	h, err := readSafetensorsHeader(bytes.NewReader(file), int64(len(file)), file, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.n%8 != 0 {
		t.Errorf("header of %d bytes", h.n)
	}
	// data: by the reference's dtype order, widest first, then by name
	entries := slices.Clone(h.entries)
	slices.SortFunc(entries, func(a, b stEntry) int { return int(a.begin) - int(b.begin) })
	for i, e := range entries {
		if (8+h.n+e.begin)%uint64(e.dtype.Size()) != 0 {
			t.Errorf("%q at %d is not aligned", e.name, 8+h.n+e.begin)
		}
		if i > 0 && e.begin != entries[i-1].begin {
			p := entries[i-1]
			rp, re := stDTypes[stNames[p.dtype]].rank, stDTypes[stNames[e.dtype]].rank
			if rp < re || rp == re && p.name > e.name {
				t.Errorf("%q before %q", p.name, e.name)
			}
		}
	}
	if err := CheckSafetensors(bytes.NewReader(file), int64(len(file)), sd, meta); err != nil {
		t.Error(err)
	}
	bad := slices.Clone(file)
	bad[len(bad)-1] ^= 1
	if err := CheckSafetensors(bytes.NewReader(bad), int64(len(bad)), sd, meta); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("a changed byte: %v", err)
	}
	if err := CheckSafetensors(bytes.NewReader(file), int64(len(file)), sd, nil); err == nil {
		t.Error("other metadata: no error")
	}
}

// TestSafetensorsFromCheckpoint: a torch checkpoint written as
// safetensors reads back as the same state dict, module. prefix and all.
func TestSafetensorsFromCheckpoint(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSafetensors(&b, ck.StateDict, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCheckpointBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sameStateDicts(t, back.StateDict, ck.StateDict)

	wrapped := tensor.NewStateDict()
	for _, n := range ck.StateDict.Names[:3] {
		wrapped.Set("module."+n, ck.StateDict.Tensors[n])
	}
	b.Reset()
	if err := WriteSafetensors(&b, wrapped, nil); err != nil {
		t.Fatal(err)
	}
	back, err = ReadCheckpointBytes(b.Bytes())
	if err != nil || back.Prefix != "module." || back.StateDict.Names[0] != ck.StateDict.Names[0] || back.Metadata != nil {
		t.Fatalf("%v %+v", err, back)
	}
}

// TestSafetensorsWriterRefuses: what the format cannot hold is refused
// and nothing is written.
func TestSafetensorsWriterRefuses(t *testing.T) {
	f32 := func(n int) *tensor.Tensor {
		return &tensor.Tensor{DType: tensor.Float32, Shape: []int{n}, Raw: make([]byte, 4*n)}
	}
	for _, c := range []struct {
		name string
		t    *tensor.Tensor
		meta map[string]string
		want string
	}{
		{"w\xff", f32(1), nil, "not UTF-8"},
		{"__metadata__", f32(1), nil, "metadata key"},
		{"short", &tensor.Tensor{DType: tensor.Float32, Shape: []int{3}, Raw: make([]byte, 8)}, nil, "8 bytes for shape [3]"},
		{"negative", &tensor.Tensor{DType: tensor.Float32, Shape: []int{-1}, Raw: nil}, nil, "shape [-1]"},
		{"unknown", &tensor.Tensor{DType: tensor.DType(99), Shape: []int{}, Raw: nil}, nil, "no safetensors counterpart"},
		{"ok", f32(1), map[string]string{"k": "\xff"}, "not UTF-8"},
	} {
		sd := tensor.NewStateDict()
		sd.Set(c.name, c.t)
		var b bytes.Buffer
		err := WriteSafetensors(&b, sd, c.meta)
		if err == nil || !errors.Is(err, ErrNotPlain) || !strings.Contains(err.Error(), c.want) || b.Len() != 0 {
			t.Errorf("%q: %v (%d bytes written), want %q", c.name, err, b.Len(), c.want)
		}
	}
}

// TestSafetensorsWrongFiles: malformed headers give one-line ErrFormat
// errors saying what is wrong, names escaped.
func TestSafetensorsWrongFiles(t *testing.T) {
	entry := func(name, dtype, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":[` + shape + `],"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(e) + `]}`
	}
	for _, c := range []struct {
		name   string
		header string
		data   int
		want   string
	}{
		{"no_tensors", `{}`, 0, "holds no tensors"},
		{"no_tensors_metadata", `{"__metadata__":{"format":"pt"}}`, 0, "holds no tensors"},
		{"dtype_size", `{` + entry("w", "F32", "3", 0, 8) + `}`, 8, "is 12 bytes"},
		{"u16", `{` + entry("w", "U16", "2", 0, 4) + `}`, 4, "dtype U16 is not one gnconv reads"},
		{"unknown_dtype", `{` + entry("w", "Q7", "2", 0, 4) + `}`, 4, `unknown dtype "Q7"`},
		{"gap", `{` + entry("a", "U8", "2", 0, 2) + `,` + entry("b", "U8", "2", 3, 5) + `}`, 5, "leave a gap"},
		{"overlap", `{` + entry("a", "U8", "2", 0, 2) + `,` + entry("b", "U8", "2", 1, 3) + `}`, 3, "overlap"},
		{"reversed", `{` + entry("a", "U8", "0", 2, 0) + `}`, 2, "end before they begin"},
		{"past_end", `{` + entry("a", "U8", "4", 0, 4) + `}`, 2, "run past"},
		{"trailing_data", `{` + entry("a", "U8", "2", 0, 2) + `}`, 5, "tensors end at byte 2 of the data, the file holds 5"},
		{"duplicate", `{` + entry("a", "U8", "1", 0, 1) + `,` + entry("a", "U8", "1", 1, 2) + `}`, 2, `names "a" twice`},
		{"duplicate_field", `{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, "gives dtype twice"},
		{"duplicate_metadata", `{"__metadata__":{"k":"1","k":"2"},` + entry("a", "U8", "1", 0, 1) + `}`, 1, `names "k" twice`},
		{"metadata_not_string", `{"__metadata__":{"k":1},` + entry("a", "U8", "1", 0, 1) + `}`, 1, "not a string"},
		{"extra_field", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0}}`, 1, `field "x"`},
		{"missing_field", `{"a":{"dtype":"U8","shape":[1]}}`, 1, "lacks"},
		{"three_offsets", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}`, 1, "more than 2"},
		{"negative_dim", `{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1, "not a natural number"},
		{"float_dim", `{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}`, 1, "not a natural number"},
		{"overflow", `{` + entry("a", "U8", "4294967296,4294967296,4294967296", 0, 1) + `}`, 1, "overflows"},
		{"rank_17", `{` + entry("a", "U8", strings.Repeat("1,", 16)+"1", 0, 1) + `}`, 1, "more than 16"},
		{"entry_not_object", `{"a":[1]}`, 0, "not an object"},
		{"nested_dtype", `{"a":{"dtype":{"x":1}}}`, 0, "dtype is an object"},
		{"trailing_json", `{` + entry("a", "U8", "1", 0, 1) + `} x`, 1, "after the header's object"},
		{"bad_json", `{"a":{"dtype":"U8",}}`, 0, "not valid JSON"},
		{"surrogate", `{"\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, "surrogate"},
		{"escaped_name", `{"\u001b[31m\u202e":{"dtype":"U8","shape":[1],"data_offsets":[0,2]}}`, 2, `"\x1b[31m\u202e"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadCheckpointBytes(stFile(c.header, make([]byte, c.data)))
			t.Log(err)
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) || strings.ContainsAny(err.Error(), "\n\x1b\u202e") {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
	// a surrogate pair escaped is a name like any other
	ck, err := ReadCheckpointBytes(stFile(`{"\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{7}))
	if err != nil || ck.StateDict.Names[0] != "\U0001F600" {
		t.Errorf("%v %+v", err, ck)
	}
}

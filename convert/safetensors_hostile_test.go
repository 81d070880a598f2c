package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Generators of hostile safetensors files, one per class of attack on
// the reader's time or memory, each written from scratch.

// stHead is a safetensors file whose length field says n, followed by
// header (which need not be n bytes long).
func stHead(n uint64, header string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), header...)
}

// genSTManyTensors: n one-byte tensors, the header alone about 60·n bytes.
func genSTManyTensors(n int) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		s := strconv.Itoa(i)
		b.WriteString(`"t` + s + `":{"dtype":"U8","shape":[1],"data_offsets":[` + s + `,` + strconv.Itoa(i+1) + `]}`)
	}
	b.WriteByte('}')
	return append(stFile(b.String(), nil), make([]byte, n)...)
}

// genSTDeep: a tensor entry whose dtype opens n arrays.
func genSTDeep(n int) []byte {
	return stFile(`{"a":{"dtype":`+strings.Repeat("[", n)+strings.Repeat("]", n)+`}}`, nil)
}

// genSTLongShape: a shape of n numbers.
func genSTLongShape(n int) []byte {
	return stFile(`{"a":{"dtype":"U8","shape":[`+strings.Repeat("1,", n)+`1],"data_offsets":[0,1]}}`, []byte{0})
}

// genSTLongName: one tensor under a name of n bytes, each a control
// character (escaped in the header).
func genSTLongName(n int) []byte {
	return stFile(`{"`+strings.Repeat(`\u001b`, n)+`":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{0})
}

// genSTDuplicates: n tensors all named "w", each over its own bytes.
func genSTDuplicates(n int) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"w":{"dtype":"U8","shape":[1],"data_offsets":[` + strconv.Itoa(i) + `,` + strconv.Itoa(i+1) + `]}`)
	}
	b.WriteByte('}')
	return append(stFile(b.String(), nil), make([]byte, n)...)
}

// genSTOverlapping: n tensors of 1 MiB, all over the same bytes.
func genSTOverlapping(n int) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"w` + strconv.Itoa(i) + `":{"dtype":"F32","shape":[262144],"data_offsets":[0,1048576]}`)
	}
	b.WriteByte('}')
	return append(stFile(b.String(), nil), make([]byte, 1<<20)...)
}

// genSTBigMetadata: a metadata map of n entries.
func genSTBigMetadata(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"__metadata__":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":""`)
	}
	b.WriteString(`},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`)
	return stFile(b.String(), []byte{0})
}

func stBoundCases() []boundCase {
	entry := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	return []boundCase{
		{"st_header_length_2^63", func() []byte { return stHead(1<<63, entry) }, "more than the format's 100000000", nil},
		{"st_header_length_100MB", func() []byte { return stHead(100_000_000, entry) }, "runs past the end", nil},
		{"st_header_length_10MB", func() []byte { return stHead(10_000_000, entry) }, "runs past the end", nil},
		{"st_header_past_eof", func() []byte { return stHead(uint64(len(entry)+1), entry) }, "runs past the end", nil},
		{"st_too_short", func() []byte { return []byte("\x02\x00\x00\x00\x00\x00\x00\x00{") }, "runs past the end", nil},
		{"st_not_utf8", func() []byte { return stFile(`{"w`+"\xff"+`":{}}`, nil) }, "not UTF-8", nil},
		{"st_not_an_object", func() []byte { return stFile(`[{"w":1}]`, nil) }, "neither torch's zip format", nil},
		{"st_deep_1M", func() []byte { return genSTDeep(1 << 20) }, "dtype is an array", nil},
		{"st_unclosed_1M", func() []byte { return stFile(`{"a":{"dtype":"U8","shape":`+strings.Repeat("[", 1<<20), nil) }, "holds an array", nil},
		{"st_shape_1M_dims", func() []byte { return genSTLongShape(1 << 20) }, "more than 16", nil},
		{"st_shape_product_overflow", func() []byte {
			return stFile(`{"w":{"dtype":"F64","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}}`, nil)
		}, "overflows", nil},
		{"st_dim_2^64", func() []byte {
			return stFile(`{"w":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}`, nil)
		}, "not a natural number", nil},
		{"st_dtype_size_mismatch", func() []byte {
			return stFile(`{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
		}, "is 16 bytes", nil},
		{"st_offsets_out_of_range", func() []byte {
			return stFile(`{"w":{"dtype":"U8","shape":[1048576],"data_offsets":[0,1048576]}}`, make([]byte, 8))
		}, "run past", nil},
		{"st_offsets_2^64", func() []byte {
			return stFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}}`, make([]byte, 8))
		}, "end before they begin", nil},
		{"st_overlapping_1000x1MiB", func() []byte { return genSTOverlapping(1000) }, "overlap", nil},
		{"st_gap", func() []byte {
			return stFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`, make([]byte, 3))
		}, "leave a gap", nil},
		{"st_data_not_covered", func() []byte { return stFile(entry, make([]byte, 1<<20)) }, "the file holds 1048576", nil},
		{"st_duplicates_1e5", func() []byte { return genSTDuplicates(100000) }, `names "w" twice`, nil},
		{"st_tensors_5e4_read", func() []byte { return genSTManyTensors(50000) }, "", func(t *testing.T, ck *Checkpoint) {
			if ck.StateDict.Len() != 50000 || ck.StateDict.Names[49999] != "t49999" {
				t.Errorf("%d tensors", ck.StateDict.Len())
			}
		}},
		{"st_metadata_1e5_read", func() []byte { return genSTBigMetadata(100000) }, "", func(t *testing.T, ck *Checkpoint) {
			if len(ck.Metadata) != 100000 {
				t.Errorf("%d metadata entries", len(ck.Metadata))
			}
		}},
		{"st_long_name_escaped", func() []byte { return genSTLongName(1 << 20) }, "", func(t *testing.T, ck *Checkpoint) {
			if len(ck.StateDict.Names[0]) != 1<<20 {
				t.Errorf("name of %d bytes", len(ck.StateDict.Names[0]))
			}
		}},
	}
}

// TestSafetensorsBounded reads each hostile safetensors file through
// every reading path: an error of one line naming the file, or the file,
// in well under a few seconds and in memory proportional to the input.
func TestSafetensorsBounded(t *testing.T) {
	dir := t.TempDir()
	for _, c := range stBoundCases() {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".safetensors")
			if err := os.WriteFile(path, c.gen(), 0o600); err != nil {
				t.Fatal(err)
			}
			readers := map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint,
				"bytes": func(p string) (*Checkpoint, error) {
					b, err := os.ReadFile(p)
					if err != nil {
						return nil, err
					}
					return ReadCheckpointBytes(b)
				}}
			for how, read := range readers {
				size := fileSize(t, path)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				ck, err := read(path)
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				if took > 2*time.Second {
					t.Errorf("%s: took %v", how, took)
				}
				if alloc, max := after.TotalAlloc-before.TotalAlloc, uint64(64<<20+400*size); alloc > max {
					t.Errorf("%s: allocated %d bytes for a %d-byte file", how, alloc, size)
				}
				if c.want == "" {
					if err != nil {
						t.Fatalf("%s: %v", how, err)
					}
					if ck.Format != "safetensors" {
						t.Errorf("%s: format %q", how, ck.Format)
					}
					c.check(t, ck)
					continue
				}
				if err == nil {
					t.Fatalf("%s: no error", how)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.want) || strings.ContainsAny(msg, "\n\x1b") || len(msg) > 600 {
					t.Errorf("%s: error %q, want one line saying %q", how, msg, c.want)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("%s: %v is not an ErrFormat", how, err)
				}
				if !strings.Contains(msg, path) && how != "bytes" {
					t.Errorf("%s: %q does not name the file", how, msg)
				}
			}
		})
	}
}

// TestSafetensorsSparse: files announcing more than the limits allow,
// held as sparse files, are refused before the header or the data is
// read or allocated: a 90 MB header (PickleBytes) and 20 GB of data
// (DataBytes).
func TestSafetensorsSparse(t *testing.T) {
	dir := t.TempDir()
	hdr := stFile(`{"w":{"dtype":"F32","shape":[5000000000],"data_offsets":[0,20000000000]}}`, nil)
	for _, c := range []struct {
		name string
		head []byte
		size int64
		want string
	}{
		{"header_90MB", stHead(90_000_000, "{"), 8 + 90_000_000, "limit PickleBytes"},
		{"data_20GB", hdr, int64(len(hdr)) + 20_000_000_000, "limit DataBytes"},
	} {
		path := filepath.Join(dir, c.name+".safetensors")
		if err := os.WriteFile(path, c.head, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, c.size); err != nil {
			t.Skip(err)
		}
		for how, read := range map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := read(path)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s %s: got %v", c.name, how, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s %s: took %v", c.name, how, d)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("%s %s: allocated %d bytes", c.name, how, alloc)
			}
		}
	}
	// raised limits let the header through to the JSON check
	if _, err := ReadCheckpointWith(filepath.Join(dir, "header_90MB.safetensors"), DefaultLimits().Scaled(2)); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("PickleBytes raised: %v", err)
	}
}

// TestSafetensorsObjectsLimit: the Objects limit bounds the header's
// entries, tensors and metadata together.
func TestSafetensorsObjectsLimit(t *testing.T) {
	var le *LimitError
	if _, err := ReadCheckpointBytesWith(genSTManyTensors(1001), Limits{Objects: 1000}); !errors.As(err, &le) || le.Limit != "Objects" {
		t.Errorf("tensors: %v", err)
	}
	if _, err := ReadCheckpointBytesWith(genSTBigMetadata(1000), Limits{Objects: 1000}); !errors.As(err, &le) || le.Limit != "Objects" {
		t.Errorf("metadata: %v", err)
	}
	if _, err := ReadCheckpointBytesWith(genSTManyTensors(1000), Limits{Objects: 1000}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

// TestSafetensorsBoundedUnderAddressLimit reruns the hostile safetensors
// files in a child process whose address space is limited to 2 GB.
func TestSafetensorsBoundedUnderAddressLimit(t *testing.T) {
	if os.Getenv("CONVERT_UNDER_PRLIMIT") != "" {
		return
	}
	prlimit, err := exec.LookPath("prlimit")
	ci := os.Getenv("CI") == "true"
	switch {
	case err != nil && ci:
		t.Fatal("prlimit (util-linux) is needed in CI")
	case err != nil:
		t.Skip("prlimit (util-linux) is not installed")
	case testing.Short() && !ci:
		t.Skip("short")
	}
	cmd := exec.Command(prlimit, "--as=2000000000", "--", os.Args[0],
		"-test.run=^(TestSafetensorsBounded|TestSafetensorsSparse)$", "-test.v")
	cmd.Env = append(os.Environ(), "CONVERT_UNDER_PRLIMIT=1")
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("--- FAIL")) || !bytes.Contains(out, []byte("--- PASS: TestSafetensorsBounded")) {
		t.Fatalf("under prlimit --as=2000000000: %v\n%s", err, out)
	}
}

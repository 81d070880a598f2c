package convert_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/internal/plaingen"
)

// dataPkl returns the pickle record of a written checkpoint.
func dataPkl(t *testing.T, file []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "archive/data.pkl" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no archive/data.pkl")
	return nil
}

// FuzzWriteObject holds the pickle writer to its promise on random plain
// values: it refuses exactly the values it must (with ErrNotPlain, writing
// nothing), and whatever it writes passes the opcode checker and reads
// back equal. Both dialects: torch's weights-only one (WriteObject) and
// the one with LONG4, BINFLOAT and BINBYTES.
func FuzzWriteObject(f *testing.F) {
	f.Add([]byte{5, 0})                           // the attack integer (> 255 bytes of opcodes)
	f.Add([]byte{4, 1, 44, 0xff, 0x80, 1})        // a 300-byte integer
	f.Add([]byte{14, 3, 0, 8, 3, 'a', 'b', 'c'})  // a dict
	f.Add([]byte{12, 4, 6, 0x7f, 0xf8, 1, 2, 10}) // a tuple with a NaN
	f.Add([]byte{9, 2, 0xff, 0xfe})               // invalid UTF-8
	f.Add([]byte{15, 70})                         // too deep
	f.Add([]byte{11, 2, 2, 2, 3, 1, 2, 3, 4, 5, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		root, ref := plaingen.Root(b)
		modes := []struct {
			name   string
			write  func(io.Writer, interface{}, bool) error
			check  func([]byte) error
			refuse bool
		}{
			{"weights-only", convert.WriteObject, convert.CheckWeightsOnlyPickle, ref.WeightsOnly()},
			{"long", convert.WriteObjectLong, convert.CheckLongPickle, ref.Any()},
		}
		for _, m := range modes {
			var buf bytes.Buffer
			err := m.write(&buf, root, false)
			if err != nil {
				if !errors.Is(err, convert.ErrNotPlain) {
					t.Fatalf("%s: refused without ErrNotPlain: %v", m.name, err)
				}
				if !m.refuse {
					t.Fatalf("%s: refused a value it can write (%+v): %v", m.name, ref, err)
				}
				if buf.Len() != 0 {
					t.Fatalf("%s: refused after writing %d bytes", m.name, buf.Len())
				}
				continue
			}
			if m.refuse {
				t.Fatalf("%s: wrote a value it must refuse (%+v)", m.name, ref)
			}
			if err := m.check(dataPkl(t, buf.Bytes())); err != nil {
				t.Fatalf("%s: the written pickle fails the check: %v", m.name, err)
			}
			ck, err := convert.ReadCheckpointBytes(buf.Bytes())
			if err != nil {
				t.Fatalf("%s: reading back: %v", m.name, err)
			}
			if d := plaingen.Equal(root, ck.Root); d != "" {
				t.Fatalf("%s: read back differently: %s", m.name, d)
			}
		}
	})
}

// Package filekind tells what a file is from its first bytes, to say so
// when a file that is not a PyTorch checkpoint is given as one: an ONNX
// model, a safetensors file, a TorchScript archive, an HDF5 file
// (TensorFlow or Keras weights), a NumPy array, a gzip stream, a zip
// archive, a pickle or text. It reads a bounded prefix (and a zip's
// central directory), never the whole file.
package filekind

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Kind is what a file was recognised as.
type Kind struct {
	// Name is a short identifier: "onnx", "safetensors", "torchscript",
	// "torch-zip", "hdf5", "npy", "gzip", "zip", "pickle", "text",
	// "empty", or "" when the file is none of these.
	Name string
	// Description says what the file is in words, with an article ("an
	// ONNX model (ir_version 8, from pytorch 2.1.0)").
	Description string
}

// Known reports whether the file was recognised.
func (k Kind) Known() bool { return k.Name != "" }

// headBytes is how much of a file is read to tell its kind.
const headBytes = 1 << 16

// File sniffs the file at path. Only regular files are opened.
func File(path string) (Kind, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Kind{}, err
	}
	if !st.Mode().IsRegular() {
		return Kind{}, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Kind{}, err
	}
	defer f.Close()
	return Sniff(f, st.Size()), nil
}

// Bytes sniffs data held in memory.
func Bytes(b []byte) Kind { return Sniff(bytes.NewReader(b), int64(len(b))) }

// Sniff tells the kind of the size bytes r holds.
func Sniff(r io.ReaderAt, size int64) Kind {
	if size == 0 {
		return Kind{"empty", "an empty file"}
	}
	head := make([]byte, min(size, headBytes))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return sniffZip(r, size)
	case hasHDF5Signature(r, size):
		return Kind{"hdf5", "an HDF5 file (as TensorFlow and Keras save weights)"}
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return Kind{"npy", "a NumPy array file (.npy)"}
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Kind{"gzip", "a gzip-compressed file"}
	}
	if k, ok := safetensors(r, head, size); ok {
		return k
	}
	if k, ok := onnxModel(head, size); ok {
		return k
	}
	if len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 {
		return Kind{"pickle", fmt.Sprintf("a Python pickle (protocol %d)", head[1])}
	}
	if isText(head) {
		t := strings.TrimSpace(string(head))
		if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			return Kind{"text", "a text file (JSON)"}
		}
		return Kind{"text", "a text file"}
	}
	return Kind{}
}

func hasHDF5Signature(r io.ReaderAt, size int64) bool {
	// the superblock is at 0 or after a user block of 512, 1024, 2048…
	sig := []byte("\x89HDF\r\n\x1a\n")
	for off := int64(0); off+8 <= size && off <= 1<<20; {
		b := make([]byte, 8)
		if n, _ := r.ReadAt(b, off); n == 8 && bytes.Equal(b, sig) {
			return true
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	return false
}

// sniffZip tells TorchScript archives and torch.save files from other
// zip archives by their entries.
func sniffZip(r io.ReaderAt, size int64) Kind {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return Kind{"zip", "a zip archive (unreadable: " + err.Error() + ")"}
	}
	var code, constants, dataPkl bool
	for _, f := range z.File {
		parts := strings.Split(f.Name, "/")
		for i, p := range parts {
			if p == "code" && i < len(parts)-1 {
				code = true
			}
		}
		switch parts[len(parts)-1] {
		case "constants.pkl":
			constants = true
		case "data.pkl":
			dataPkl = true
		}
	}
	switch {
	case code || constants:
		return Kind{"torchscript", "a TorchScript archive (torch.jit.save)"}
	case dataPkl:
		return Kind{"torch-zip", "a PyTorch checkpoint (torch.save's zip format)"}
	}
	return Kind{"zip", fmt.Sprintf("a zip archive of %d entries, not torch.save's (no data.pkl)", len(z.File))}
}

// safetensors: an 8-byte little-endian header length, then that many
// bytes of a JSON object naming the tensors.
func safetensors(r io.ReaderAt, head []byte, size int64) (Kind, bool) {
	if len(head) < 10 {
		return Kind{}, false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 || n > 100<<20 || int64(n) > size-8 || head[8] != '{' {
		return Kind{}, false
	}
	hdr := make([]byte, n)
	if m, _ := r.ReadAt(hdr, 8); uint64(m) != n {
		return Kind{}, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &fields); err != nil {
		return Kind{}, false
	}
	tensors := 0
	for k := range fields {
		if k != "__metadata__" {
			tensors++
		}
	}
	noun := "tensors"
	if tensors == 1 {
		noun = "tensor"
	}
	return Kind{"safetensors", fmt.Sprintf("a safetensors file (%d %s)", tensors, noun)}, true
}

// onnxModel: protobuf whose top-level fields are all ModelProto's, with
// an ir_version or a graph.
func onnxModel(head []byte, size int64) (Kind, bool) {
	// ModelProto's fields: wire type by field number (onnx.proto)
	wire := map[uint64]uint64{
		1:  0, // ir_version
		2:  2, // producer_name
		3:  2, // producer_version
		4:  2, // domain
		5:  0, // model_version
		6:  2, // doc_string
		7:  2, // graph
		8:  2, // opset_import
		14: 2, // metadata_props
		20: 2, // training_info
		25: 2, // functions
	}
	var irVersion uint64
	var producer, version string
	haveIR, haveGraph, fields := false, false, 0
	pos := 0
	for pos < len(head) && fields < 64 {
		tag, k := binary.Uvarint(head[pos:])
		if k <= 0 {
			break
		}
		num, wt := tag>>3, tag&7
		want, ok := wire[num]
		if !ok || want != wt {
			return Kind{}, false
		}
		pos += k
		fields++
		switch wt {
		case 0:
			v, k := binary.Uvarint(head[pos:])
			if k <= 0 {
				return Kind{}, false
			}
			pos += k
			if num == 1 {
				irVersion, haveIR = v, true
			}
		case 2:
			l, k := binary.Uvarint(head[pos:])
			if k <= 0 || l > uint64(size) || int64(pos+k)+int64(l) > size {
				return Kind{}, false
			}
			pos += k
			end := pos + int(l)
			if num == 7 {
				haveGraph = true
			}
			if end > len(head) {
				pos = len(head) // the rest is beyond what was read
				break
			}
			switch num {
			case 2:
				producer = string(head[pos:end])
			case 3:
				version = string(head[pos:end])
			}
			pos = end
		}
	}
	if fields == 0 || !(haveIR || haveGraph) {
		return Kind{}, false
	}
	var about []string
	if haveIR {
		about = append(about, fmt.Sprintf("ir_version %d", irVersion))
	}
	if producer != "" && utf8.ValidString(producer) && len(producer) < 64 {
		p := "from " + producer
		if version != "" && utf8.ValidString(version) && len(version) < 64 {
			p += " " + version
		}
		about = append(about, p)
	}
	d := "an ONNX model"
	if len(about) > 0 {
		d += " (" + strings.Join(about, ", ") + ")"
	}
	return Kind{"onnx", d}, true
}

// isText: valid UTF-8 (a rune cut at the end aside) without control
// characters other than white space.
func isText(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' || r == 0x7f {
			return false
		}
		b = b[n:]
	}
	return true
}

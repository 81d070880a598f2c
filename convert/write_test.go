package convert

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	"google.golang.org/protobuf/proto"
)

func sameTensors(t *testing.T, what string, got, want *tensor.StateDict) {
	t.Helper()
	if !reflect.DeepEqual(got.Names, want.Names) {
		t.Fatalf("%s: names %v, want %v", what, got.Names, want.Names)
	}
	for _, n := range want.Names {
		g, w := got.Tensors[n], want.Tensors[n]
		if g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Raw, w.Raw) {
			t.Fatalf("%s: %s is %s %v, want %s %v (or its bytes differ)", what, n, g.DType, g.Shape, w.DType, w.Shape)
		}
	}
}

// TestWriteRoundTrip writes every fixture's state dict and reads it back:
// names, order, dtypes, shapes and bytes survive.
func TestWriteRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../fixtures/readers/*.pth")
	files = append(files, "../fixtures/tutorial_aux.pth", "../fixtures/torchvision_aux.pth")
	if len(files) < 10 {
		t.Fatalf("only %d fixtures", len(files))
	}
	for _, f := range files {
		ck, err := ReadCheckpoint(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteCheckpoint(&buf, ck.StateDict); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		back, err := ReadCheckpointBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: reading back: %v", f, err)
		}
		if back.WrapperKey != "" || back.Prefix != "" || back.Format != "zip" {
			t.Fatalf("%s: wrote a wrapped or prefixed file", f)
		}
		sameTensors(t, f, back.StateDict, ck.StateDict)
	}
}

// TestWrittenRecordsAreAligned checks torch 2.x's layout: stored (not
// deflated) records, storage data at 64-byte offsets, the records torch
// expects.
func TestWrittenRecordsAreAligned(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/readers/dtypes_zip_p4.pth")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCheckpoint(&buf, ck.StateDict); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		if f.Method != zip.Store {
			t.Errorf("%s is compressed", f.Name)
		}
		if strings.HasPrefix(f.Name, "archive/data/") {
			off, err := f.DataOffset()
			if err != nil || off%storageAlignment != 0 {
				t.Errorf("%s: data at %d", f.Name, off)
			}
		}
	}
	for _, want := range []string{"archive/data.pkl", "archive/version", "archive/byteorder", "archive/data/0", "archive/data/9"} {
		if !names[want] {
			t.Errorf("no record %s", want)
		}
	}
}

// TestWriteObjectPlainData writes a training dict with every kind of plain
// value and reads it back: WriteObject refuses what torch's weights-only
// unpickler cannot read (the fixture's optimizer state holds floats), the
// dialect with BINFLOAT and BINBYTES writes it all.
func TestWriteObjectPlainData(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/readers/wrapped_model_state_dict.pth")
	if err != nil {
		t.Fatal(err)
	}
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	root := &Dict{
		Keys:   []interface{}{"epoch", "name", "flags", "shape", "big", "neg", "none", "model_state_dict", "loss", "raw", "optimizer_state_dict"},
		Values: []interface{}{7, "googlenet", []interface{}{true, false}, Tuple{1, 2}, huge, -5, nil, nil, 0.125, []byte{0, 255}, nil},
	}
	orig := ck.Root.(*Dict)
	v, _ := orig.Get("model_state_dict")
	root.Values[7] = v
	v, _ = orig.Get("optimizer_state_dict")
	root.Values[10] = v
	for _, tc := range []struct {
		n    int // keys written
		d    dialect
		want string
	}{
		{8, weightsOnly, ""},
		{9, weightsOnly, "BINFLOAT"},
		{10, longDialect, ""},
		{11, weightsOnly, "BINFLOAT"},
		{11, longDialect, ""},
	} {
		r := &Dict{Keys: root.Keys[:tc.n], Values: root.Values[:tc.n]}
		var buf bytes.Buffer
		err := writeObject(&buf, r, false, tc.d)
		if tc.want != "" {
			if !errors.Is(err, ErrNotPlain) || !strings.Contains(err.Error(), tc.want) || buf.Len() != 0 {
				t.Fatalf("%d keys: %v (wrote %d bytes), want a refusal naming %s", tc.n, err, buf.Len(), tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d keys: %v", tc.n, err)
		}
		back, err := ReadCheckpointBytes(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if back.WrapperKey != "model_state_dict" {
			t.Fatalf("wrapper %q", back.WrapperKey)
		}
		sameTensors(t, "wrapped", back.StateDict, ck.StateDict)
		got := back.Root.(*Dict)
		for i, k := range r.Keys {
			if k == "model_state_dict" || k == "optimizer_state_dict" {
				continue
			}
			g, _ := got.Get(k.(string))
			if !reflect.DeepEqual(g, r.Values[i]) {
				t.Errorf("%s: %#v, want %#v", k, g, r.Values[i])
			}
		}
	}
	if err := WriteObject(&bytes.Buffer{}, &Dict{Keys: []interface{}{"s"}, Values: []interface{}{Opaque{Type: "set"}}}, false); !errors.Is(err, ErrNotPlain) {
		t.Fatalf("an opaque value must be refused: %v", err)
	}
}

// attackInt is an integer whose little-endian bytes spell, over and over,
// the opcodes GLOBAL posix.system and a call: 300 bytes and more. Written
// as LONG1 with its length wrapped to one byte, all but the first few of
// its bytes would be read by torch.load as opcodes.
func attackInt() (*big.Int, []byte) {
	body := bytes.Repeat([]byte("cposix\nsystem\n(X\x02\x00\x00\x00idtR."), 13)[:300]
	le := append([]byte(nil), body...)
	for i, j := 0, len(le)-1; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	return new(big.Int).SetBytes(le), body // body[299] < 0x80: positive, 300 bytes
}

func pickleOf(t *testing.T, file []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "archive/data.pkl" {
			rc, _ := f.Open()
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no data.pkl")
	return nil
}

// TestWriteAttackInteger: the integer that once escaped LONG1's one-byte
// length is refused by WriteObject (torch's weights-only unpickler has no
// LONG4) and, where LONG4 exists, written as LONG4 and read back whole.
func TestWriteAttackInteger(t *testing.T) {
	v, body := attackInt()
	sd := &Dict{Keys: []interface{}{"w"}, Values: []interface{}{tensor.NewFloat32([]int{2}, []float32{1, 2})}}
	root := &Dict{Keys: []interface{}{"state_dict", "epoch"}, Values: []interface{}{sd, v}}

	var buf bytes.Buffer
	err := WriteObject(&buf, root, false)
	if !errors.Is(err, ErrNotPlain) || !strings.Contains(err.Error(), "LONG4") || buf.Len() != 0 {
		t.Fatalf("WriteObject: %v (wrote %d bytes), want a refusal", err, buf.Len())
	}

	if err := writeObject(&buf, root, false, longDialect); err != nil {
		t.Fatal(err)
	}
	pkl := pickleOf(t, buf.Bytes())
	if err := checkPickle(pkl, longDialect); err != nil {
		t.Fatalf("checker: %v", err)
	}
	if err := checkPickle(pkl, weightsOnly); err == nil {
		t.Fatal("the weights-only checker passed LONG4")
	}
	ops, err := pickleOps(pkl, longDialect)
	if err != nil {
		t.Fatal(err)
	}
	long4 := 0
	for _, op := range ops {
		switch op.code {
		case opLong4:
			if !bytes.Equal(op.arg, body) {
				t.Fatalf("LONG4 at byte %d holds %d other bytes", op.pos, len(op.arg))
			}
			long4++
		case opLong1:
			if len(op.arg) > 8 {
				t.Fatalf("LONG1 of %d bytes at byte %d", len(op.arg), op.pos)
			}
		case opGlobal:
			if _, ok := writerGlobals[string(op.arg)]; !ok {
				t.Fatalf("GLOBAL %q at byte %d", op.arg, op.pos)
			}
		}
	}
	if long4 != 1 {
		t.Fatalf("%d LONG4 opcodes, want 1", long4)
	}
	// gnconv's reader frames the pickle independently of the checker
	if n, err := scanPickle(pkl); err != nil || n != len(pkl) {
		t.Fatalf("scanPickle: %d of %d bytes: %v", n, len(pkl), err)
	}
	ck, err := ReadCheckpointBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := ck.Root.(*Dict).Get("epoch")
	if g, ok := got.(*big.Int); !ok || g.Cmp(v) != 0 {
		t.Fatalf("read back %T, not the integer written", got)
	}
}

// TestCheckPickleRefusesBadStreams feeds the checker hand-made pickles.
func TestCheckPickleRefusesBadStreams(t *testing.T) {
	_, body := attackInt()
	// what the old writer made of the attack integer: LONG1 with 300
	// wrapped to 44, then the rest of the integer as opcodes
	wrapped := append([]byte{opProto, 2, opLong1, byte(len(body))}, body...)
	wrapped = append(wrapped, opStop)
	str := func(s string) []byte {
		return append([]byte{opBinUnicode, byte(len(s)), 0, 0, 0}, s...)
	}
	cat := func(parts ...[]byte) []byte {
		out := []byte{opProto, 2}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	stop := []byte{opStop}
	good := cat([]byte{opEmptyDict, opMark}, str("a"), []byte{opNone, opSetItems}, stop)
	if err := checkPickle(good, weightsOnly); err != nil {
		t.Fatalf("a good pickle: %v", err)
	}
	for name, b := range map[string][]byte{
		"wrapped LONG1":       wrapped,
		"foreign GLOBAL":      cat([]byte("cposix\nsystem\n("), str("id"), []byte{opTuple, opReduce}, stop),
		"trailing bytes":      append(append([]byte(nil), good...), opNone),
		"nothing after PROTO": {opProto, 2},
		"no PROTO":            {opNone, opStop},
		"protocol 4":          {opProto, 4, opNone, opStop},
		"string past the end": cat([]byte{opBinUnicode, 9, 0, 0, 0, 'a'}, stop),
		"huge string length":  cat([]byte{opBinUnicode, 0xff, 0xff, 0xff, 0xff, 'a'}, stop),
		"invalid UTF-8":       cat(str("\xff"), stop),
		"empty LONG1":         cat([]byte{opLong1, 0}, stop),
		"short LONG1":         cat([]byte{opLong1, 1, 5}, stop),
		"LONG4 weights-only":  cat([]byte{opLong4, 1, 1, 0, 0}, make([]byte, 257), stop),
		"BINFLOAT":            cat([]byte{opBinFloat, 0, 0, 0, 0, 0, 0, 0, 0}, stop),
		"BINBYTES":            cat([]byte{opBinBytes, 0, 0, 0, 0}, stop),
		"unknown opcode":      cat([]byte{'i'}, stop),
		"open MARK":           cat([]byte{opMark, opNone}, stop),
		"two values":          cat([]byte{opNone, opNone}, stop),
		"empty stack":         cat(stop),
		"APPENDS no MARK":     cat([]byte{opEmptyList, opNone, opAppends}, stop),
		"APPENDS to a dict":   cat([]byte{opEmptyDict, opMark, opNone, opAppends}, stop),
		"SETITEMS odd":        cat([]byte{opEmptyDict, opMark, opNone, opSetItems}, stop),
		"list key":            cat([]byte{opEmptyDict, opMark, opEmptyList, opNone, opSetItems}, stop),
		"pop below MARK":      cat([]byte("ccollections\nOrderedDict\n"), []byte{opMark, opEmptyTuple, opReduce, opTuple}, stop),
		"storage as data":     cat([]byte("ctorch\nFloatStorage\n"), stop),
		"call a storage":      cat([]byte("ctorch\nFloatStorage\n"), []byte{opEmptyTuple, opReduce}, stop),
		"OrderedDict(x)":      cat([]byte("ccollections\nOrderedDict\n"), []byte{opMark, opNone, opTuple, opReduce}, stop),
		"rebuild no storage":  cat([]byte("ctorch._utils\n_rebuild_tensor_v2\n"), []byte{opMark, opNone, opNone, opNone, opNone, opNone, opNone, opTuple, opReduce}, stop),
		"bad persistent id":   cat([]byte{opMark, opNone, opTuple, opBinPersID}, stop),
		"unterminated GLOBAL": cat([]byte("ccollections\nOrderedDict")),
	} {
		if err := checkPickle(b, weightsOnly); err == nil {
			t.Errorf("%s: the checker passed it", name)
		}
	}
}

// TestWriteObjectRefusals: values torch would not read back as written
// are refused before anything is written.
func TestWriteObjectRefusals(t *testing.T) {
	deep := interface{}(1)
	for i := 0; i < maxDepth+1; i++ {
		deep = []interface{}{deep}
	}
	for name, v := range map[string]interface{}{
		"invalid UTF-8":     "a\xffb",
		"invalid UTF-8 key": &Dict{Keys: []interface{}{"\xc0"}, Values: []interface{}{1}},
		"1 and True":        &Dict{Keys: []interface{}{1, true}, Values: []interface{}{1, 2}},
		"1 and 1.0":         &Dict{Keys: []interface{}{big.NewInt(1), 1.0}, Values: []interface{}{1, 2}},
		"twice a":           &Dict{Keys: []interface{}{"a", "a"}, Values: []interface{}{1, 2}},
		"equal tuples":      &Dict{Keys: []interface{}{Tuple{1, "x"}, Tuple{true, "x"}}, Values: []interface{}{1, 2}},
		"list key":          &Dict{Keys: []interface{}{[]interface{}{}}, Values: []interface{}{1}},
		"tuple of list key": &Dict{Keys: []interface{}{Tuple{[]interface{}{}}}, Values: []interface{}{1}},
		"keys and values":   &Dict{Keys: []interface{}{"a"}},
		"nil dict":          (*Dict)(nil),
		"nil big.Int":       (*big.Int)(nil),
		"nil tensor":        (*tensor.Tensor)(nil),
		"short tensor":      &tensor.Tensor{DType: tensor.Float32, Shape: []int{2}, Raw: make([]byte, 4)},
		"negative size":     &tensor.Tensor{DType: tensor.Float32, Shape: []int{-1}, Raw: nil},
		"unknown dtype":     &tensor.Tensor{DType: 99, Shape: []int{1}, Raw: make([]byte, 4)},
		"too deep":          deep,
		"opaque":            Opaque{Type: "set"},
		"a float":           0.5,
		"bytes":             []byte{1},
		"a channel":         make(chan int),
	} {
		var buf bytes.Buffer
		err := WriteObject(&buf, Tuple{v}, false)
		if !errors.Is(err, ErrNotPlain) || buf.Len() != 0 {
			t.Errorf("%s: %v (wrote %d bytes), want a refusal", name, err, buf.Len())
		}
	}
	// a refusal names a long key only briefly
	long := strings.Repeat("k", 10000)
	err := WriteObject(&bytes.Buffer{}, &Dict{Keys: []interface{}{long}, Values: []interface{}{0.5}}, false)
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error of %d bytes", len(err.Error()))
	}
}

// TestWriteIntegerBoundaries writes integers at every encoding boundary
// and reads them back: BININT, LONG1 of 5 to 8 and up to 255 bytes, LONG4
// beyond (or a refusal without LONG4).
func TestWriteIntegerBoundaries(t *testing.T) {
	one := big.NewInt(1)
	pow := func(bits uint) *big.Int { return new(big.Int).Lsh(one, bits) }
	var vals []*big.Int
	for _, bits := range []uint{0, 7, 8, 31, 32, 63, 64, 8*255 - 1, 8 * 255, 8*256 - 1, 8 * 256, 8 * 1000} {
		p := pow(bits)
		for _, v := range []*big.Int{p, new(big.Int).Sub(p, one), new(big.Int).Neg(p), new(big.Int).Neg(new(big.Int).Add(p, one))} {
			vals = append(vals, v)
		}
	}
	vals = append(vals, new(big.Int))
	sd := &Dict{Keys: []interface{}{"w"}, Values: []interface{}{tensor.NewFloat32([]int{1}, []float32{1})}}
	for _, v := range vals {
		n := len(longBytes(v))
		for _, d := range []dialect{weightsOnly, longDialect} {
			var buf bytes.Buffer
			err := writeObject(&buf, &Dict{Keys: []interface{}{"sd", "v"}, Values: []interface{}{sd, v}}, false, d)
			if n > maxLong1 && d == weightsOnly {
				if !errors.Is(err, ErrNotPlain) {
					t.Fatalf("%d-byte integer written without LONG4: %v", n, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%d-byte integer: %v", n, err)
			}
			ck, err := ReadCheckpointBytes(buf.Bytes())
			if err != nil {
				t.Fatalf("%d-byte integer: %v", n, err)
			}
			got, _ := ck.Root.(*Dict).Get("v")
			var g *big.Int
			switch x := got.(type) {
			case int:
				g = big.NewInt(int64(x))
			case *big.Int:
				g = x
			}
			if g == nil || g.Cmp(v) != 0 {
				t.Fatalf("%d-byte integer read back as %T %v", n, got, g)
			}
		}
	}
}

// TestONNXWriteToEqualsMarshal: the streamed file decodes to the same model.
func TestONNXWriteToEqualsMarshal(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := EmitONNX(net, ONNXOptions{Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("wrote %d of %d: %v", n, buf.Len(), err)
	}
	back := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(buf.Bytes(), back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, m.Model) {
		t.Fatal("the streamed model differs from the emitted one")
	}
}

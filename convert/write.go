package convert

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/gnconv/gnconv/tensor"
)

// storageAlignment is where torch 2.x aligns each storage record's data,
// so the file can be memory-mapped.
const storageAlignment = 64

// WriteCheckpoint writes sd as torch.save does in its zip format: a plain
// state dict (collections.OrderedDict) with each tensor in its own dtype
// and exact bytes, one storage record per tensor.
func WriteCheckpoint(w io.Writer, sd *tensor.StateDict) error {
	d := &Dict{}
	for _, n := range sd.Names {
		d.Keys = append(d.Keys, n)
		d.Values = append(d.Values, sd.Tensors[n])
	}
	return WriteObject(w, d, true)
}

// WriteObject writes a checkpoint holding root, made of the plain values
// the reader returns (Dict, Tuple, []interface{}, strings, ints, *big.Int,
// bools, nil, *tensor.Tensor). Dicts are written as OrderedDicts when
// ordered is set (a state dict), as plain dicts otherwise.
//
// The file is one that torch.load(weights_only=True) of Debian's torch
// (1.13) reads: a value that unpickler cannot read back is refused with an
// error wrapping ErrNotPlain, and so is an Opaque value, a float, a bytes
// value, an integer of more than 255 bytes, a string that is not UTF-8, a
// dict key Python cannot hash or two keys Python holds equal. The pickle is
// checked opcode by opcode (checkPickle) before anything is written; on any
// error nothing is written to w.
func WriteObject(w io.Writer, root interface{}, ordered bool) error {
	return writeObject(w, root, ordered, weightsOnly)
}

func writeObject(w io.Writer, root interface{}, ordered bool, d dialect) error {
	p := &pickler{ordered: ordered, dialect: d}
	p.buf.Write([]byte{opProto, 2})
	if err := p.value(root, 0, true); err != nil {
		return err
	}
	p.buf.WriteByte(opStop)
	if p.buf.Len() > maxPickleBytes {
		return fmt.Errorf("%w: the pickle would be %d bytes, more than %d", ErrNotPlain, p.buf.Len(), maxPickleBytes)
	}
	if err := checkPickle(p.buf.Bytes(), d); err != nil {
		// A writer bug, not the caller's value: refuse to write it.
		return fmt.Errorf("%w: the pickle writer's output failed its own check: %w", ErrNotPlain, err)
	}

	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	const dir = "archive/"
	if err := writeRecord(zw, cw, dir+"data.pkl", p.buf.Bytes(), false); err != nil {
		return err
	}
	if err := writeRecord(zw, cw, dir+"byteorder", []byte("little"), false); err != nil {
		return err
	}
	for i, t := range p.storages {
		if err := writeRecord(zw, cw, dir+"data/"+strconv.Itoa(i), t.Raw, true); err != nil {
			return err
		}
	}
	if err := writeRecord(zw, cw, dir+"version", []byte("3\n"), false); err != nil {
		return err
	}
	return zw.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeRecord stores one uncompressed record; aligned records get an
// extra field that pads their data to storageAlignment, as torch does.
func writeRecord(zw *zip.Writer, cw *countWriter, name string, data []byte, aligned bool) error {
	if err := zw.Flush(); err != nil {
		return err
	}
	fh := &zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data))}
	if aligned {
		const localHeader = 30
		dataAt := cw.n + localHeader + int64(len(name)) + 4
		pad := (storageAlignment - dataAt%storageAlignment) % storageAlignment
		extra := make([]byte, 4+pad)
		copy(extra, "FB")
		binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
		fh.Extra = extra
	}
	fw, err := zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	_, err = fw.Write(data)
	return err
}

// Pickle opcodes the writer knows. Each is emitted only because torch's
// weights-only unpickler (torch/_weights_only_unpickler.py in Debian's
// python3-torch 1.13, the strictest reader of gnconv's files) accepts it:
//
//   - PROTO 2: read and ignored; torch.save writes protocol 2.
//   - STOP: returns the one object left on the stack.
//   - MARK, TUPLE, EMPTY_TUPLE: build tuples (tensor arguments, persistent
//     ids, the caller's tuples).
//   - GLOBAL: only names in its allow-list are looked up; the writer names
//     only torch._utils._rebuild_tensor_v2, collections.OrderedDict and
//     torch.<Type>Storage (writerGlobals), all on that list.
//   - REDUCE: calls only allow-listed callables; the writer calls
//     _rebuild_tensor_v2 and OrderedDict.
//   - BINPERSID: only ('storage', ...) ids, which is what tensors use.
//   - EMPTY_LIST + APPENDS: APPENDS extends lists only, and is only emitted
//     on the list just pushed.
//   - EMPTY_DICT + SETITEMS: plain dicts and OrderedDicts.
//   - BININT (4-byte signed), LONG1 (1-byte length): integers. LONG1's
//     length is a single byte, so it holds at most 255 bytes.
//   - BINUNICODE: decoded as UTF-8, so only valid UTF-8 is written.
//   - NONE, NEWTRUE, NEWFALSE.
//
// That unpickler has no LONG4, BINFLOAT or BINBYTES (nor any other opcode):
// an integer of more than 255 bytes, a float or a bytes value cannot be
// read back by it, so WriteObject refuses them. The encodings exist for a
// dialect with those opcodes (longDialect), used by the tests to hold the
// encoder and checkPickle to them.
const (
	opProto      = 0x80
	opStop       = '.'
	opMark       = '('
	opGlobal     = 'c'
	opReduce     = 'R'
	opBinPersID  = 'Q'
	opTuple      = 't'
	opEmptyTuple = ')'
	opEmptyList  = ']'
	opAppends    = 'e'
	opEmptyDict  = '}'
	opSetItems   = 'u'
	opBinInt     = 'J'
	opLong1      = 0x8a
	opBinUnicode = 'X'
	opNone       = 'N'
	opTrue       = 0x88
	opFalse      = 0x89

	// not read by torch 1.13's weights-only unpickler
	opLong4    = 0x8b
	opBinFloat = 'G'
	opBinBytes = 'B'
)

// dialect is what the target unpickler reads beyond the opcodes above.
type dialect struct {
	long4, binFloat, binBytes bool
}

// weightsOnly is torch 1.13's weights-only unpickler: none of the extras.
var weightsOnly = dialect{}

// longDialect has LONG4, BINFLOAT and BINBYTES (Python's own unpickler and
// gnconv's reader read them).
var longDialect = dialect{long4: true, binFloat: true, binBytes: true}

// maxLong1 is the most bytes LONG1 can hold: its length is one byte.
const maxLong1 = 255

// maxLong4 is the most bytes LONG4 can hold: its length is a signed 32-bit
// integer in Python's unpickler.
const maxLong4 = math.MaxInt32

// ErrNotPlain is returned for a value the writer will not write.
var ErrNotPlain = errors.New("not plain data")

// writerGlobals are the only globals the writer emits (and checkPickle
// accepts), with whether each may be called by REDUCE.
var writerGlobals = func() map[string]bool {
	m := map[string]bool{
		"torch._utils\n_rebuild_tensor_v2": true,
		"collections\nOrderedDict":         true,
	}
	for _, d := range writerDTypes {
		m["torch\n"+d.StorageClass()] = false
	}
	return m
}()

// writerDTypes are the tensor dtypes the writer stores.
var writerDTypes = []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Float64,
	tensor.Int64, tensor.Int32, tensor.Int16, tensor.Int8, tensor.Uint8, tensor.Bool}

type pickler struct {
	buf      bytes.Buffer
	storages []*tensor.Tensor
	ordered  bool
	dialect  dialect
}

// room refuses n more bytes when the pickle would outgrow what the reader
// accepts (checked before a long value is copied in).
func (p *pickler) room(n uint64) error {
	if n > maxPickleBytes || uint64(p.buf.Len())+n > maxPickleBytes {
		return fmt.Errorf("%w: the pickle would be more than %d bytes", ErrNotPlain, maxPickleBytes)
	}
	return nil
}

func (p *pickler) global(module, name string) {
	p.buf.WriteByte(opGlobal)
	p.buf.WriteString(module + "\n" + name + "\n")
}

// len4 writes a 4-byte little-endian length, refusing one that does not
// fit (never wrapping it).
func (p *pickler) len4(n int, max uint64) error {
	if n < 0 || uint64(n) > max {
		return fmt.Errorf("%w: a length of %d does not fit a 4-byte pickle length", ErrNotPlain, n)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	p.buf.Write(b[:])
	return nil
}

func (p *pickler) str(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: a string that is not valid UTF-8 (%d bytes)", ErrNotPlain, len(s))
	}
	if err := p.room(uint64(len(s)) + 5); err != nil {
		return err
	}
	p.buf.WriteByte(opBinUnicode)
	if err := p.len4(len(s), math.MaxUint32); err != nil {
		return err
	}
	p.buf.WriteString(s)
	return nil
}

func (p *pickler) bytes(b []byte) error {
	if !p.dialect.binBytes {
		return fmt.Errorf("%w: a bytes value (torch's weights-only unpickler has no BINBYTES opcode)", ErrNotPlain)
	}
	if err := p.room(uint64(len(b)) + 5); err != nil {
		return err
	}
	p.buf.WriteByte(opBinBytes)
	if err := p.len4(len(b), math.MaxUint32); err != nil {
		return err
	}
	p.buf.Write(b)
	return nil
}

func (p *pickler) float(f float64) error {
	if !p.dialect.binFloat {
		return fmt.Errorf("%w: a float (torch's weights-only unpickler has no BINFLOAT opcode)", ErrNotPlain)
	}
	p.buf.WriteByte(opBinFloat)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(f))
	p.buf.Write(b[:])
	return nil
}

// int writes BININT within int32, else LONG1 (at most 8 bytes).
func (p *pickler) int(v int64) {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		p.buf.WriteByte(opBinInt)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(int32(v)))
		p.buf.Write(n[:])
		return
	}
	b := longBytes(big.NewInt(v))
	p.buf.WriteByte(opLong1)
	p.buf.WriteByte(byte(len(b))) // at most 8
	p.buf.Write(b)
}

// longBytes is v in the fewest little-endian two's-complement bytes (at
// least one), as Python's encode_long writes it.
func longBytes(v *big.Int) []byte {
	n := longLen(v)
	b := make([]byte, n)
	if v.Sign() >= 0 {
		v.FillBytes(b)
	} else {
		mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
		mod.Add(mod, v).FillBytes(b)
	}
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// longLen is the number of bytes longBytes gives v: one sign bit more
// than v's magnitude needs (for negative v, the magnitude of -v-1).
func longLen(v *big.Int) int {
	bits := v.BitLen()
	if v.Sign() < 0 {
		bits = new(big.Int).Sub(new(big.Int).Neg(v), big.NewInt(1)).BitLen()
	}
	return bits/8 + 1
}

// bigInt writes an integer: BININT or LONG1 when it fits 8 bytes, LONG1 up
// to 255 bytes, LONG4 beyond when the dialect has it, else a refusal.
func (p *pickler) bigInt(v *big.Int) error {
	if v == nil {
		return fmt.Errorf("%w: a nil *big.Int", ErrNotPlain)
	}
	if v.IsInt64() {
		p.int(v.Int64())
		return nil
	}
	n := longLen(v)
	if n > maxLong1 && !p.dialect.long4 {
		return fmt.Errorf("%w: an integer of %d bytes (torch's weights-only unpickler has LONG1, at most %d bytes, and no LONG4)", ErrNotPlain, n, maxLong1)
	}
	if n > maxLong4 {
		return fmt.Errorf("%w: an integer of %d bytes, more than LONG4 holds", ErrNotPlain, n)
	}
	if err := p.room(uint64(n) + 5); err != nil {
		return err
	}
	b := longBytes(v)
	if len(b) <= maxLong1 {
		p.buf.WriteByte(opLong1)
		p.buf.WriteByte(byte(len(b)))
	} else {
		p.buf.WriteByte(opLong4)
		if err := p.len4(len(b), maxLong4); err != nil {
			return err
		}
	}
	p.buf.Write(b)
	return nil
}

func (p *pickler) intTuple(v []int) {
	p.buf.WriteByte(opMark)
	for _, x := range v {
		p.int(int64(x))
	}
	p.buf.WriteByte(opTuple)
}

// tensorStrides checks that t is a tensor the writer can store whole (a
// known dtype, a sane shape, exactly the bytes its shape needs) and
// returns its row-major strides.
func tensorStrides(t *tensor.Tensor) ([]int, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: a nil tensor", ErrNotPlain)
	}
	if _, ok := writerGlobals["torch\n"+t.DType.StorageClass()]; !ok || t.DType.Size() == 0 {
		return nil, fmt.Errorf("%w: a tensor of unknown dtype %d", ErrNotPlain, int(t.DType))
	}
	if len(t.Shape) > maxTensorDims {
		return nil, fmt.Errorf("%w: a tensor of %d dimensions", ErrNotPlain, len(t.Shape))
	}
	numel := uint64(1)
	for _, s := range t.Shape {
		if s < 0 {
			return nil, fmt.Errorf("%w: a tensor with a negative size", ErrNotPlain)
		}
		if s != 0 && numel > math.MaxInt32*uint64(math.MaxInt32)/uint64(s) {
			return nil, fmt.Errorf("%w: a tensor whose element count overflows", ErrNotPlain)
		}
		numel *= uint64(s)
	}
	if numel*uint64(t.DType.Size()) != uint64(len(t.Raw)) {
		return nil, fmt.Errorf("%w: a %s tensor of %d elements holding %d bytes", ErrNotPlain, t.DType, numel, len(t.Raw))
	}
	stride := make([]int, len(t.Shape))
	s := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		stride[i] = s
		if t.Shape[i] != 0 && s > math.MaxInt64/t.Shape[i] {
			return nil, fmt.Errorf("%w: a tensor whose strides overflow", ErrNotPlain)
		}
		s *= t.Shape[i]
	}
	return stride, nil
}

// tensor writes _rebuild_tensor_v2(storage, 0, size, stride, False,
// OrderedDict()) over a storage of its own.
func (p *pickler) tensor(t *tensor.Tensor) error {
	stride, err := tensorStrides(t)
	if err != nil {
		return err
	}
	key := strconv.Itoa(len(p.storages))
	p.storages = append(p.storages, t)
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.buf.WriteByte(opMark)
	// persistent id: ('storage', torch.<Type>Storage, key, 'cpu', numel)
	p.buf.WriteByte(opMark)
	if err := p.str("storage"); err != nil {
		return err
	}
	p.global("torch", t.DType.StorageClass())
	if err := p.str(key); err != nil {
		return err
	}
	if err := p.str("cpu"); err != nil {
		return err
	}
	p.int(int64(t.Numel()))
	p.buf.WriteByte(opTuple)
	p.buf.WriteByte(opBinPersID)
	p.int(0)
	p.intTuple(t.Shape)
	p.intTuple(stride)
	p.buf.WriteByte(opFalse)
	p.global("collections", "OrderedDict")
	p.buf.WriteByte(opEmptyTuple)
	p.buf.WriteByte(opReduce)
	p.buf.WriteByte(opTuple)
	p.buf.WriteByte(opReduce)
	return nil
}

func (p *pickler) value(v interface{}, depth int, top bool) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: objects nested more than %d deep", ErrNotPlain, maxDepth)
	}
	if err := p.room(0); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		p.buf.WriteByte(opNone)
	case bool:
		if x {
			p.buf.WriteByte(opTrue)
		} else {
			p.buf.WriteByte(opFalse)
		}
	case int:
		p.int(int64(x))
	case *big.Int:
		return p.bigInt(x)
	case float64:
		return p.float(x)
	case string:
		return p.str(x)
	case []byte:
		return p.bytes(x)
	case *tensor.Tensor:
		return p.tensor(x)
	case Tuple:
		p.buf.WriteByte(opMark)
		for i, it := range x {
			if err := p.value(it, depth+1, false); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		p.buf.WriteByte(opTuple)
	case []interface{}:
		p.buf.WriteByte(opEmptyList)
		if len(x) > 0 {
			p.buf.WriteByte(opMark)
			for i, it := range x {
				if err := p.value(it, depth+1, false); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			p.buf.WriteByte(opAppends)
		}
	case *Dict:
		return p.dict(x, depth, top)
	case Opaque:
		return fmt.Errorf("%w: a %s", ErrNotPlain, labelClip(x.Type))
	default:
		return fmt.Errorf("%w: a %T", ErrNotPlain, v)
	}
	return nil
}

func (p *pickler) dict(x *Dict, depth int, top bool) error {
	if x == nil {
		return fmt.Errorf("%w: a nil dict", ErrNotPlain)
	}
	if len(x.Keys) != len(x.Values) {
		return fmt.Errorf("%w: a dict of %d keys and %d values", ErrNotPlain, len(x.Keys), len(x.Values))
	}
	if err := checkKeys(x.Keys); err != nil {
		return err
	}
	if p.ordered && top || isStateDictValue(x) {
		p.global("collections", "OrderedDict")
		p.buf.WriteByte(opEmptyTuple)
		p.buf.WriteByte(opReduce)
	} else {
		p.buf.WriteByte(opEmptyDict)
	}
	if len(x.Keys) > 0 {
		p.buf.WriteByte(opMark)
		for i, k := range x.Keys {
			if err := p.value(k, depth+1, false); err != nil {
				return fmt.Errorf("key %s: %w", keyLabel(k), err)
			}
			if err := p.value(x.Values[i], depth+1, false); err != nil {
				return fmt.Errorf("%s: %w", keyLabel(k), err)
			}
		}
		p.buf.WriteByte(opSetItems)
	}
	return nil
}

// checkKeys refuses dict keys that Python cannot hash (SETITEMS would
// raise) and keys that Python holds equal (1, 1.0 and True: the dict read
// back would lose entries).
func checkKeys(keys []interface{}) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		id, unique, err := pyKey(k, 0)
		if err != nil {
			return err
		}
		if unique {
			continue
		}
		if seen[id] {
			return fmt.Errorf("%w: two dict keys that Python holds equal (%s)", ErrNotPlain, keyLabel(k))
		}
		seen[id] = true
	}
	return nil
}

// pyKey gives a hashable key's identity under Python's equality, as a
// string; unique is set for a key no other key can equal (a tensor, which
// hashes by identity, or a NaN).
func pyKey(k interface{}, depth int) (id string, unique bool, err error) {
	if depth > maxDepth {
		return "", false, fmt.Errorf("%w: a dict key nested more than %d deep", ErrNotPlain, maxDepth)
	}
	switch x := k.(type) {
	case nil:
		return "N", false, nil
	case bool:
		if x {
			return "i1", false, nil
		}
		return "i0", false, nil
	case int:
		return "i" + strconv.Itoa(x), false, nil
	case *big.Int:
		if x == nil {
			return "", false, fmt.Errorf("%w: a nil *big.Int", ErrNotPlain)
		}
		return "i" + x.Text(10), false, nil
	case float64:
		switch {
		case math.IsNaN(x):
			return "", true, nil
		case !math.IsInf(x, 0) && x == math.Trunc(x):
			i, _ := big.NewFloat(x).Int(nil)
			return "i" + i.Text(10), false, nil
		}
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), false, nil
	case string:
		return "s" + x, false, nil
	case []byte:
		return "b" + string(x), false, nil
	case *tensor.Tensor:
		return "", true, nil
	case Tuple:
		var b []byte
		b = append(b, 't')
		for _, it := range x {
			iid, u, err := pyKey(it, depth+1)
			if err != nil {
				return "", false, err
			}
			unique = unique || u
			b = strconv.AppendInt(b, int64(len(iid)), 10)
			b = append(b, ':')
			b = append(b, iid...)
		}
		return string(b), unique, nil
	case []interface{}, *Dict:
		return "", false, fmt.Errorf("%w: a dict key of type %s (unhashable in Python)", ErrNotPlain, pyTypeName(k))
	}
	return "", false, fmt.Errorf("%w: a dict key of type %T", ErrNotPlain, k)
}

// keyLabel names a dict key in an error, briefly.
func keyLabel(k interface{}) string {
	switch x := k.(type) {
	case string:
		return strconv.Quote(labelClip(x))
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "None"
	}
	return "a " + pyTypeName(k) + " key"
}

// labelClip shortens s for an error message.
func labelClip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// pyTypeName is the Python type a plain value is written as.
func pyTypeName(v interface{}) string {
	switch v.(type) {
	case *Dict:
		return "dict"
	case []interface{}:
		return "list"
	case Tuple:
		return "tuple"
	case *tensor.Tensor:
		return "tensor"
	case *big.Int:
		return "int"
	case float64:
		return "float"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}

// isStateDictValue reports whether d is a dict of tensors (written as the
// OrderedDict torch uses for state dicts).
func isStateDictValue(d *Dict) bool {
	_, ok := asStateDict(d)
	return ok
}

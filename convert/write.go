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
// the reader returns (Dict, Tuple, []interface{}, strings, numbers, bools,
// nil, []byte, *tensor.Tensor). Dicts are written as OrderedDicts when
// ordered is set (a state dict), as plain dicts otherwise. An Opaque value
// cannot be written.
func WriteObject(w io.Writer, root interface{}, ordered bool) error {
	p := &pickler{ordered: ordered}
	p.buf.Write([]byte{opProto, 2})
	if err := p.value(root, 0, true); err != nil {
		return err
	}
	p.buf.WriteByte(opStop)

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

// Pickle opcodes (protocol 2) the writer uses; torch's weights-only
// unpickler knows each of them.
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
	opBinFloat   = 'G'
	opBinUnicode = 'X'
	opBinBytes   = 'B'
	opNone       = 'N'
	opTrue       = 0x88
	opFalse      = 0x89
)

// ErrNotPlain is returned for a value the writer will not write.
var ErrNotPlain = errors.New("not plain data")

type pickler struct {
	buf      bytes.Buffer
	storages []*tensor.Tensor
	ordered  bool
}

func (p *pickler) global(module, name string) {
	p.buf.WriteByte(opGlobal)
	p.buf.WriteString(module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	p.buf.WriteByte(opBinUnicode)
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	p.buf.Write(n[:])
	p.buf.WriteString(s)
}

func (p *pickler) int(v int64) {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		p.buf.WriteByte(opBinInt)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(int32(v)))
		p.buf.Write(n[:])
		return
	}
	p.bigInt(big.NewInt(v))
}

// bigInt writes LONG1: little-endian two's complement.
func (p *pickler) bigInt(v *big.Int) {
	var b []byte
	if v.Sign() >= 0 {
		b = v.Bytes()
		if len(b) > 0 && b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
	} else {
		// two's complement of |v| in enough bytes
		n := (v.BitLen() + 8) / 8
		mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
		b = new(big.Int).Add(mod, v).Bytes()
		for len(b) < n {
			b = append([]byte{0}, b...)
		}
	}
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	p.buf.WriteByte(opLong1)
	p.buf.WriteByte(byte(len(b)))
	p.buf.Write(b)
}

func (p *pickler) intTuple(v []int) {
	p.buf.WriteByte(opMark)
	for _, x := range v {
		p.int(int64(x))
	}
	p.buf.WriteByte(opTuple)
}

// tensor writes _rebuild_tensor_v2(storage, 0, size, stride, False,
// OrderedDict()) over a storage of its own.
func (p *pickler) tensor(t *tensor.Tensor) {
	key := strconv.Itoa(len(p.storages))
	p.storages = append(p.storages, t)
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.buf.WriteByte(opMark)
	// persistent id: ('storage', torch.<Type>Storage, key, 'cpu', numel)
	p.buf.WriteByte(opMark)
	p.str("storage")
	p.global("torch", t.DType.StorageClass())
	p.str(key)
	p.str("cpu")
	p.int(int64(t.Numel()))
	p.buf.WriteByte(opTuple)
	p.buf.WriteByte(opBinPersID)
	p.int(0)
	p.intTuple(t.Shape)
	stride := make([]int, len(t.Shape))
	s := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		stride[i] = s
		s *= t.Shape[i]
	}
	p.intTuple(stride)
	p.buf.WriteByte(opFalse)
	p.global("collections", "OrderedDict")
	p.buf.WriteByte(opEmptyTuple)
	p.buf.WriteByte(opReduce)
	p.buf.WriteByte(opTuple)
	p.buf.WriteByte(opReduce)
}

func (p *pickler) value(v interface{}, depth int, top bool) error {
	if depth > maxDepth {
		return fmt.Errorf("objects nested more than %d deep", maxDepth)
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
		p.bigInt(x)
	case float64:
		p.buf.WriteByte(opBinFloat)
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(x))
		p.buf.Write(b[:])
	case string:
		p.str(x)
	case []byte:
		p.buf.WriteByte(opBinBytes)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(x)))
		p.buf.Write(n[:])
		p.buf.Write(x)
	case *tensor.Tensor:
		p.tensor(x)
	case Tuple:
		p.buf.WriteByte(opMark)
		for _, it := range x {
			if err := p.value(it, depth+1, false); err != nil {
				return err
			}
		}
		p.buf.WriteByte(opTuple)
	case []interface{}:
		p.buf.WriteByte(opEmptyList)
		if len(x) > 0 {
			p.buf.WriteByte(opMark)
			for _, it := range x {
				if err := p.value(it, depth+1, false); err != nil {
					return err
				}
			}
			p.buf.WriteByte(opAppends)
		}
	case *Dict:
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
					return err
				}
				if err := p.value(x.Values[i], depth+1, false); err != nil {
					return fmt.Errorf("%v: %w", k, err)
				}
			}
			p.buf.WriteByte(opSetItems)
		}
	case Opaque:
		return fmt.Errorf("%w: a %s", ErrNotPlain, x.Type)
	default:
		return fmt.Errorf("%w: a %T", ErrNotPlain, v)
	}
	return nil
}

// isStateDictValue reports whether d is a dict of tensors (written as the
// OrderedDict torch uses for state dicts).
func isStateDictValue(d *Dict) bool {
	_, ok := asStateDict(d)
	return ok
}

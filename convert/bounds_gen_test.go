package convert

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"
)

// Generators of hostile checkpoints, one per class of attack on the
// reader's time or memory. Each writes its bytes from scratch.

// zipRec is one record of a hand-built zip archive.
type zipRec struct {
	name   string
	data   []byte // as stored in the file (deflated when method is 8)
	method uint16
	crc    uint32
	usize  uint64
	// same, when >= 0: the record's central directory entry points at
	// that earlier record's local header (entries sharing one stream)
	same int
}

func stored(name string, data []byte) zipRec {
	return zipRec{name: name, data: data, crc: crc32.ChecksumIEEE(data), usize: uint64(len(data)), same: -1}
}

// buildZip writes the records, their central directory and its end.
func buildZip(recs []zipRec) []byte {
	var b bytes.Buffer
	le := func(v interface{}) { binary.Write(&b, binary.LittleEndian, v) }
	offsets := make([]uint32, len(recs))
	for i, r := range recs {
		if r.same >= 0 {
			offsets[i] = offsets[r.same]
			continue
		}
		offsets[i] = uint32(b.Len())
		le(uint32(0x04034b50))
		le(uint16(20))
		le(uint16(0))
		le(r.method)
		le(uint32(0)) // time, date
		le(r.crc)
		le(uint32(len(r.data)))
		le(uint32(r.usize))
		le(uint16(len(r.name)))
		le(uint16(0))
		b.WriteString(r.name)
		b.Write(r.data)
	}
	cd := b.Len()
	for i, r := range recs {
		data, crc, usize, method := r.data, r.crc, r.usize, r.method
		if r.same >= 0 {
			s := recs[r.same]
			data, crc, usize, method = s.data, s.crc, s.usize, s.method
		}
		le(uint32(0x02014b50))
		le(uint16(20))
		le(uint16(20))
		le(uint16(0))
		le(method)
		le(uint32(0))
		le(crc)
		le(uint32(len(data)))
		le(uint32(usize))
		le(uint16(len(r.name)))
		le(uint16(0)) // extra
		le(uint16(0)) // comment
		le(uint16(0)) // disk
		le(uint16(0)) // internal attributes
		le(uint32(0)) // external attributes
		le(offsets[i])
		b.WriteString(r.name)
	}
	end := b.Len()
	le(uint32(0x06054b50))
	le(uint16(0))
	le(uint16(0))
	le(uint16(len(recs)))
	le(uint16(len(recs)))
	le(uint32(end - cd))
	le(uint32(cd))
	le(uint16(0))
	return b.Bytes()
}

// zeroDeflate returns a deflate stream of n zero bytes (n a multiple of
// 64 MiB), made by repeating the blocks that deflate one 64 MiB run, and
// the CRC-32 of the n bytes.
func zeroDeflate(n int64) ([]byte, uint32) {
	const chunk = 64 << 20
	zeros := make([]byte, chunk)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(zeros)
	w.Flush()
	blocks := append([]byte(nil), buf.Bytes()...)
	buf.Reset()
	w.Close()
	tail := buf.Bytes()
	var out bytes.Buffer
	crc := uint32(0)
	for i := int64(0); i < n/chunk; i++ {
		out.Write(blocks)
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	out.Write(tail)
	return out.Bytes(), crc
}

// smallStateDictPickle is {"w": a float32 tensor of n elements over
// storage "0"}.
func smallStateDictPickle(n int) []byte {
	g := newPickleGen()
	g.op('}')
	g.str("w")
	g.tensor("0", n)
	g.op('s')
	return g.bytes()
}

// genZipBomb: a storage record deflated from 1 GiB of zeros to about
// 1.3 MiB, its header honest about its size.
func genZipBomb() []byte {
	const n = 1 << 30
	data, crc := zeroDeflate(n)
	return buildZip([]zipRec{
		stored("archive/data.pkl", smallStateDictPickle(n/4)),
		{name: "archive/data/0", data: data, method: 8, crc: crc, usize: n, same: -1},
		stored("archive/version", []byte("3\n")),
	})
}

// genZipOverlap: 24 storage records whose directory entries all point at
// one deflated stream of 256 MiB (6 GiB inflated in all).
func genZipOverlap() []byte {
	const n = 256 << 20
	data, crc := zeroDeflate(n)
	g := newPickleGen()
	g.op('}')
	g.mark()
	for i := 0; i < 24; i++ {
		g.str("w" + strconv.Itoa(i))
		g.tensor("s"+strconv.Itoa(i), n/4)
	}
	g.op('u')
	recs := []zipRec{stored("archive/data.pkl", g.bytes())}
	first := len(recs)
	recs = append(recs, zipRec{name: "archive/data/s0", data: data, method: 8, crc: crc, usize: n, same: -1})
	for i := 1; i < 24; i++ {
		recs = append(recs, zipRec{name: "archive/data/s" + strconv.Itoa(i), same: first})
	}
	return buildZip(recs)
}

// genZipOverlapStored: the same with stored records over one 64 KiB
// stretch of the file: each read would copy it again.
func genZipOverlapStored() []byte {
	const n = 64 << 10
	g := newPickleGen()
	g.op('}')
	g.mark()
	for i := 0; i < 3; i++ {
		g.str("w" + strconv.Itoa(i))
		g.tensor("s"+strconv.Itoa(i), n/4)
	}
	g.op('u')
	recs := []zipRec{stored("archive/data.pkl", g.bytes()), stored("archive/data/s0", make([]byte, n))}
	recs = append(recs, zipRec{name: "archive/data/s1", same: 1}, zipRec{name: "archive/data/s2", same: 1})
	return buildZip(recs)
}

// legacyHead is a legacy file up to its storages: the magic number,
// protocol 1001, sys info, a state dict of one float32 tensor of n
// elements over storage "0", and the storage key list.
func legacyHead(n int64) []byte { return legacyHeadPad(n, 0) }

// legacyHeadPad is legacyHead with a string of pad bytes in the sys info.
func legacyHeadPad(n int64, pad int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'})
	b.Write([]byte{0x80, 2, 'M', 0xe9, 0x03, '.'})
	g := newPickleGen()
	g.op('}')
	g.str("little_endian")
	g.op(0x88, 's')
	if pad > 0 {
		g.str("pad")
		g.str(strings.Repeat("x", pad))
		g.op('s')
	}
	b.Write(g.bytes())
	g = newPickleGen()
	g.op('}')
	g.str("w")
	g.global("torch._utils", "_rebuild_tensor_v2")
	g.mark()
	g.mark()
	g.str("storage")
	g.global("torch", "FloatStorage")
	g.str("0")
	g.str("cpu")
	g.op('L')
	g.b.WriteString(strconv.FormatInt(n, 10) + "L\n")
	g.op('N', 't', 'Q')
	g.int(0)
	g.op('L')
	g.b.WriteString(strconv.FormatInt(n, 10) + "L\n")
	g.op(0x85)
	g.int(1)
	g.op(0x85)
	g.op(0x89)
	g.orderedDict()
	g.op('t', 'R', 's')
	b.Write(g.bytes())
	g = newPickleGen()
	g.op(']')
	g.str("0")
	g.op('a')
	b.Write(g.bytes())
	var numel [8]byte
	binary.LittleEndian.PutUint64(numel[:], uint64(n))
	b.Write(numel[:])
	return b.Bytes()
}

// genLong4 is a state dict beside an integer LONG4 encodes in n bytes.
func genLong4(n int) []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("big")
	g.op(0x8b)
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(n))
	g.b.Write(l[:])
	g.b.Write(bytes.Repeat([]byte{0x5a}, n))
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genTextLong is the same with a text LONG of n digits.
func genTextLong(n int) []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("big")
	g.op('L')
	g.b.WriteString(strings.Repeat("7", n) + "L\n")
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genManyLong1 is a list of n 255-byte LONG1 integers.
func genManyLong1(n int) []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("ints")
	g.op(']')
	g.mark()
	for i := 0; i < n; i++ {
		g.op(0x8a, 255)
		g.b.Write(bytes.Repeat([]byte{0x11}, 255))
	}
	g.op('e', 'u')
	return zipFile(nil, g.bytes(), 2)
}

// genLaughs is a "billion laughs": each of depth levels a container
// holding the level below twice, shared through the memo (2^depth paths
// to the leaf from a few hundred bytes). kind is "list", "tuple" or "dict".
func genLaughs(depth int, kind string) []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("blob")
	g.str("lol")
	prev := g.put()
	for i := 0; i < depth; i++ {
		g.op('0')
		switch kind {
		case "list":
			g.op(']')
			g.mark()
			g.get(prev)
			g.get(prev)
			g.op('e')
		case "tuple":
			g.get(prev)
			g.get(prev)
			g.op(0x86)
		case "dict":
			g.op('}')
			g.mark()
			g.str("a")
			g.get(prev)
			g.str("b")
			g.get(prev)
			g.op('u')
		}
		prev = g.put()
	}
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genManyKeys is a training dict of n keys, each holding the same shared
// dict of n entries that are not tensors, then a state dict under an
// unknown key: the state dict search meets n dicts of n entries.
func genManyKeys(n int) []byte {
	g := newPickleGen()
	g.op('}')
	g.mark()
	g.str("k")
	g.op('}')
	g.mark()
	for i := 0; i < n; i++ {
		g.str("x" + strconv.Itoa(i))
		g.op('N')
	}
	g.op('u')
	shared := g.put()
	for i := 1; i < n; i++ {
		g.str("k" + strconv.Itoa(i))
		g.get(shared)
	}
	g.str("weights")
	g.op('}')
	g.str("w")
	g.tensor("0", 2)
	g.op('s', 'u')
	return zipFile(nil, g.bytes(), 2)
}

// genPrefixes is a state dict of keys that all start with n copies of
// "module.", all naming one tensor (tied weights, as the memo shares
// them).
func genPrefixes(n, keys int) []byte {
	g := newPickleGen()
	g.op('}')
	g.mark()
	p := strings.Repeat("module.", n)
	var shared int
	for i := 0; i < keys; i++ {
		g.str(p + "w" + strconv.Itoa(i))
		if i == 0 {
			g.tensor("0", 2)
			shared = g.put()
		} else {
			g.get(shared)
		}
	}
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genMarks is n MARK opcodes.
func genMarks(n int) []byte {
	g := newPickleGen()
	g.b.Write(bytes.Repeat([]byte{'('}, n))
	return zipFile(nil, g.bytes())
}

// genMarkPairs is n empty tuples built from MARK and TUPLE, popped.
func genMarkPairs(n int) []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("t")
	g.op('N')
	g.b.Write(bytes.Repeat([]byte{'(', 't', '0'}, n))
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genEmptyDicts is n empty dicts appended to a list.
func genEmptyDicts(n int) []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("l")
	g.op(']')
	g.b.Write(bytes.Repeat([]byte{'}', 'a'}, n))
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genUnsetMemo reads memo slot 7, never set.
func genUnsetMemo() []byte {
	g := newPickleGen()
	withStateDict(g)
	g.str("x")
	g.get(7)
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genBadUTF8 has a key that is not UTF-8, as BINUNICODE (op 'X') or
// SHORT_BINUNICODE (0x8c).
func genBadUTF8(op byte, s string) []byte {
	g := newPickleGen()
	withStateDict(g)
	if op == 'X' {
		g.str(s)
	} else {
		g.op(0x8c, byte(len(s)))
		g.b.WriteString(s)
	}
	g.int(1)
	g.op('u')
	return zipFile(nil, g.bytes(), 2)
}

// genDuplicateStateDict holds "state_dict" twice: first a dict of one
// tensor "first", then one of "second", as torch would read it (the last
// write wins).
func genDuplicateStateDict() []byte {
	g := newPickleGen()
	g.op('}')
	g.mark()
	g.str("state_dict")
	g.op('}')
	g.str("first")
	g.tensor("0", 2)
	g.op('s')
	g.str("state_dict")
	g.op('}')
	g.str("second")
	g.tensor("1", 3)
	g.op('s')
	g.op('u')
	return zipFile(nil, g.bytes(), 2, 3)
}

// genBroadcasts is n tensors, each a broadcast view of 16Mi elements over
// one 1-element storage: each would be copied out in full.
func genBroadcasts(n int) []byte {
	g := newPickleGen()
	g.op('}')
	g.mark()
	for i := 0; i < n; i++ {
		g.str("w" + strconv.Itoa(i))
		g.global("torch._utils", "_rebuild_tensor_v2")
		g.mark()
		g.mark()
		g.str("storage")
		g.global("torch", "FloatStorage")
		g.str("0")
		g.str("cpu")
		g.int(1)
		g.op('t', 'Q')
		g.int(0)
		g.int(1 << 24)
		g.op(0x85)
		g.int(0)
		g.op(0x85)
		g.op(0x89)
		g.orderedDict()
		g.op('t', 'R')
	}
	g.op('u')
	return zipFile(nil, g.bytes(), 1)
}

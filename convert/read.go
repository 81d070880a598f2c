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
	"sort"
	"strconv"
	"strings"

	"github.com/gnconv/gnconv/internal/mapfile"
	"github.com/gnconv/gnconv/internal/safeopen"
	"github.com/gnconv/gnconv/tensor"
	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// ErrFormat is wrapped by every error about a file that is not a readable
// PyTorch checkpoint (as opposed to an I/O error).
var ErrFormat = errors.New("not a readable PyTorch checkpoint")

// maxPickleBytes bounds the pickle part of a checkpoint (not its tensor
// data). Real state dicts need kilobytes.
const maxPickleBytes = 64 << 20

// maxBroadcastElements bounds a view with more elements than its storage.
const maxBroadcastElements = 1 << 24

// maxTensorDims bounds a tensor's rank.
const maxTensorDims = 16

// TensorError reports a tensor whose metadata does not fit its storage.
type TensorError struct {
	Tensor string // the key, or a path into the object (model.fc.weight)
	Reason string
}

func (e *TensorError) Error() string { return fmt.Sprintf("tensor %s: %s", e.Tensor, e.Reason) }

// Checkpoint is what a .pth file holds, with its state dict found.
type Checkpoint struct {
	Path      string
	Format    string // "zip" (torch >= 1.6), "legacy" or "safetensors"
	ByteOrder string // "little" or "big" (big-endian data is swapped on read)
	// WrapperKey is the key of the training dict that holds the state dict
	// ("model_state_dict", or "model/state_dict" when nested), empty when
	// the file is the state dict itself; WrapperPath is the same, key by key.
	WrapperKey  string
	WrapperPath []string
	// Prefix is the key prefix removed from every name ("module.").
	Prefix    string
	StateDict *tensor.StateDict
	// Model is the whole model when the file holds a pickled nn.Module
	// (torch.save(model)) at its top level or under a wrapper key, read
	// as inert records (see Module); StateDict is then its state_dict(),
	// unless the file also holds a state dict, which is preferred.
	Model     *Module
	fromModel bool // StateDict is Model's (see Net)
	// Root is the whole top-level object, as plain values (see Dict). A
	// value the pickle shares is shared here too. A safetensors file's is
	// the dict of its tensors.
	Root interface{}
	// Metadata is a safetensors file's "__metadata__" (nil when it has
	// none, and for torch's formats).
	Metadata map[string]string
}

// formatErr wraps ErrFormat with a reason.
func formatErr(format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// ReadCheckpoint reads a PyTorch checkpoint: torch.save's zip format (any
// torch version) or the legacy format, holding a state dict, a whole model
// (torch.save(model)) or a training dict that wraps either. Nothing in the
// file is executed: see findClass for what its globals may do. It is
// ReadCheckpointWith under the default Limits.
func ReadCheckpoint(filename string) (*Checkpoint, error) {
	return ReadCheckpointWith(filename, Limits{})
}

// ReadCheckpointWith is ReadCheckpoint under the given limits (zero fields
// take their defaults). Only a regular file is read: a FIFO, a device or a
// directory is refused before it is opened for reading.
func ReadCheckpointWith(filename string, lim Limits) (*Checkpoint, error) {
	f, err := safeopen.Open(filename)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ck, err := readCheckpoint(f, st.Size(), nil, newReadState(lim, st.Size(), false))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	ck.Path = filename
	return ck, nil
}

// ReadCheckpointBytes reads a checkpoint held in memory. Tensors stored
// uncompressed alias b, which must not change while they are in use.
func ReadCheckpointBytes(b []byte) (*Checkpoint, error) {
	return ReadCheckpointBytesWith(b, Limits{})
}

// ReadCheckpointBytesWith is ReadCheckpointBytes under the given limits.
func ReadCheckpointBytesWith(b []byte, lim Limits) (*Checkpoint, error) {
	return readCheckpoint(bytes.NewReader(b), int64(len(b)), b, newReadState(lim, int64(len(b)), true))
}

// MapCheckpoint is ReadCheckpoint reading through a read-only memory map
// of the file instead of read calls. The file is only read while the map
// is protected: another process truncating the file meanwhile makes the
// read fail with an error naming the file (mapfile.FaultError), not
// crash; and nothing returned aliases the map, which is gone when
// MapCheckpoint returns (tensor data is copied out of it).
func MapCheckpoint(filename string) (*Checkpoint, error) {
	return MapCheckpointWith(filename, Limits{})
}

// MapCheckpointWith is MapCheckpoint under the given limits.
func MapCheckpointWith(filename string, lim Limits) (*Checkpoint, error) {
	m, err := mapfile.Open(filename)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return ReadCheckpointWith(filename, lim) // empty, or mapping unavailable
	}
	defer m.Close()
	if afterMap != nil {
		afterMap(filename)
	}
	var ck *Checkpoint
	err = m.Read(func(b []byte) error {
		var err error
		rs := newReadState(lim, int64(len(b)), false)
		rs.release = m.Release
		ck, err = readCheckpoint(bytes.NewReader(b), int64(len(b)), b, rs)
		return err
	})
	if err != nil {
		var fe *mapfile.FaultError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	ck.Path = filename
	return ck, nil
}

// afterMap, when set (by tests), runs between mapping a file and reading it.
var afterMap func(name string)

// readState is what reading one file may still spend.
type readState struct {
	lim  Limits
	data *dataBudget
	// alias: tensors may alias the bytes the file was given as (they
	// belong to the caller); else what is sliced from them is copied
	alias bool
	// release, when set, drops bytes already copied out of a memory map
	release func([]byte)
}

func newReadState(lim Limits, size int64, alias bool) *readState {
	lim = lim.withDefaults()
	return &readState{lim: lim, data: newDataBudget(lim, size), alias: alias}
}

// own returns b, or a copy of it when the bytes must not be aliased.
func (rs *readState) own(b []byte) []byte {
	if rs.alias {
		return b
	}
	out := append([]byte(nil), b...)
	if rs.release != nil {
		rs.release(b)
	}
	return out
}

// readCheckpoint reads from r; whole, when not nil, is the same bytes in
// memory, which stored records are sliced from instead of read.
func readCheckpoint(r io.ReaderAt, size int64, whole []byte, rs *readState) (ck *Checkpoint, err error) {
	// gopickle can panic on malformed input; no panic may cross our API.
	// (A fault in reading a memory map is the map's to report.)
	defer func() {
		if p := recover(); p != nil {
			if mapfile.IsFault(p) {
				panic(p)
			}
			ck, err = nil, formatErr("malformed pickle (%s)", clipText(fmt.Sprint(p), 200))
		}
	}()
	if size == 0 {
		return nil, formatErr("empty file")
	}
	var head [9]byte
	n, _ := r.ReadAt(head[:], 0)
	var root interface{}
	ck = &Checkpoint{ByteOrder: "little"}
	switch {
	case isSafetensors(head[:n]):
		ck.Format = "safetensors"
		if err := readSafetensors(r, size, whole, ck, rs); err != nil {
			return nil, err
		}
		return ck, nil
	case n >= 4 && string(head[:4]) == "PK\x03\x04":
		ck.Format = "zip"
		root, err = readZip(r, size, whole, ck, rs)
	case n >= 1 && head[0] == 0x80:
		ck.Format = "legacy"
		root, err = readLegacy(r, size, whole, ck, rs)
	default:
		return nil, formatErr("neither torch's zip format nor its legacy pickle format (starts with % x)", head[:min(n, 4)])
	}
	if err != nil {
		return nil, err
	}
	plain, err := toPlainWith(root, rs)
	if err != nil {
		return nil, err
	}
	ck.Root = plain
	if err := findStateDict(ck, rs.lim); err != nil {
		return nil, err
	}
	return ck, nil
}

// unpickle runs gopickle on one pickle with the allow-list and a
// persistent-id hook that records storages without reading them.
func unpickle(b []byte, persistent func(*types.Tuple) (interface{}, error), lim Limits) (interface{}, error) {
	u := pickle.NewUnpickler(bytes.NewReader(b))
	ld := &loader{lim: lim}
	u.FindClass = ld.findClass
	u.PersistentLoad = func(id interface{}) (interface{}, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() == 0 {
			return nil, fmt.Errorf("persistent id is %T, not a tuple", id)
		}
		if persistent == nil {
			return nil, fmt.Errorf("unexpected persistent id")
		}
		return persistent(t)
	}
	// gopickle's own messages can quote decoded values: keep them short.
	v, err := u.Load()
	if err != nil {
		var ug *UnsafeGlobalError
		if errors.As(err, &ug) {
			return nil, ug
		}
		var le *LimitError
		if errors.As(err, &le) {
			return nil, le
		}
		var fe interface{ Unwrap() error }
		if errors.Is(err, ErrFormat) && errors.As(err, &fe) {
			return nil, fmt.Errorf("%w: %s", ErrFormat, clipText(strings.TrimPrefix(err.Error(), ErrFormat.Error()+": "), 300))
		}
		return nil, formatErr("pickle: %s", clipText(err.Error(), 300))
	}
	return v, nil
}

// loadPickle checks one pickle's framing, then unpickles it.
func loadPickle(b []byte, persistent func(*types.Tuple) (interface{}, error), lim Limits) (interface{}, int, error) {
	n, err := scanPickleWith(b, lim)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	v, err := unpickle(b[:n], persistent, lim)
	return v, n, err
}

func readZip(r io.ReaderAt, size int64, whole []byte, ck *Checkpoint, rs *readState) (interface{}, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, formatErr("unreadable zip archive (truncated or damaged): %v", err)
	}
	var prefix string
	// a name given twice: the last record wins, as in torch's reader
	records := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		records[f.Name] = f
		if strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			prefix = strings.TrimSuffix(f.Name, "data.pkl")
		}
	}
	if prefix == "" {
		return nil, formatErr("zip archive without <name>/data.pkl")
	}
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, formatErr("a TorchScript archive (torch.jit.save), not a torch.save checkpoint: save model.state_dict() with torch.save")
	}
	zc := &zipReader{size: size, whole: whole, rs: rs, claimed: map[*zip.File]int64{}}
	if bo, ok := records[prefix+"byteorder"]; ok {
		b, err := zc.read(bo, 16)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little", "big":
			ck.ByteOrder = string(b)
		default:
			return nil, formatErr("byteorder record %q is neither little nor big", b)
		}
	}
	pkl, err := zc.read(records[prefix+"data.pkl"], rs.lim.PickleBytes)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storageRef{}
	root, n, err := loadPickle(pkl, func(id *types.Tuple) (interface{}, error) {
		s, err := parseStorageID(id, 5)
		if err != nil {
			return nil, err
		}
		if prev, ok := storages[s.key]; ok {
			if prev.dtype != s.dtype || prev.numel != s.numel {
				return nil, formatErr("storage %s is declared twice with different types or sizes", clipText(s.key, 100))
			}
			return prev, nil
		}
		storages[s.key] = s
		return s, nil
	}, rs.lim)
	if err != nil {
		return nil, err
	}
	if n != len(pkl) {
		return nil, formatErr("data.pkl has %d bytes after its pickle", len(pkl)-n)
	}
	keys := make([]string, 0, len(storages))
	for k := range storages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// every record's place first: overlapping records are refused before
	// any is inflated
	for _, k := range keys {
		rec, ok := records[prefix+"data/"+k]
		if !ok {
			return nil, formatErr("storage %s: record data/%s is missing", clipText(k, 100), clipText(k, 100))
		}
		if err := zc.claim(rec); err != nil {
			return nil, err
		}
	}
	if err := zc.checkOverlaps(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		s := storages[k]
		rec := records[prefix+"data/"+k]
		es := uint64(s.dtype.Size())
		if uint64(s.numel) > math.MaxInt64/es {
			return nil, formatErr("storage %s: %d elements overflow", clipText(k, 100), s.numel)
		}
		want := uint64(s.numel) * es
		if rec.UncompressedSize64 != want {
			return nil, formatErr("storage %s: record holds %d bytes, the pickle declares %d %s elements (%d bytes)",
				clipText(k, 100), rec.UncompressedSize64, s.numel, s.dtype, want)
		}
		if err := rs.data.take(int64(want), "storage "+clipText(k, 100)); err != nil {
			return nil, err
		}
		s.data, err = zc.read(rec, int64(want))
		if err != nil {
			return nil, err
		}
		if ck.ByteOrder == "big" {
			s.data = swapBytes(s.data, s.dtype.Size())
		}
	}
	return root, nil
}

// zipReader reads the records of one archive, each at most once, none
// whose data overlaps another's.
type zipReader struct {
	size    int64
	whole   []byte
	rs      *readState
	spans   []span
	claimed map[*zip.File]int64 // data offsets
}

type span struct {
	start, end int64
	name       string
}

// claim checks a record's place in the file: its data inside the file,
// overlapping no other record read, with a method the reader inflates.
func (z *zipReader) claim(f *zip.File) error {
	if _, ok := z.claimed[f]; ok {
		return nil
	}
	name := clipText(f.Name, 100)
	off, err := f.DataOffset()
	if err != nil || off < 0 || off > z.size || f.CompressedSize64 > uint64(z.size-off) {
		return formatErr("record %s: its data lies outside the file", name)
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != f.UncompressedSize64 {
			return formatErr("record %s: stored with %d bytes for %d", name, f.CompressedSize64, f.UncompressedSize64)
		}
	case zip.Deflate:
	default:
		return formatErr("record %s: compression method %d", name, f.Method)
	}
	// Two records over the same bytes (a zip whose entries share one
	// compressed stream) would each be inflated in full: refuse them.
	// (a few records are checked at once, the storages all together)
	sp := span{off, off + int64(f.CompressedSize64), name}
	z.spans = append(z.spans, sp)
	if len(z.spans) <= 4 {
		if err := z.checkOverlaps(); err != nil {
			return err
		}
	}
	z.claimed[f] = off
	return nil
}

// checkOverlaps refuses two claimed records whose data overlap.
func (z *zipReader) checkOverlaps() error {
	sorted := append([]span(nil), z.spans...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].start < sorted[j].start })
	for i := 1; i < len(sorted); i++ {
		if p, q := sorted[i-1], sorted[i]; q.start < p.end || q.start == p.start {
			return formatErr("records %s and %s overlap in the file", p.name, q.name)
		}
	}
	return nil
}

// read returns a record's bytes, at most max of them: a slice of whole
// for a stored record when the file is in memory (copied unless the
// caller's bytes may be aliased), else read (and inflated). The sizes in
// the record's headers are checked against the file and the limit before
// anything is allocated, and an inflated record is counted as it is read.
func (z *zipReader) read(f *zip.File, max int64) ([]byte, error) {
	name := clipText(f.Name, 100)
	if f.UncompressedSize64 > uint64(max) {
		return nil, formatErr("record %s is %d bytes, more than %d", name, f.UncompressedSize64, max)
	}
	if err := z.claim(f); err != nil {
		return nil, err
	}
	off := z.claimed[f]
	if z.whole != nil && f.Method == zip.Store {
		b := z.rs.own(z.whole[off : off+int64(f.UncompressedSize64) : off+int64(f.UncompressedSize64)])
		if f.CRC32 != 0 || len(b) > 0 {
			if crc32.ChecksumIEEE(b) != f.CRC32 {
				return nil, formatErr("record %s: checksum mismatch", name)
			}
		}
		return b, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, formatErr("record %s: %v", name, err)
	}
	defer rc.Close()
	want := int64(f.UncompressedSize64)
	var b []byte
	if f.Method == zip.Store {
		b = make([]byte, want) // the bytes are in the file
		if _, err := io.ReadFull(rc, b); err != nil {
			return nil, formatErr("record %s: %v", name, err)
		}
	} else {
		// never trust the header for an allocation: grow as the data comes
		b = make([]byte, 0, min(want, 1<<20))
		for int64(len(b)) < want {
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)]
				if int64(cap(b)) > want {
					b = b[:len(b):want]
				}
			}
			n, err := rc.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, formatErr("record %s: %v", name, err)
			}
		}
		if int64(len(b)) != want {
			return nil, formatErr("record %s: %d bytes inflated, %d declared", name, len(b), want)
		}
	}
	// reading to EOF makes archive/zip check the CRC
	if _, err := rc.Read(make([]byte, 1)); err != io.EOF {
		if err == nil {
			err = errors.New("longer than declared")
		}
		return nil, formatErr("record %s: %v", name, err)
	}
	return b, nil
}

// parseStorageID reads ('storage', <StorageClass>, key, location, numel[, view]).
func parseStorageID(id *types.Tuple, minLen int) (*storageRef, error) {
	if id.Len() < minLen {
		return nil, formatErr("persistent id has %d fields, want %d", id.Len(), minLen)
	}
	if tag, _ := id.Get(0).(string); tag != "storage" {
		return nil, formatErr("persistent id of kind %s, want storage", persistentKind(id.Get(0)))
	}
	cls, ok := id.Get(1).(*storageClass)
	if !ok {
		return nil, formatErr("persistent id names a %s as its storage type", rawKind(id.Get(1)))
	}
	key, ok1 := id.Get(2).(string)
	loc, ok2 := id.Get(3).(string)
	numel, ok3 := id.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, formatErr("persistent id fields have wrong types")
	}
	if key == "" || strings.ContainsAny(key, "/\\") || key == "." || key == ".." {
		return nil, formatErr("storage key %q is not a plain name", key)
	}
	return &storageRef{dtype: cls.dtype, key: key, numel: numel, location: loc}, nil
}

// legacy format: magic number, protocol version, sys info, the object,
// the storage keys, then each storage as <int64 numel><data>.
func readLegacy(r io.ReaderAt, size int64, whole []byte, ck *Checkpoint, rs *readState) (interface{}, error) {
	// The pickles come first, each at most PickleBytes; the storages
	// after them are read one by one, each only once its declared size
	// has been checked against the bytes left in the file and the limits.
	b := whole
	own := rs.own
	// more reads more of the file into b when the file is not in memory,
	// as the pickles need it (at most 2×PickleBytes of them)
	more := func() bool { return false }
	if b == nil {
		own = func(x []byte) []byte { return x } // b is ours
		max := 2*rs.lim.PickleBytes + 1<<16
		var readErr error
		more = func() bool {
			n := int64(len(b))
			if n >= size || n >= max || readErr != nil {
				return false
			}
			grown := min(size, max, 2*n+1<<20)
			nb := make([]byte, grown)
			copy(nb, b)
			if m, err := r.ReadAt(nb[n:], n); int64(m) < grown-n {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				readErr = err
				return false
			}
			b = nb
			return true
		}
		more()
		if readErr != nil {
			return nil, readErr
		}
	}
	pos := 0
	next := func(what string, persistent func(*types.Tuple) (interface{}, error)) (interface{}, error) {
		for {
			end := len(b)
			if int64(end-pos) > rs.lim.PickleBytes {
				end = pos + int(rs.lim.PickleBytes)
			}
			v, n, err := loadPickle(b[pos:end], persistent, rs.lim)
			var te *truncatedError
			if err != nil && errors.As(err, &te) && int64(end-pos) < rs.lim.PickleBytes && more() {
				continue // the pickle goes on past what was read
			}
			if err != nil {
				return nil, fmt.Errorf("legacy %s: %w", what, err)
			}
			pos += n
			return v, nil
		}
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != "1950a86a20f9469cfc6c" {
		return nil, formatErr("a pickle, but not torch.save's (no magic number)")
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != 1001 {
		return nil, formatErr("legacy protocol version %v, want 1001", proto)
	}
	sysInfo, err := next("sys info", nil)
	if err != nil {
		return nil, err
	}
	if entries, ok := rawEntries(sysInfo); ok {
		for _, e := range entries { // the last write wins
			if e.Key == "little_endian" {
				ck.ByteOrder = "little"
				if e.Value == false {
					ck.ByteOrder = "big"
				}
			}
		}
	}
	storages := map[string]*storageRef{}
	roots := map[string]*storageRef{}
	root, err := next("object", func(id *types.Tuple) (interface{}, error) {
		if tag, _ := id.Get(0).(string); tag == "module" {
			// ('module', cls, source file, source): the class of a pickled
			// nn.Module, with its source code, which is ignored
			if id.Len() < 2 {
				return nil, formatErr("module persistent id without a class")
			}
			cls, ok := id.Get(1).(*pyGlobal)
			if !ok {
				return nil, formatErr("module persistent id names a %s, not a class", rawKind(id.Get(1)))
			}
			return cls, nil
		}
		s, err := parseStorageID(id, 6)
		if err != nil {
			return nil, err
		}
		rootRef, ok := roots[s.key]
		if !ok {
			roots[s.key] = s
			rootRef = s
		} else if rootRef.dtype != s.dtype || rootRef.numel != s.numel {
			return nil, formatErr("storage %s is declared twice with different types or sizes", clipText(s.key, 100))
		}
		view := id.Get(5)
		if view == nil {
			return rootRef, nil
		}
		vt, ok := view.(*types.Tuple)
		if !ok || vt.Len() != 3 {
			return nil, formatErr("storage %s: malformed view metadata", clipText(s.key, 100))
		}
		vkey, ok1 := vt.Get(0).(string)
		voff, ok2 := vt.Get(1).(int)
		vsize, ok3 := vt.Get(2).(int)
		if !ok1 || !ok2 || !ok3 || voff < 0 || vsize < 0 || voff > s.numel || vsize > s.numel-voff {
			return nil, formatErr("a storage view overruns storage %s of %d elements", clipText(s.key, 100), s.numel)
		}
		if v, ok := storages[vkey]; ok {
			return v, nil
		}
		v := &storageRef{dtype: s.dtype, key: s.key, numel: vsize, isView: true, viewOffset: voff, viewSize: vsize}
		storages[vkey] = v
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	keyList, ok := keysObj.(*types.List)
	if !ok {
		return nil, formatErr("legacy storage key list is a %s", rawKind(keysObj))
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if ck.ByteOrder == "big" {
		order = binary.BigEndian
	}
	// at returns n bytes of the file at off
	at := func(off, n int64) ([]byte, error) {
		if off+n <= int64(len(b)) {
			return own(b[off : off+n : off+n]), nil
		}
		out := make([]byte, n)
		if m, err := r.ReadAt(out, off); int64(m) < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return out, nil
	}
	off := int64(pos)
	for _, kv := range *keyList {
		k, ok := kv.(string)
		if !ok {
			return nil, formatErr("legacy storage key is a %s", rawKind(kv))
		}
		name := clipText(k, 100)
		s, ok := roots[k]
		if !ok {
			return nil, formatErr("legacy storage %s is listed but never used", name)
		}
		if s.data != nil {
			return nil, formatErr("legacy storage %s is listed twice", name)
		}
		if size-off < 8 {
			return nil, formatErr("legacy storage %s: truncated", name)
		}
		hdr, err := at(off, 8)
		if err != nil {
			return nil, err
		}
		numel := order.Uint64(hdr)
		off += 8
		if numel != uint64(s.numel) {
			return nil, formatErr("legacy storage %s: %d elements in the data, %d in the pickle", name, numel, s.numel)
		}
		es := uint64(s.dtype.Size())
		if numel > uint64(size)/es {
			return nil, formatErr("legacy storage %s: truncated (%d elements declared, %d bytes remain)", name, numel, size-off)
		}
		nb := int64(numel * es)
		if nb > size-off {
			return nil, formatErr("legacy storage %s: truncated (%d bytes declared, %d remain)", name, nb, size-off)
		}
		if err := rs.data.take(nb, "legacy storage "+name); err != nil {
			return nil, err
		}
		if s.data, err = at(off, nb); err != nil {
			return nil, err
		}
		off += nb
		if ck.ByteOrder == "big" {
			s.data = swapBytes(s.data, s.dtype.Size())
		}
	}
	for k, s := range roots {
		if s.data == nil && s.numel > 0 {
			return nil, formatErr("legacy storage %s has no data", k)
		}
		if s.data == nil {
			s.data = []byte{}
		}
	}
	for _, v := range storages {
		es := v.dtype.Size()
		v.data = roots[v.key].data[v.viewOffset*es : (v.viewOffset+v.viewSize)*es]
	}
	return root, nil
}

// swapBytes returns a copy of b with each size-byte element reversed (the
// input may be a read-only mapping).
func swapBytes(b []byte, size int) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	if size == 1 {
		return out
	}
	for i := 0; i+size <= len(out); i += size {
		for l, h := i, i+size-1; l < h; l, h = l+1, h-1 {
			out[l], out[h] = out[h], out[l]
		}
	}
	return out
}

// materialise turns a strided view into a dense tensor, checking that the
// view lies inside its storage. A dense view aliases the storage bytes.
func materialise(name string, t *tensorRef, rs *readState) (*tensor.Tensor, error) {
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: %w", ErrFormat, &TensorError{name, fmt.Sprintf(format, args...)})
	}
	if len(t.size) > maxTensorDims {
		return nil, bad("%d dimensions", len(t.size))
	}
	dt := t.dtype
	data := t.storage.data
	if dt != t.storage.dtype {
		// _rebuild_tensor_v3 over an untyped (byte) storage
		if t.storage.dtype != tensor.Uint8 || dt.Size() == 0 {
			return nil, bad("dtype %s over a %s storage", dt, t.storage.dtype)
		}
	}
	es := dt.Size()
	storageNumel := len(data) / es
	if t.offset < 0 {
		return nil, bad("negative storage offset %d", t.offset)
	}
	numel := 1
	maxIndex := t.offset
	for i, s := range t.size {
		if s < 0 {
			return nil, bad("negative size %d in shape %s", s, tensor.ShapeString(t.size))
		}
		if s != 0 && numel > (1<<62)/s {
			return nil, bad("element count of shape %s overflows", tensor.ShapeString(t.size))
		}
		numel *= s
		if t.stride[i] < 0 {
			return nil, bad("negative stride %d", t.stride[i])
		}
	}
	shape := append([]int(nil), t.size...)
	if numel == 0 {
		return &tensor.Tensor{DType: dt, Shape: shape, Raw: []byte{}}, nil
	}
	for i, s := range t.size {
		if t.stride[i] > 0 && s-1 > (1<<62-maxIndex)/t.stride[i] {
			return nil, bad("strides overflow")
		}
		maxIndex += (s - 1) * t.stride[i]
	}
	if maxIndex >= storageNumel {
		return nil, bad("shape %s with stride %s at offset %d reaches element %d of a storage of %d",
			tensor.ShapeString(t.size), tensor.ShapeString(t.stride), t.offset, maxIndex, storageNumel)
	}
	// Overlapping strides (an expanded tensor) can describe far more
	// elements than the storage holds; bound what materialising may cost.
	if numel > storageNumel && numel > rs.lim.BroadcastElements {
		return nil, fmt.Errorf("tensor %s: %w", name, limitErr("BroadcastElements", int64(rs.lim.BroadcastElements),
			"a broadcast view of %d elements over a storage of %d, more than %d", numel, storageNumel, rs.lim.BroadcastElements))
	}
	contiguous := true
	expect := 1
	for i := len(t.size) - 1; i >= 0; i-- {
		if t.size[i] != 1 && t.stride[i] != expect {
			contiguous = false
			break
		}
		expect *= t.size[i]
	}
	if contiguous {
		return &tensor.Tensor{DType: dt, Shape: shape, Raw: data[t.offset*es : (t.offset+numel)*es : (t.offset+numel)*es]}, nil
	}
	if err := rs.data.take(int64(numel)*int64(es), "a strided view copied"); err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	raw := make([]byte, numel*es)
	idx := make([]int, len(t.size))
	src := t.offset
	for i := 0; i < numel; i++ {
		copy(raw[i*es:(i+1)*es], data[src*es:(src+1)*es])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			src += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			src -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Raw: raw}, nil
}

// persistentKind describes the tag of a persistent id for a message.
func persistentKind(v interface{}) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(clipText(s, 40))
	}
	return "a " + rawKind(v)
}

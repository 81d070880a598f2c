package convert

import (
	"fmt"

	"github.com/gnconv/gnconv/tensor"
	"github.com/nlpodyssey/gopickle/types"
)

// UnsafeGlobalError reports a pickle global that the file asks to call
// (REDUCE, or the old INST / OBJ opcodes) and that is outside the
// allow-list. The global is never looked up or called: a checkpoint is
// untrusted input, and calling an arbitrary global is how a pickle runs
// code. (A class the file only instantiates with NEWOBJ is not called: it
// becomes an inert *Object record.)
type UnsafeGlobalError struct {
	Module, Name string
}

func (e *UnsafeGlobalError) Error() string {
	return fmt.Sprintf("refused pickle global %s.%s: the file asks to call it, and only tensor-rebuilding and inert container globals are called",
		clipText(e.Module, 100), clipText(e.Name, 100))
}

// storageClass stands for torch.FloatStorage and its kin in a persistent id.
type storageClass struct{ dtype tensor.DType }

// dtypeValue stands for torch.float32 and its kin (the dtype argument of
// _rebuild_tensor_v3).
type dtypeValue struct{ dtype tensor.DType }

// storageRef is what a persistent id resolves to: a storage not yet read.
type storageRef struct {
	dtype    tensor.DType
	key      string
	numel    int
	location string
	// a legacy view of a larger storage: offset and size in elements
	viewOffset, viewSize int
	isView               bool

	data []byte // filled after the pickle is read
}

// tensorRef is what _rebuild_tensor_v2 / _v3 return: a strided view on a
// storage, materialised once every storage is read.
type tensorRef struct {
	storage *storageRef
	offset  int
	size    []int
	stride  []int
	dtype   tensor.DType
}

// callFunc adapts a Go function to gopickle's Callable.
type callFunc func(args ...interface{}) (interface{}, error)

func (f callFunc) Call(args ...interface{}) (interface{}, error) { return f(args...) }

// loader holds the budgets of one pickle while gopickle runs it, beyond
// those scanPickleWith checks: the records and sets built (Limits.Objects)
// and the entries copied when BUILD runs more than once on the same object
// (real files never do; Limits.Objects too).
type loader struct {
	lim     Limits
	records int
	merged  int
}

func (ld *loader) count() error {
	ld.records++
	if ld.records > ld.lim.Objects {
		return limitErr("Objects", int64(ld.lim.Objects), "more than %d objects in one pickle", ld.lim.Objects)
	}
	return nil
}

// pyGlobal stands for a global the pickle names (GLOBAL, STACK_GLOBAL,
// or a legacy file's module class). Naming it does nothing. NEWOBJ on it
// builds an inert record (cls.__new__ is not run); calling it (REDUCE,
// INST, OBJ) runs call, the Go stand-in of an allow-listed function, or is
// refused with an UnsafeGlobalError when call is nil.
type pyGlobal struct {
	module, name string
	ld           *loader
	call         func(args ...interface{}) (interface{}, error)
}

func (g *pyGlobal) qualname() string { return g.module + "." + g.name }

// Call is REDUCE.
func (g *pyGlobal) Call(args ...interface{}) (interface{}, error) {
	if g.call == nil {
		return nil, &UnsafeGlobalError{g.module, g.name}
	}
	return g.call(args...)
}

// PyNew is NEWOBJ / NEWOBJ_EX (whose keyword dict comes last in args).
func (g *pyGlobal) PyNew(args ...interface{}) (interface{}, error) {
	return g.ld.record(g.qualname(), args)
}

// pyObject is the record of an instance: its class's name, the arguments
// it was made with and the state BUILD gave it. Nothing of the class runs.
type pyObject struct {
	class string
	args  []interface{}
	state interface{}
	built bool
	ld    *loader
	// after a second BUILD: the merged state, and its keys' places
	owned *types.Dict
	index map[interface{}]int
}

func (ld *loader) record(class string, args []interface{}) (*pyObject, error) {
	if err := ld.count(); err != nil {
		return nil, err
	}
	return &pyObject{class: class, args: append([]interface{}(nil), args...), ld: ld}, nil
}

// PySetState is BUILD. It only stores the state: __setstate__ is never
// called. A second BUILD merges dict state into the first (later keys win,
// as __dict__.update does); any other state replaces the previous one.
func (o *pyObject) PySetState(state interface{}) error {
	// (dict, slots) as object.__reduce_ex__ gives for classes with __slots__:
	// both end up as attributes.
	if t, ok := state.(*types.Tuple); ok && t.Len() == 2 {
		_, d0 := rawEntries(t.Get(0))
		_, d1 := rawEntries(t.Get(1))
		if (d0 || t.Get(0) == nil) && d1 {
			merged := types.NewDict()
			for _, part := range []interface{}{t.Get(0), t.Get(1)} {
				es, _ := rawEntries(part)
				if err := o.mergeWork(len(es)); err != nil {
					return err
				}
				for _, e := range es {
					merged.Set(e.Key, e.Value)
				}
			}
			state = merged
		}
	}
	if !o.built {
		o.state, o.built = state, true
		return nil
	}
	add, newDict := rawEntries(state)
	if _, oldDict := rawEntries(o.state); !oldDict || !newDict {
		o.state, o.owned, o.index = state, nil, nil
		return nil
	}
	if o.owned == nil {
		// the first merge copies the first state (which the pickle may
		// share with other objects) into a dict of the record's own
		old, _ := rawEntries(o.state)
		if err := o.mergeWork(len(old)); err != nil {
			return err
		}
		d := make(types.Dict, 0, len(old)+len(add))
		o.owned, o.index = &d, map[interface{}]int{}
		o.set(old)
	}
	if err := o.mergeWork(len(add)); err != nil {
		return err
	}
	o.set(add)
	o.state = o.owned
	return nil
}

// set updates the record's own state dict: a key already there keeps its
// place and takes the new value.
func (o *pyObject) set(entries []types.DictEntry) {
	for _, e := range entries {
		if id, ok := keyID(e.Key); ok {
			if i, seen := o.index[id]; seen {
				(*o.owned)[i].Value = e.Value
				continue
			}
			o.index[id] = len(*o.owned)
		}
		*o.owned = append(*o.owned, e)
	}
}

// mergeWork charges n copied entries to the pickle's budget.
func (o *pyObject) mergeWork(n int) error {
	o.ld.merged += n
	if o.ld.merged > o.ld.lim.Objects {
		return limitErr("Objects", int64(o.ld.lim.Objects), "objects' state rebuilt more than %d entries' worth (repeated BUILD)", o.ld.lim.Objects)
	}
	return nil
}

// rawEntries returns the entries of an unpickled dict or OrderedDict.
func rawEntries(v interface{}) ([]types.DictEntry, bool) {
	switch d := v.(type) {
	case *types.Dict:
		return *d, true
	case *types.OrderedDict:
		out := make([]types.DictEntry, 0, d.Len())
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			out = append(out, types.DictEntry{Key: entry.Key, Value: entry.Value})
		}
		return out, true
	}
	return nil, false
}

// pySet is a set or frozenset built by calling builtins.set / frozenset
// (how protocol 2 pickles them), its items in pickle order.
type pySet struct{ items []interface{} }

// rawItems returns the items of an unpickled list, tuple or set.
func rawItems(v interface{}) ([]interface{}, bool) {
	switch x := v.(type) {
	case *types.List:
		return *x, true
	case *types.Tuple:
		return *x, true
	case *pySet:
		return x.items, true
	case *types.Set:
		out := make([]interface{}, 0, len(*x))
		for k := range *x {
			out = append(out, k)
		}
		return out, true
	case *types.FrozenSet:
		out := make([]interface{}, 0, len(*x))
		for k := range *x {
			out = append(out, k)
		}
		return out, true
	}
	return nil, false
}

// The allow-list. gopickle itself answers collections.OrderedDict,
// builtins.list and builtins.dict (empty containers),
// __builtin__.object and copy_reg._reconstructor (both only build
// records through PyNew) and array._array_reconstructor (decodes bytes);
// every other global comes here.
//
// What each global may do, by name:
//   - torch storage classes and dtypes: inert values for persistent ids
//     and _rebuild_tensor_v3;
//   - tensor rebuilders (torch._utils._rebuild_tensor_v2, _v3,
//     _rebuild_parameter, _rebuild_parameter_with_state,
//     torch._tensor._rebuild_from_type_v2 for plain tensors and
//     parameters): a strided view on a storage, nothing else;
//   - torch.device, torch.Size: a string, a tuple;
//   - _codecs.encode (how protocol 2 pickles bytes): latin-1 bytes;
//   - builtins.set / frozenset (nn.Module's _non_persistent_buffers_set):
//     a list of items;
//   - copyreg.__newobj__, __newobj_ex__, _reconstructor (what NEWOBJ
//     spells in protocols 0 and 1): a record of the class they name;
//   - numpy's scalar, dtype and ndarray reconstructors (training scripts
//     save numpy.float64 accuracies and numpy random states): records of
//     their arguments, never decoded by numpy;
//   - anything else: named freely, instantiated only as a record (NEWOBJ),
//     refused when called.
func (ld *loader) findClass(module, name string) (interface{}, error) {
	g := &pyGlobal{module: module, name: name, ld: ld}
	switch module {
	case "torch":
		if d, ok := tensor.DTypeOfStorage(name); ok {
			return &storageClass{d}, nil
		}
		if name == "UntypedStorage" {
			return &storageClass{tensor.Uint8}, nil
		}
		if d, ok := tensor.DTypeOfName(name); ok {
			return &dtypeValue{d}, nil
		}
		switch name {
		case "device":
			return callFunc(torchDevice), nil
		case "Size":
			g.call = torchSize
		}
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2":
			return callFunc(rebuildTensorV2), nil
		case "_rebuild_tensor_v3":
			return callFunc(rebuildTensorV3), nil
		case "_rebuild_parameter", "_rebuild_parameter_with_state":
			return callFunc(rebuildParameter), nil
		}
	case "torch._tensor":
		if name == "_rebuild_from_type_v2" {
			return callFunc(rebuildFromTypeV2), nil
		}
	case "_codecs":
		if name == "encode" { // how protocol 2 pickles Python 3 bytes
			return callFunc(codecsEncode), nil
		}
	case "builtins", "__builtin__":
		switch name {
		case "set", "frozenset":
			g.call = ld.newSet
		}
	case "copyreg", "copy_reg":
		switch name {
		case "__newobj__":
			g.call = ld.newObj
		case "__newobj_ex__":
			g.call = ld.newObjEx
		case "_reconstructor":
			g.call = ld.reconstructor
		}
	case "numpy", "numpy.core.multiarray", "numpy._core.multiarray":
		switch {
		case module == "numpy" && name == "dtype",
			module != "numpy" && (name == "scalar" || name == "_reconstruct"):
			g.call = func(args ...interface{}) (interface{}, error) { return ld.record(g.qualname(), args) }
		}
	}
	return g, nil
}

func (ld *loader) newSet(args ...interface{}) (interface{}, error) {
	if err := ld.count(); err != nil {
		return nil, err
	}
	switch len(args) {
	case 0:
		return &pySet{}, nil
	case 1:
		items, ok := rawItems(args[0])
		if !ok {
			return nil, fmt.Errorf("set() of a %s", rawKind(args[0]))
		}
		return &pySet{items: append([]interface{}(nil), items...)}, nil
	}
	return nil, fmt.Errorf("set() with %d arguments", len(args))
}

// newObj is copyreg.__newobj__(cls, *args): cls.__new__(cls, *args), here
// a record.
func (ld *loader) newObj(args ...interface{}) (interface{}, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("copyreg.__newobj__ without a class")
	}
	cls, ok := args[0].(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("copyreg.__newobj__ of a %s, not a class", rawKind(args[0]))
	}
	return ld.record(cls.qualname(), args[1:])
}

// newObjEx is copyreg.__newobj_ex__(cls, args, kwargs).
func (ld *loader) newObjEx(args ...interface{}) (interface{}, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("copyreg.__newobj_ex__ with %d arguments, want 3", len(args))
	}
	cls, ok := args[0].(*pyGlobal)
	pos, ok2 := args[1].(*types.Tuple)
	if !ok || !ok2 {
		return nil, fmt.Errorf("copyreg.__newobj_ex__ of a %s with %s arguments", rawKind(args[0]), rawKind(args[1]))
	}
	return ld.record(cls.qualname(), append(append([]interface{}(nil), *pos...), args[2]))
}

// reconstructor is copyreg._reconstructor(cls, base, state): a record of
// cls (base.__init__ is not run; a state other than None is kept as its
// argument).
func (ld *loader) reconstructor(args ...interface{}) (interface{}, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("copyreg._reconstructor with %d arguments, want 3", len(args))
	}
	cls, ok := args[0].(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("copyreg._reconstructor of a %s, not a class", rawKind(args[0]))
	}
	if args[2] == nil {
		return ld.record(cls.qualname(), nil)
	}
	return ld.record(cls.qualname(), args[2:])
}

// torchDevice is torch.device("cpu"), ("cuda", 0) or ("cuda:0").
func torchDevice(args ...interface{}) (interface{}, error) {
	if len(args) >= 1 && len(args) <= 2 {
		if s, ok := args[0].(string); ok && len(s) <= 64 {
			if len(args) == 1 || args[1] == nil {
				return s, nil
			}
			if i, ok := args[1].(int); ok {
				return fmt.Sprintf("%s:%d", s, i), nil
			}
		}
	}
	return nil, fmt.Errorf("torch.device with unsupported arguments")
}

// torchSize is torch.Size(tuple): the tuple.
func torchSize(args ...interface{}) (interface{}, error) {
	if len(args) == 1 {
		if items, ok := rawItems(args[0]); ok {
			return types.NewTupleFromSlice(append([]interface{}(nil), items...)), nil
		}
	}
	return nil, fmt.Errorf("torch.Size with unsupported arguments")
}

// rebuildFromTypeV2 is torch._tensor._rebuild_from_type_v2(func, type,
// args, state) for a plain tensor or parameter: func(*args). Tensor
// subclasses and their state are not supported.
func rebuildFromTypeV2(args ...interface{}) (interface{}, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("_rebuild_from_type_v2: %d arguments, want 4", len(args))
	}
	fn, ok := args[0].(callFunc)
	cls, ok2 := args[1].(*pyGlobal)
	fargs, ok3 := args[2].(*types.Tuple)
	if !ok || !ok2 || !ok3 {
		return nil, fmt.Errorf("_rebuild_from_type_v2: unsupported arguments")
	}
	switch cls.qualname() {
	case "torch.Tensor", "torch.nn.parameter.Parameter":
	default:
		return nil, fmt.Errorf("_rebuild_from_type_v2: tensor subclass %s is not supported", clipText(cls.qualname(), 100))
	}
	v, err := fn(*fargs...)
	if err != nil {
		return nil, err
	}
	if _, isTensor := v.(*tensorRef); !isTensor {
		return nil, fmt.Errorf("_rebuild_from_type_v2: not a tensor rebuild")
	}
	return v, nil
}

func rebuildTensorV2(args ...interface{}) (interface{}, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %d arguments, want 6 or 7", len(args))
	}
	return newTensorRef(args[0], args[1], args[2], args[3], 0)
}

func rebuildTensorV3(args ...interface{}) (interface{}, error) {
	if len(args) != 7 && len(args) != 8 {
		return nil, fmt.Errorf("_rebuild_tensor_v3: %d arguments, want 7 or 8", len(args))
	}
	dt, ok := args[6].(*dtypeValue)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v3: dtype argument is %T", args[6])
	}
	return newTensorRef(args[0], args[1], args[2], args[3], dt.dtype)
}

func rebuildParameter(args ...interface{}) (interface{}, error) {
	if len(args) < 3 || len(args) > 4 {
		return nil, fmt.Errorf("_rebuild_parameter: %d arguments, want 3 or 4", len(args))
	}
	t, ok := args[0].(*tensorRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_parameter: data is %T, not a tensor", args[0])
	}
	return t, nil
}

func codecsEncode(args ...interface{}) (interface{}, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("_codecs.encode: %d arguments", len(args))
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
		return nil, fmt.Errorf("_codecs.encode: unsupported arguments")
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, fmt.Errorf("_codecs.encode: character outside latin-1")
		}
		b = append(b, byte(r))
	}
	return b, nil
}

func newTensorRef(storage, offset, size, stride interface{}, dtype tensor.DType) (*tensorRef, error) {
	s, ok := storage.(*storageRef)
	if !ok {
		return nil, fmt.Errorf("tensor storage is %T, not a storage", storage)
	}
	off, ok := offset.(int)
	if !ok {
		return nil, fmt.Errorf("tensor storage offset is %T, not an int", offset)
	}
	sz, err := intTuple(size)
	if err != nil {
		return nil, fmt.Errorf("tensor size: %w", err)
	}
	st, err := intTuple(stride)
	if err != nil {
		return nil, fmt.Errorf("tensor stride: %w", err)
	}
	if len(sz) != len(st) {
		return nil, fmt.Errorf("tensor has %d sizes but %d strides", len(sz), len(st))
	}
	if dtype == 0 {
		dtype = s.dtype
	}
	return &tensorRef{storage: s, offset: off, size: sz, stride: st, dtype: dtype}, nil
}

func intTuple(v interface{}) ([]int, error) {
	var items []interface{}
	switch t := v.(type) {
	case *types.Tuple:
		items = *t
	case *types.List:
		items = *t
	default:
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int, len(items))
	for i, it := range items {
		n, ok := it.(int)
		if !ok {
			return nil, fmt.Errorf("element %d is %T, not an int", i, it)
		}
		out[i] = n
	}
	return out, nil
}

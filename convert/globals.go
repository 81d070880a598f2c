package convert

import (
	"fmt"
	"strings"

	"github.com/gnconv/gnconv/tensor"
	"github.com/nlpodyssey/gopickle/types"
)

// UnsafeGlobalError reports a pickle global outside the allow-list. The
// global is never looked up or called: a checkpoint is untrusted input, and
// constructing an arbitrary global is how a pickle runs code.
type UnsafeGlobalError struct {
	Module, Name string
}

func (e *UnsafeGlobalError) Error() string {
	hint := ""
	switch {
	case strings.HasPrefix(e.Module, "torch.nn") || strings.HasPrefix(e.Module, "torchvision") || strings.HasPrefix(e.Module, "__main__"):
		hint = " (the file holds a pickled Python object, not a state dict: save model.state_dict() instead)"
	}
	return fmt.Sprintf("refused pickle global %s.%s: only tensor-rebuilding globals are allowed%s", e.Module, e.Name, hint)
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

// findClass is the allow-list: every global a state-dict checkpoint of any
// torch version needs, each replaced by an inert Go value.
func findClass(module, name string) (interface{}, error) {
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
		if name == "device" {
			return callFunc(func(args ...interface{}) (interface{}, error) {
				return fmt.Sprint(args...), nil
			}), nil
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
	case "_codecs":
		if name == "encode" { // how protocol 2 pickles Python 3 bytes
			return callFunc(codecsEncode), nil
		}
	}
	return nil, &UnsafeGlobalError{module, name}
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

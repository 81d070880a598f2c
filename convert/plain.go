package convert

import (
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/gnconv/gnconv/tensor"
	"github.com/nlpodyssey/gopickle/types"
)

// maxDepth bounds how deeply a checkpoint's objects may nest (a pickle can
// also build cycles, which this bound turns into an error).
const maxDepth = 64

// Dict is a Python dict or OrderedDict, in insertion order.
type Dict struct {
	Keys   []interface{}
	Values []interface{}
}

// Get returns the value of a string key.
func (d *Dict) Get(key string) (interface{}, bool) {
	for i, k := range d.Keys {
		if k == key {
			return d.Values[i], true
		}
	}
	return nil, false
}

// Tuple is a Python tuple; a list is a []interface{}.
type Tuple []interface{}

// Opaque stands for a Python value gnconv keeps no content of (a set, an
// array): it can be reported but not written back.
type Opaque struct{ Type string }

// toPlain converts unpickled values to Dict, Tuple, []interface{}, string,
// int, *big.Int, float64, bool, nil, []byte, *tensor.Tensor or Opaque, turning
// each tensor view into a dense tensor.
func toPlain(v interface{}, depth int) (interface{}, error) {
	c := &plainer{tensors: map[*tensorRef]*tensor.Tensor{}}
	return c.plain(v, "", depth)
}

type plainer struct {
	tensors map[*tensorRef]*tensor.Tensor
}

func (c *plainer) plain(v interface{}, at string, depth int) (interface{}, error) {
	if depth > maxDepth {
		return nil, formatErr("objects nested more than %d deep at %s (or a cycle)", maxDepth, at)
	}
	switch x := v.(type) {
	case nil, string, int, float64, bool, *big.Int, []byte:
		return x, nil
	case *tensorRef:
		if t, ok := c.tensors[x]; ok {
			return t, nil
		}
		t, err := materialise(at, x)
		if err != nil {
			return nil, err
		}
		c.tensors[x] = t
		return t, nil
	case *types.OrderedDict:
		d := &Dict{}
		for e := x.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			if err := c.add(d, entry.Key, entry.Value, at, depth); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *types.Dict:
		d := &Dict{}
		for _, entry := range *x {
			if err := c.add(d, entry.Key, entry.Value, at, depth); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *types.List:
		return c.list(*x, at, depth)
	case *types.Tuple:
		l, err := c.list(*x, at, depth)
		if err != nil {
			return nil, err
		}
		return Tuple(l), nil
	case *storageRef:
		return nil, formatErr("a bare storage at %s (not inside a tensor)", at)
	case *storageClass, *dtypeValue, callFunc:
		return Opaque{Type: "torch global"}, nil
	}
	return Opaque{Type: fmt.Sprintf("%T", v)}, nil
}

func (c *plainer) add(d *Dict, k, v interface{}, at string, depth int) error {
	pk, err := c.plain(k, at, depth+1)
	if err != nil {
		return err
	}
	pv, err := c.plain(v, joinPath(at, k), depth+1)
	if err != nil {
		return err
	}
	d.Keys = append(d.Keys, pk)
	d.Values = append(d.Values, pv)
	return nil
}

func (c *plainer) list(items []interface{}, at string, depth int) ([]interface{}, error) {
	out := make([]interface{}, len(items))
	for i, it := range items {
		p, err := c.plain(it, joinPath(at, i), depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// asStateDict returns d as a state dict when every key is a string and
// every value a tensor.
func asStateDict(v interface{}) (*tensor.StateDict, bool) {
	d, ok := v.(*Dict)
	if !ok || len(d.Keys) == 0 {
		return nil, false
	}
	sd := tensor.NewStateDict()
	for i, k := range d.Keys {
		name, ok := k.(string)
		t, ok2 := d.Values[i].(*tensor.Tensor)
		if !ok || !ok2 {
			return nil, false
		}
		sd.Set(name, t)
	}
	return sd, true
}

// wrapperKeys are the keys training scripts store the state dict under,
// in the order they are preferred when a file holds several.
var wrapperKeys = []string{"state_dict", "model_state_dict", "model_state", "model", "net", "network", "module", "ema_state_dict", "ema"}

// keyPrefixes are removed when every key carries them: DataParallel's
// "module.", torch.compile's "_orig_mod.", Lightning's "model.".
var keyPrefixes = []string{"module.", "_orig_mod.", "model."}

func findStateDict(ck *Checkpoint) error {
	sd, path, err := locateStateDict(ck.Root, 0)
	if err != nil {
		return err
	}
	ck.WrapperPath = path
	ck.WrapperKey = strings.Join(path, "/")
	for changed := true; changed; {
		changed = false
		for _, p := range keyPrefixes {
			if allHavePrefix(sd.Names, p) {
				stripped := tensor.NewStateDict()
				for _, n := range sd.Names {
					stripped.Set(strings.TrimPrefix(n, p), sd.Tensors[n])
				}
				sd = stripped
				ck.Prefix += p
				changed = true
			}
		}
	}
	ck.StateDict = sd
	return nil
}

// maxWrapperDepth is how deeply training checkpoints are searched for
// their state dict ({"model": {"state_dict": ...}} is two levels).
const maxWrapperDepth = 3

// locateStateDict finds the state dict in a checkpoint's object: the
// object itself, or under a known wrapper key, or under the one key whose
// value is a dict of tensors, searching nested dicts the same way.
func locateStateDict(v interface{}, depth int) (*tensor.StateDict, []string, error) {
	if sd, ok := asStateDict(v); ok {
		return sd, nil, nil
	}
	d, isDict := v.(*Dict)
	if !isDict {
		return nil, nil, formatErr("the file holds a %s, not a state dict", describe(v))
	}
	for _, k := range wrapperKeys {
		if w, has := d.Get(k); has {
			if s, ok := asStateDict(w); ok {
				return s, []string{k}, nil
			}
		}
	}
	var found []string
	var last *tensor.StateDict
	for i, k := range d.Keys {
		if s, ok := asStateDict(d.Values[i]); ok {
			found = append(found, fmt.Sprint(k))
			last = s
		}
	}
	switch {
	case len(found) == 1:
		return last, found, nil
	case len(found) > 1:
		return nil, nil, formatErr("several state dicts found (%s); none has a known name", strings.Join(found, ", "))
	}
	if depth+1 < maxWrapperDepth {
		// one level down: known wrapper keys first, then any dict
		order := append([]string(nil), wrapperKeys...)
		for _, k := range d.Keys {
			if ks, ok := k.(string); ok {
				order = append(order, ks)
			}
		}
		tried := map[string]bool{}
		for _, k := range order {
			if tried[k] {
				continue
			}
			tried[k] = true
			w, has := d.Get(k)
			if _, isDict := w.(*Dict); !has || !isDict {
				continue
			}
			if s, path, err := locateStateDict(w, depth+1); err == nil {
				return s, append([]string{k}, path...), nil
			}
		}
	}
	return nil, nil, formatErr("no state dict found: the file holds a dict with keys %s and none of them is a dict of tensors", keyList(d))
}

func allHavePrefix(names []string, p string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, p) || len(n) == len(p) {
			return false
		}
	}
	return len(names) > 0
}

func keyList(d *Dict) string {
	var ks []string
	for _, k := range d.Keys {
		ks = append(ks, fmt.Sprintf("%q", fmt.Sprint(k)))
	}
	sort.Strings(ks)
	if len(ks) > 12 {
		ks = append(ks[:12], "...")
	}
	return "[" + strings.Join(ks, ", ") + "]"
}

func describe(v interface{}) string {
	switch x := v.(type) {
	case *tensor.Tensor:
		return "single tensor"
	case *Dict:
		return "dict"
	case []interface{}:
		return "list"
	case Tuple:
		return "tuple"
	case Opaque:
		return x.Type
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}

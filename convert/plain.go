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
	sd, ok := asStateDict(ck.Root)
	if !ok {
		d, isDict := ck.Root.(*Dict)
		if !isDict {
			return formatErr("the file holds a %s, not a state dict", describe(ck.Root))
		}
		for _, k := range wrapperKeys {
			if v, has := d.Get(k); has {
				if s, ok := asStateDict(v); ok {
					sd, ck.WrapperKey = s, k
					break
				}
			}
		}
		if sd == nil {
			var found []string
			var last *tensor.StateDict
			for i, k := range d.Keys {
				if s, ok := asStateDict(d.Values[i]); ok {
					found = append(found, fmt.Sprint(k))
					last = s
				}
			}
			switch len(found) {
			case 0:
				return formatErr("no state dict found: the file holds a dict with keys %s and none of them is a dict of tensors", keyList(d))
			case 1:
				sd, ck.WrapperKey = last, found[0]
			default:
				return formatErr("several state dicts found (%s); none has a known name", strings.Join(found, ", "))
			}
		}
	}
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

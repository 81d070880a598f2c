package convert

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gnconv/gnconv/tensor"
	"github.com/nlpodyssey/gopickle/types"
)

// maxDepth bounds how deeply the plain values the writer takes may nest.
const maxDepth = 64

// maxReadDepth bounds how deeply a checkpoint's objects may nest when read
// (a whole pickled model nests three levels per module).
const maxReadDepth = 160

// Dict is a Python dict or OrderedDict, in insertion order. A key the
// pickle sets twice keeps its first position and its last value.
type Dict struct {
	Keys   []interface{}
	Values []interface{}

	// index of the string keys, when the reader built the dict (valid
	// while Keys has indexed entries)
	index   map[string]int
	indexed int
}

// Get returns the value of a string key (of its last entry, should Keys
// hold it twice).
func (d *Dict) Get(key string) (interface{}, bool) {
	if d.index != nil && len(d.Keys) == d.indexed {
		i, ok := d.index[key]
		if ok && i < len(d.Keys) && d.Keys[i] == key {
			return d.Values[i], true
		}
		if !ok {
			return nil, false
		}
	}
	for i := len(d.Keys) - 1; i >= 0; i-- {
		if d.Keys[i] == key {
			return d.Values[i], true
		}
	}
	return nil, false
}

// Tuple is a Python tuple; a list is a []interface{}.
type Tuple []interface{}

// Set is a Python set or frozenset: its items, strings sorted first.
type Set []interface{}

// Object is the inert record of a Python object a pickle instantiated: the
// class is only named, never imported, and nothing of it ran (neither
// __new__, __init__ nor __setstate__). A whole pickled nn.Module, an
// argparse.Namespace and a numpy scalar are Objects; see Module for the
// view of a module.
type Object struct {
	// Class is "module.qualname" as the pickle names it
	// ("torch.nn.modules.conv.Conv2d", "__main__.Net",
	// "numpy.core.multiarray.scalar" for a numpy scalar made by REDUCE).
	Class string
	// Args are the arguments it was made with: cls.__new__'s (NEWOBJ;
	// NEWOBJ_EX's keyword dict comes last) or the reconstructing
	// function's.
	Args Tuple
	// State is what BUILD gave it (usually its __dict__ as a *Dict), nil
	// when the pickle gave none.
	State interface{}
}

// Opaque stands for a Python value gnconv keeps no content of (a global
// named as a value, an array): it can be reported but not written back.
type Opaque struct{ Type string }

// toPlain converts unpickled values to Dict, Tuple, []interface{}, Set,
// *Object, string, int, *big.Int, float64, bool, nil, []byte,
// *tensor.Tensor or Opaque, turning each tensor view into a dense tensor.
//
// A value the pickle references many times (its memo) is converted once
// and shared: the result is a graph without cycles (a cycle is an error),
// in which a value may be reached along several paths.
func toPlainWith(v interface{}, rs *readState) (interface{}, error) {
	c := &plainer{done: map[interface{}]interface{}{}, active: map[interface{}]bool{}, rs: rs}
	return c.plain(v, nil, 0)
}

type plainer struct {
	done   map[interface{}]interface{} // converted, by pointer
	active map[interface{}]bool        // being converted (a cycle if met again)
	rs     *readState
}

func (c *plainer) plain(v interface{}, at *pathNode, depth int) (interface{}, error) {
	if depth > c.rs.lim.Depth {
		return nil, limitErr("Depth", int64(c.rs.lim.Depth), "objects nested more than %d deep at %s", c.rs.lim.Depth, at.String())
	}
	switch x := v.(type) {
	case nil, string, int, float64, bool, *big.Int, []byte:
		return x, nil
	case *storageRef:
		return nil, formatErr("a bare storage at %s (not inside a tensor)", at.String())
	case *storageClass, *dtypeValue, callFunc:
		return Opaque{Type: "torch global"}, nil
	case *pyGlobal:
		return Opaque{Type: "global " + clipText(x.qualname(), 200)}, nil
	case *tensorRef, *types.OrderedDict, *types.Dict, *types.List, *types.Tuple, *pyObject, *pySet, *types.Set, *types.FrozenSet:
		if p, ok := c.done[v]; ok {
			return p, nil
		}
		if c.active[v] {
			return nil, formatErr("a cycle at %s: an object contains itself", at.String())
		}
		c.active[v] = true
		p, err := c.convert(v, at, depth)
		delete(c.active, v)
		if err != nil {
			return nil, err
		}
		c.done[v] = p
		return p, nil
	}
	return Opaque{Type: rawKind(v)}, nil
}

// convert converts one container (or tensor) the first time it is met.
func (c *plainer) convert(v interface{}, at *pathNode, depth int) (interface{}, error) {
	switch x := v.(type) {
	case *tensorRef:
		return materialise(at.String(), x, c.rs)
	case *types.OrderedDict, *types.Dict:
		entries, _ := rawEntries(x)
		return c.dict(entries, at, depth)
	case *types.List:
		return c.list(*x, at, depth)
	case *types.Tuple:
		l, err := c.list(*x, at, depth)
		return Tuple(l), err
	case *pyObject:
		o := &Object{Class: x.class}
		args, err := c.list(x.args, at, depth)
		if err != nil {
			return nil, err
		}
		o.Args = Tuple(args)
		if o.State, err = c.plain(x.state, at, depth+1); err != nil {
			return nil, err
		}
		return o, nil
	default:
		items, _ := rawItems(x)
		l, err := c.list(items, at, depth)
		if err != nil {
			return nil, err
		}
		return makeSet(l), nil
	}
}

// dict converts entries in order; a repeated key keeps its first position
// and its last value, as a Python dict built from them would.
func (c *plainer) dict(entries []types.DictEntry, at *pathNode, depth int) (*Dict, error) {
	d := &Dict{Keys: make([]interface{}, 0, len(entries)), Values: make([]interface{}, 0, len(entries))}
	// places of the keys seen: string keys (also Get's index), the others
	// by their keyID
	var strs map[string]int
	var others map[interface{}]int
	for _, e := range entries {
		pk, err := c.plain(e.Key, at, depth+1)
		if err != nil {
			return nil, err
		}
		pv, err := c.plain(e.Value, at.child(e.Value, pk), depth+1)
		if err != nil {
			return nil, err
		}
		if s, ok := pk.(string); ok {
			if strs == nil {
				strs = make(map[string]int, len(entries))
			}
			if i, seen := strs[s]; seen {
				d.Values[i] = pv
				continue
			}
			strs[s] = len(d.Keys)
		} else if id, ok := keyID(pk); ok {
			if others == nil {
				others = map[interface{}]int{}
			}
			if i, seen := others[id]; seen {
				d.Values[i] = pv
				continue
			}
			others[id] = len(d.Keys)
		}
		d.Keys = append(d.Keys, pk)
		d.Values = append(d.Values, pv)
	}
	if strs != nil {
		d.index, d.indexed = strs, len(d.Keys)
	}
	return d, nil
}

// keyID names a hashable scalar key by value, as a comparable Go value
// (Python's 1, 1.0 and True are one key); other keys are never merged.
func keyID(k interface{}) (interface{}, bool) {
	switch x := k.(type) {
	case string:
		return x, true
	case int:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int(x), true
		}
		return x, true // NaN never equals itself, as in Python
	case *big.Int:
		if x.IsInt64() {
			return int(x.Int64()), true
		}
		return bigKey(x.String()), true
	case []byte:
		return bytesKey(x), true
	case nil:
		return nilKey{}, true
	}
	return nil, false
}

type (
	bigKey   string
	bytesKey string
	nilKey   struct{}
)

// makeSet orders a set's items: strings sorted first, then the rest as
// they came; duplicates dropped.
func makeSet(items []interface{}) Set {
	var strs []string
	var rest []interface{}
	seen := map[interface{}]bool{}
	for _, it := range items {
		if id, ok := keyID(it); ok {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		if s, ok := it.(string); ok {
			strs = append(strs, s)
		} else {
			rest = append(rest, it)
		}
	}
	sort.Strings(strs)
	out := make(Set, 0, len(strs)+len(rest))
	for _, s := range strs {
		out = append(out, s)
	}
	return append(out, rest...)
}

func (c *plainer) list(items []interface{}, at *pathNode, depth int) ([]interface{}, error) {
	out := make([]interface{}, len(items))
	for i, it := range items {
		p, err := c.plain(it, at.child(it, i), depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// pathNode is where a value sits in the checkpoint's object, rendered
// only for a message.
type pathNode struct {
	parent *pathNode
	key    interface{}
}

func (p *pathNode) join(key interface{}) *pathNode { return &pathNode{p, key} }

// child is the path of v under key: a scalar, which no message names, is
// given its parent's path without allocating.
func (p *pathNode) child(v interface{}, key interface{}) *pathNode {
	switch v.(type) {
	case nil, string, int, float64, bool, []byte:
		return p
	}
	return p.join(key)
}

// String renders the path, keeping its last components when it is long.
func (p *pathNode) String() string {
	var parts []string
	n := 0
	for q := p; q != nil; q = q.parent {
		k := keyText(q.key)
		if n+len(k) > 300 {
			parts = append(parts, "...")
			break
		}
		n += len(k) + 1
		parts = append(parts, k)
	}
	if len(parts) == 0 {
		return "the top-level object"
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// rawKind names an unpickled value's kind for messages, never its content.
func rawKind(v interface{}) string {
	if k, ok := scalarKind(v); ok {
		return k
	}
	switch x := v.(type) {
	case *types.Dict, *types.OrderedDict:
		return "dict"
	case *types.List:
		return "list"
	case *types.Tuple:
		return "tuple"
	case *pySet, *types.Set, *types.FrozenSet:
		return "set"
	case *pyObject:
		return "object of class " + clipText(x.class, 100)
	case *pyGlobal:
		return "global " + clipText(x.qualname(), 100)
	case *tensorRef:
		return "tensor"
	case *storageRef:
		return "storage"
	}
	return fmt.Sprintf("%T", v)
}

// clip bounds a string taken from the file for a message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("...(%d bytes)", len(s))
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

func findStateDict(ck *Checkpoint, lim Limits) error {
	f := &finder{sources: map[interface{}]bool{}, located: map[locateKey]located{}}
	src, path, err := f.locate(ck.Root, 0)
	if err != nil {
		return err
	}
	ck.WrapperPath = path
	ck.WrapperKey = strings.Join(path, "/")
	var sd *tensor.StateDict
	if o, ok := src.(*Object); ok {
		m, err := newModuleTree(o, lim)
		if err != nil {
			return err
		}
		ck.Model, ck.fromModel = m, true
		if sd, err = m.StateDict(); err != nil {
			return err
		}
	} else {
		sd, _ = asStateDict(src)
	}
	if ck.Model == nil {
		// a training checkpoint with both: the state dict is what is
		// bound, the model tells its hyperparameters
		if o, ok := findModule(ck.Root); ok {
			if ck.Model, err = newModuleTree(o, lim); err != nil {
				return err
			}
		}
	}
	ck.StateDict, ck.Prefix = stripPrefixes(sd)
	return nil
}

// stripPrefixes removes the prefixes every key shares (keyPrefixes, as
// often as they repeat), in time linear in the keys' length.
func stripPrefixes(sd *tensor.StateDict) (*tensor.StateDict, string) {
	cut := 0 // bytes removed from every key so far
	var removed []string
	for changed := true; changed; {
		changed = false
		for _, p := range keyPrefixes {
			if allHavePrefixAt(sd.Names, cut, p) {
				cut += len(p)
				removed = append(removed, p)
				changed = true
			}
		}
	}
	if cut == 0 {
		return sd, ""
	}
	stripped := tensor.NewStateDict()
	for _, n := range sd.Names {
		stripped.Set(n[cut:], sd.Tensors[n])
	}
	return stripped, strings.Join(removed, "")
}

// allHavePrefixAt reports whether every name continues with p after its
// first cut bytes, and has more after p.
func allHavePrefixAt(names []string, cut int, p string) bool {
	for _, n := range names {
		if len(n) <= cut+len(p) || n[cut:cut+len(p)] != p {
			return false
		}
	}
	return len(names) > 0
}

// maxWrapperDepth is how deeply training checkpoints are searched for
// their state dict ({"model": {"state_dict": ...}} is two levels).
const maxWrapperDepth = 3

// finder searches a checkpoint's object for its state dict, looking at
// each value once however often the pickle shares it.
type finder struct {
	sources map[interface{}]bool // isSource, by pointer
	located map[locateKey]located
}

type locateKey struct {
	d     *Dict
	depth int
}

type located struct {
	src  interface{}
	path []string
	err  error
}

// isSource reports whether v holds a state dict: a dict of tensors, or a
// whole nn.Module.
func (f *finder) isSource(v interface{}) bool {
	d, ok := v.(*Dict)
	if !ok {
		return isModule(v)
	}
	if r, ok := f.sources[d]; ok {
		return r
	}
	r := isTensorDict(d)
	f.sources[d] = r
	return r
}

// isTensorDict reports whether d is a non-empty dict of string keys and
// tensor values.
func isTensorDict(d *Dict) bool {
	for i, k := range d.Keys {
		_, ok := k.(string)
		_, ok2 := d.Values[i].(*tensor.Tensor)
		if !ok || !ok2 {
			return false
		}
	}
	return len(d.Keys) > 0
}

// findModule returns the whole model in a training dict: the value of a
// wrapper key, or of the one key whose value is a module.
func findModule(root interface{}) (*Object, bool) {
	d, ok := root.(*Dict)
	if !ok {
		return nil, false
	}
	for _, k := range wrapperKeys {
		if w, has := d.Get(k); has && isModule(w) {
			return w.(*Object), true
		}
	}
	var found *Object
	for _, v := range d.Values {
		if isModule(v) {
			if found != nil && found != v {
				return nil, false
			}
			found = v.(*Object)
		}
	}
	return found, found != nil
}

// locate finds the state dict in a checkpoint's object: the object
// itself (a dict of tensors or a whole model), or under a known wrapper
// key, or under the one key whose value is one, searching nested dicts the
// same way. Each dict is searched once per depth.
func (f *finder) locate(v interface{}, depth int) (interface{}, []string, error) {
	if f.isSource(v) {
		return v, nil, nil
	}
	d, isDict := v.(*Dict)
	if !isDict {
		return nil, nil, formatErr("the file holds a %s, not a state dict or a model", describe(v))
	}
	key := locateKey{d, depth}
	if r, ok := f.located[key]; ok {
		return r.src, r.path, r.err
	}
	src, path, err := f.locateIn(d, depth)
	f.located[key] = located{src, path, err}
	return src, path, err
}

func (f *finder) locateIn(d *Dict, depth int) (interface{}, []string, error) {
	for _, k := range wrapperKeys {
		if w, has := d.Get(k); has && f.isSource(w) {
			return w, []string{k}, nil
		}
	}
	var found []string
	var last interface{}
	for i, k := range d.Keys {
		if f.isSource(d.Values[i]) {
			if len(found) < 13 {
				found = append(found, keyText(k))
			}
			last = d.Values[i]
		}
	}
	switch {
	case len(found) == 1:
		return last, found, nil
	case len(found) > 1:
		if len(found) > 12 {
			found = append(found[:12], "...")
		}
		return nil, nil, formatErr("several state dicts found (%s); none has a known name", strings.Join(found, ", "))
	}
	if depth+1 < maxWrapperDepth {
		// one level down: known wrapper keys first, then any dict
		try := func(k string, w interface{}) (interface{}, []string, bool) {
			if _, isDict := w.(*Dict); !isDict {
				return nil, nil, false
			}
			if s, path, err := f.locate(w, depth+1); err == nil {
				return s, append([]string{k}, path...), true
			}
			return nil, nil, false
		}
		known := map[string]bool{}
		for _, k := range wrapperKeys {
			known[k] = true
			if w, has := d.Get(k); has {
				if s, path, ok := try(k, w); ok {
					return s, path, nil
				}
			}
		}
		for i, k := range d.Keys {
			ks, ok := k.(string)
			if !ok || known[ks] {
				continue
			}
			if s, path, ok := try(ks, d.Values[i]); ok {
				return s, path, nil
			}
		}
	}
	return nil, nil, formatErr("no state dict found: the file holds a dict with keys %s and none of them is a dict of tensors or a model", keyList(d))
}

func keyList(d *Dict) string {
	var ks []string
	for i, k := range d.Keys {
		if i == 1000 {
			break
		}
		ks = append(ks, strconv.Quote(keyText(k)))
	}
	sort.Strings(ks)
	if len(ks) > 12 {
		ks = append(ks[:12], "...")
	}
	return "[" + strings.Join(ks, ", ") + "]"
}

// keyText is a dict key for a message: a string or number as it is
// (clipped), anything else by its kind.
func keyText(k interface{}) string {
	switch x := k.(type) {
	case string:
		return clipText(x, 100)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case *big.Int:
		if x.BitLen() < 200 {
			return x.String()
		}
		return "a large int"
	case nil:
		return "None"
	}
	return "<" + describe(k) + ">"
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
	case Set:
		return "set"
	case *Object:
		return "record of class " + clipText(x.Class, 100)
	case Opaque:
		return clipText(x.Type, 120)
	}
	if k, ok := scalarKind(v); ok {
		return k
	}
	return fmt.Sprintf("%T", v)
}

// scalarKind names a scalar's Python type, for messages; ok is false for
// anything else.
func scalarKind(v interface{}) (string, bool) {
	switch v.(type) {
	case nil:
		return "None", true
	case string:
		return "str", true
	case int, *big.Int:
		return "int", true
	case float64:
		return "float", true
	case bool:
		return "bool", true
	case []byte:
		return "bytes", true
	}
	return "", false
}

package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/gnconv/gnconv/tensor"
)

// A module tree read from a whole-model pickle is bounded by Limits:
// Modules, ModuleDepth, and Objects for the entries walked (attributes,
// parameters, buffers, children) and PickleMemory for the bytes of the
// dotted names built. GoogLeNet has about 200 modules, five levels deep.

// Module is an nn.Module read from a whole-model pickle (never
// constructed: it is the view of an *Object record whose state holds
// _modules and _parameters). A module the pickle shares between several
// parents appears once under each path, as in model.state_dict().
type Module struct {
	Class string // "torch.nn.modules.conv.Conv2d", "__main__.Inception"
	Path  string // "" for the root, "inception3a.branch1.conv"
	// Attrs are the plain attributes of the instance: its __dict__ minus
	// _parameters, _buffers, _modules and the hook dicts.
	Attrs *Dict
	// Params are its own parameters in order; a parameter set to None is
	// not there but named in NoneParams.
	Params     *tensor.StateDict
	NoneParams []string
	// Buffers are its own persistent buffers in order (None buffers and
	// those in _non_persistent_buffers_set are left out; the latter are in
	// NonPersistent).
	Buffers       *tensor.StateDict
	NonPersistent *tensor.StateDict
	Children      []*Module // in _modules order (None children skipped)
	Names         []string  // the child names, parallel to Children

	object *Object
}

// Object is the record the module was read from.
func (m *Module) Object() *Object { return m.object }

// isModule reports whether v is the record of an nn.Module: an object
// whose state is a dict holding _modules and _parameters (the class name
// is not trusted for this).
func isModule(v interface{}) bool {
	o, ok := v.(*Object)
	if !ok {
		return false
	}
	st, ok := o.State.(*Dict)
	if !ok {
		return false
	}
	_, hasModules := st.Get("_modules")
	_, hasParams := st.Get("_parameters")
	return hasModules && hasParams
}

// hookAttr reports whether an attribute of nn.Module's __dict__ is one of
// its hook registries (_forward_hooks, _is_full_backward_hook, ...).
func hookAttr(name string) bool {
	return strings.HasPrefix(name, "_") && strings.Contains(name, "hook")
}

// moduleBuilder bounds one tree: modules made, and the path from the root
// (a module met again on its own path contains itself).
type moduleBuilder struct {
	lim    Limits
	count  int
	work   int   // entries walked
	names  int64 // bytes of dotted names built
	onPath map[*Object]bool
}

func newModuleTree(o *Object, lim Limits) (*Module, error) {
	b := &moduleBuilder{lim: lim.withDefaults(), onPath: map[*Object]bool{}}
	return b.build(o, "", 0)
}

// charge counts entries walked and name bytes built (a module shared
// along many paths is walked, and named, once per path).
func (b *moduleBuilder) charge(entries int, nameBytes int) error {
	b.work += entries
	b.names += int64(nameBytes)
	if b.work > b.lim.Objects {
		return limitErr("Objects", int64(b.lim.Objects), "more than %d entries in the model's modules (modules shared many times?)", b.lim.Objects)
	}
	if b.names > b.lim.PickleMemory {
		return limitErr("PickleMemory", b.lim.PickleMemory, "more than %d bytes of module and tensor names (modules shared many times?)", b.lim.PickleMemory)
	}
	return nil
}

func (b *moduleBuilder) build(o *Object, path string, depth int) (*Module, error) {
	where := func() string {
		if path == "" {
			return "the root module"
		}
		return "module " + clipText(path, 200)
	}
	bad := func(format string, args ...interface{}) error {
		return formatErr("%s (%s): %s", where(), clipText(o.Class, 100), fmt.Sprintf(format, args...))
	}
	if depth > b.lim.ModuleDepth {
		return nil, limitErr("ModuleDepth", int64(b.lim.ModuleDepth), "modules nested more than %d deep at %s", b.lim.ModuleDepth, where())
	}
	if b.onPath[o] {
		return nil, formatErr("%s contains itself", where())
	}
	b.count++
	if b.count > b.lim.Modules {
		return nil, limitErr("Modules", int64(b.lim.Modules), "more than %d modules in the model (a module shared too many times?)", b.lim.Modules)
	}
	b.onPath[o] = true
	defer delete(b.onPath, o)

	st := o.State.(*Dict)
	if err := b.charge(len(st.Keys), len(path)); err != nil {
		return nil, err
	}
	m := &Module{Class: o.Class, Path: path, Attrs: &Dict{}, Params: tensor.NewStateDict(),
		Buffers: tensor.NewStateDict(), NonPersistent: tensor.NewStateDict(), object: o}
	var params, buffers, modules *Dict
	var nonPersistent Set
	for i, k := range st.Keys {
		name, ok := k.(string)
		if !ok {
			return nil, bad("an attribute named by a %s", describe(k))
		}
		v := st.Values[i]
		switch {
		case name == "_parameters" || name == "_buffers" || name == "_modules":
			d, ok := v.(*Dict)
			if !ok {
				return nil, bad("%s is a %s, not a dict", name, describe(v))
			}
			switch name {
			case "_parameters":
				params = d
			case "_buffers":
				buffers = d
			default:
				modules = d
			}
			continue
		case hookAttr(name):
			continue
		case name == "_non_persistent_buffers_set":
			if s, ok := v.(Set); ok {
				nonPersistent = s
			}
		}
		m.Attrs.Keys = append(m.Attrs.Keys, name)
		m.Attrs.Values = append(m.Attrs.Values, v)
	}
	tensors := func(d *Dict, what string, each func(name string, t *tensor.Tensor)) error {
		if d == nil {
			return nil
		}
		names := 0
		for _, k := range d.Keys {
			if name, ok := k.(string); ok {
				names += len(path) + 1 + len(name) // its state dict key
			}
		}
		if err := b.charge(len(d.Keys), names); err != nil {
			return err
		}
		for i, k := range d.Keys {
			name, ok := k.(string)
			if !ok {
				return bad("a %s named by a %s", what, describe(k))
			}
			switch t := d.Values[i].(type) {
			case *tensor.Tensor:
				each(name, t)
			case nil:
				each(name, nil)
			default:
				return bad("%s %q is a %s, not a tensor", what, clipText(name, 100), describe(t))
			}
		}
		return nil
	}
	err := tensors(params, "parameter", func(name string, t *tensor.Tensor) {
		if t == nil {
			m.NoneParams = append(m.NoneParams, name)
			return
		}
		m.Params.Set(name, t)
	})
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, it := range nonPersistent {
		if s, ok := it.(string); ok {
			skip[s] = true
		}
	}
	err = tensors(buffers, "buffer", func(name string, t *tensor.Tensor) {
		switch {
		case t == nil:
		case skip[name]:
			m.NonPersistent.Set(name, t)
		default:
			m.Buffers.Set(name, t)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := b.charge(len(modules.Keys), 0); err != nil {
		return nil, err
	}
	for i, k := range modules.Keys {
		name, ok := k.(string)
		if !ok {
			return nil, bad("a child module named by a %s", describe(k))
		}
		v := modules.Values[i]
		if v == nil {
			continue
		}
		if !isModule(v) {
			return nil, bad("child %q is a %s, not a module", clipText(name, 100), describe(v))
		}
		childPath := name
		if path != "" {
			childPath = path + "." + name
		}
		child, err := b.build(v.(*Object), childPath, depth+1)
		if err != nil {
			return nil, err
		}
		m.Children = append(m.Children, child)
		m.Names = append(m.Names, name)
	}
	return m, nil
}

// Net is the module whose state dict the checkpoint's StateDict is: the
// model itself, or the module a wrapper holds when a prefix such as
// DataParallel's "module." was removed (nil when the file holds no model,
// or when the state dict came from elsewhere in the file).
func (ck *Checkpoint) Net() *Module {
	m := ck.Model
	if m == nil || !ck.fromModel {
		return nil
	}
	for _, name := range strings.Split(strings.TrimSuffix(ck.Prefix, "."), ".") {
		if name == "" {
			break
		}
		c := m.Child(name)
		if c == nil {
			return m
		}
		m = c
	}
	return m
}

// maxStateDictEntries bounds the state dict a module tree derives.
const maxStateDictEntries = 1 << 20

// StateDict is what model.state_dict() gives: for each module in
// pre-order, its parameters and then its persistent buffers, under their
// dotted paths. (A module's get_extra_state is Python code and is not run.)
func (m *Module) StateDict() (*tensor.StateDict, error) {
	sd := tensor.NewStateDict()
	err := m.Walk(func(x *Module) error {
		for _, part := range []*tensor.StateDict{x.Params, x.Buffers} {
			for _, n := range part.Names {
				key := n
				if x.Path != "" {
					key = x.Path + "." + n
				}
				sd.Set(key, part.Tensors[n])
			}
		}
		if sd.Len() > maxStateDictEntries {
			return formatErr("the model's state dict has more than %d entries", maxStateDictEntries)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sd, nil
}

// Walk calls fn on m and every module below it, in pre-order (the order
// of model.modules() without removing duplicates).
func (m *Module) Walk(fn func(*Module) error) error {
	if err := fn(m); err != nil {
		return err
	}
	for _, c := range m.Children {
		if err := c.Walk(fn); err != nil {
			return err
		}
	}
	return nil
}

// Child returns the direct child of that name, nil if there is none.
func (m *Module) Child(name string) *Module {
	for i, n := range m.Names {
		if n == name {
			return m.Children[i]
		}
	}
	return nil
}

// Find returns the module at a dotted path below m ("" is m), nil if there
// is none.
func (m *Module) Find(path string) *Module {
	if path == "" {
		return m
	}
	x := m
	for _, name := range strings.Split(path, ".") {
		if x = x.Child(name); x == nil {
			return nil
		}
	}
	return x
}

// ShortClass is the class name without its module ("Conv2d").
func (m *Module) ShortClass() string {
	return m.Class[strings.LastIndex(m.Class, ".")+1:]
}

// AttrError reports a module attribute that is missing or not of the type
// asked for.
type AttrError struct {
	Path, Class, Attr string
	Reason            string
}

func (e *AttrError) Error() string {
	where := "the root module"
	if e.Path != "" {
		where = "module " + e.Path
	}
	return fmt.Sprintf("%s (%s): attribute %s %s", where, e.Class, e.Attr, e.Reason)
}

func (m *Module) attrErr(name, format string, args ...interface{}) error {
	return &AttrError{Path: clipText(m.Path, 200), Class: clipText(m.Class, 100), Attr: name, Reason: fmt.Sprintf(format, args...)}
}

// Attr returns a plain attribute.
func (m *Module) Attr(name string) (interface{}, bool) {
	return m.Attrs.Get(name)
}

func (m *Module) attr(name string) (interface{}, error) {
	v, ok := m.Attrs.Get(name)
	if !ok {
		return nil, m.attrErr(name, "is missing")
	}
	return v, nil
}

// Int returns an int attribute (a bool is not an int here).
func (m *Module) Int(name string) (int, error) {
	v, err := m.attr(name)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int)
	if !ok {
		return 0, m.attrErr(name, "is a %s, not an int", describe(v))
	}
	return n, nil
}

// Ints returns a pair attribute such as kernel_size, stride or padding: an
// int n is (n, n), a tuple or list of two ints is itself, and a tuple of
// one is used for both.
func (m *Module) Ints(name string) ([2]int, error) {
	v, err := m.attr(name)
	if err != nil {
		return [2]int{}, err
	}
	var items []interface{}
	switch x := v.(type) {
	case int:
		return [2]int{x, x}, nil
	case Tuple:
		items = x
	case []interface{}:
		items = x
	default:
		return [2]int{}, m.attrErr(name, "is a %s, not an int or a pair of ints", describe(v))
	}
	if len(items) == 1 {
		items = []interface{}{items[0], items[0]}
	}
	if len(items) != 2 {
		return [2]int{}, m.attrErr(name, "has %d elements, not 2", len(items))
	}
	var out [2]int
	for i, it := range items {
		n, ok := it.(int)
		if !ok {
			return [2]int{}, m.attrErr(name, "element %d is a %s, not an int", i, describe(it))
		}
		out[i] = n
	}
	return out, nil
}

// Float returns a float attribute; an int attribute is taken as a float
// (LocalResponseNorm(k=1) stores an int).
func (m *Module) Float(name string) (float64, error) {
	v, err := m.attr(name)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		if x > -1<<53 && x < 1<<53 {
			return float64(x), nil
		}
	}
	return math.NaN(), m.attrErr(name, "is a %s, not a float", describe(v))
}

// Bool returns a bool attribute.
func (m *Module) Bool(name string) (bool, error) {
	v, err := m.attr(name)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, m.attrErr(name, "is a %s, not a bool", describe(v))
	}
	return b, nil
}

// String returns a str attribute (padding_mode, or padding="same").
func (m *Module) String(name string) (string, error) {
	v, err := m.attr(name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", m.attrErr(name, "is a %s, not a str", describe(v))
	}
	return s, nil
}

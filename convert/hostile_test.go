package convert

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// pickleGen writes raw pickle opcodes (protocol 2), to build hostile
// whole-model files that no Python would write.
type pickleGen struct {
	b    bytes.Buffer
	memo int
}

func newPickleGen() *pickleGen {
	g := &pickleGen{}
	g.b.Write([]byte{0x80, 2})
	return g
}

func (g *pickleGen) op(ops ...byte)     { g.b.Write(ops) }
func (g *pickleGen) mark()              { g.op('(') }
func (g *pickleGen) global(m, n string) { g.b.WriteString("c" + m + "\n" + n + "\n") }

func (g *pickleGen) str(s string) {
	g.op('X')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	g.b.Write(n[:])
	g.b.WriteString(s)
}

func (g *pickleGen) int(v int) {
	g.op('J')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(int32(v)))
	g.b.Write(n[:])
}

// put memoises the top of the stack and returns its index.
func (g *pickleGen) put() int {
	g.op('r')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(g.memo))
	g.b.Write(n[:])
	g.memo++
	return g.memo - 1
}

func (g *pickleGen) get(i int) {
	g.op('j')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(i))
	g.b.Write(n[:])
}

func (g *pickleGen) orderedDict() {
	g.global("collections", "OrderedDict")
	g.op(')', 'R')
}

// tensor pushes a 1-d float32 tensor over storage key.
func (g *pickleGen) tensor(key string, n int) {
	g.global("torch._utils", "_rebuild_tensor_v2")
	g.mark()
	g.mark()
	g.str("storage")
	g.global("torch", "FloatStorage")
	g.str(key)
	g.str("cpu")
	g.int(n)
	g.op('t', 'Q')
	g.int(0)
	g.int(n)
	g.op(0x85)
	g.int(1)
	g.op(0x85)
	g.op(0x89)
	g.orderedDict()
	g.op('t', 'R')
}

// openModule pushes a module record of class m.n and opens its state dict
// up to the value of _modules (an OrderedDict, its items' MARK open);
// closeModule ends it. The module's memo index is returned.
func (g *pickleGen) openModule(m, n string) int {
	g.global(m, n)
	g.op(')', 0x81)
	idx := g.put()
	g.op('}')
	g.mark()
	g.str("training")
	g.op(0x88)
	g.str("_parameters")
	g.orderedDict()
	g.str("_buffers")
	g.orderedDict()
	g.str("_modules")
	g.orderedDict()
	g.mark()
	return idx
}

func (g *pickleGen) closeModule() { g.op('u', 'u', 'b') }

func (g *pickleGen) bytes() []byte { return append(g.b.Bytes(), '.') }

// zipFile wraps a pickle as torch.save's zip format, with float32
// storages of the given sizes under keys "0", "1", ...
func zipFile(t testing.TB, pkl []byte, storages ...int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("archive/data.pkl", pkl)
	for i, n := range storages {
		data := make([]byte, 4*n)
		for j := 0; j < n; j++ {
			binary.LittleEndian.PutUint32(data[4*j:], math.Float32bits(float32(i*100+j)))
		}
		add("archive/data/"+string(rune('0'+i)), data)
	}
	add("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withStateDict opens a top-level dict holding a small state dict under
// "state_dict" (storage "0", 2 elements); the caller adds items and ends
// with g.op('u').
func withStateDict(g *pickleGen) {
	g.op('}')
	g.mark()
	g.str("state_dict")
	g.op('}')
	g.mark()
	g.str("w")
	g.tensor("0", 2)
	g.op('u')
}

func TestHostileWholeModels(t *testing.T) {
	cases := []struct {
		name  string
		file  func() []byte
		check func(t *testing.T, ck *Checkpoint, err error)
	}{
		{"newobj_os_system_is_a_record", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			g.str("x")
			g.global("posix", "system")
			g.str("echo pwned")
			g.op(0x85, 0x81)
			g.str("y")
			g.global("os", "system")
			g.op(')', 0x81)
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err != nil {
				t.Fatal(err)
			}
			root := ck.Root.(*Dict)
			x, _ := root.Get("x")
			o, ok := x.(*Object)
			if !ok || o.Class != "posix.system" || len(o.Args) != 1 || o.Args[0] != "echo pwned" || o.State != nil {
				t.Fatalf("x = %#v", x)
			}
			if y, _ := root.Get("y"); y.(*Object).Class != "os.system" {
				t.Fatalf("y = %#v", y)
			}
		}},
		{"reduce_posix_system_is_refused", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			g.str("x")
			g.global("posix", "system")
			g.str("echo pwned")
			g.op(0x85, 'R')
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			var ug *UnsafeGlobalError
			if !errors.As(err, &ug) || ug.Module != "posix" || ug.Name != "system" {
				t.Fatalf("got %v, want an UnsafeGlobalError for posix.system", err)
			}
		}},
		{"reduce_eval_getattr_exec_subprocess_refused", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			for i, glob := range [][2]string{{"builtins", "eval"}, {"builtins", "getattr"}, {"builtins", "exec"}, {"subprocess", "Popen"}} {
				g.str(string(rune('a' + i)))
				g.global(glob[0], glob[1])
				g.str("1")
				g.op(0x85, 'R')
			}
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			var ug *UnsafeGlobalError
			if !errors.As(err, &ug) || ug.Module != "builtins" || ug.Name != "eval" {
				t.Fatalf("got %v, want builtins.eval refused", err)
			}
		}},
		{"setstate_trick_is_only_stored", func() []byte {
			// BUILD on a class named like a dangerous function, with a
			// state whose keys are the hooks Python would call.
			g := newPickleGen()
			withStateDict(g)
			g.str("x")
			g.global("builtins", "exec")
			g.op(')', 0x81)
			g.op('}')
			g.mark()
			g.str("__setstate__")
			g.global("posix", "system")
			g.str("__reduce__")
			g.str("rm -rf /")
			g.op('u', 'b')
			// a second BUILD: merged, last write wins
			g.op('}')
			g.mark()
			g.str("__reduce__")
			g.str("echo again")
			g.str("z")
			g.int(1)
			g.op('u', 'b')
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err != nil {
				t.Fatal(err)
			}
			x, _ := ck.Root.(*Dict).Get("x")
			o := x.(*Object)
			st := o.State.(*Dict)
			if o.Class != "builtins.exec" || len(st.Keys) != 3 {
				t.Fatalf("x = %#v, state %#v", o, st)
			}
			if v, _ := st.Get("__setstate__"); v != (Opaque{Type: "global posix.system"}) {
				t.Errorf("__setstate__ = %#v", v)
			}
			if v, _ := st.Get("__reduce__"); v != "echo again" {
				t.Errorf("__reduce__ = %#v, want the second BUILD's", v)
			}
		}},
		{"setstate_reduce_in_state_refused", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			g.str("x")
			g.global("__main__", "Evil")
			g.op(')', 0x81)
			g.global("builtins", "exec")
			g.str("import os")
			g.op(0x85, 'R', 'b')
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			var ug *UnsafeGlobalError
			if !errors.As(err, &ug) || ug.Name != "exec" {
				t.Fatalf("got %v", err)
			}
		}},
		{"repeated_build_is_bounded", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			g.str("x")
			g.global("argparse", "Namespace")
			g.op(')', 0x81)
			g.op('}')
			g.mark()
			for i := 0; i < 2000; i++ {
				g.str(strings.Repeat("k", 8) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)))
				g.int(i)
			}
			g.op('u')
			state := g.put()
			g.op('b')
			for i := 0; i < 100000; i++ {
				g.get(state)
				g.op('b')
			}
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err == nil || !strings.Contains(err.Error(), "repeated BUILD") {
				t.Fatalf("got %v", err)
			}
		}},
		{"module_contains_itself", func() []byte {
			g := newPickleGen()
			self := g.openModule("__main__", "Net")
			g.str("self")
			g.get(self)
			g.closeModule()
			return zipFile(t, g.bytes())
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err == nil || !strings.Contains(err.Error(), "contains itself") {
				t.Fatalf("got %v", err)
			}
		}},
		{"module_tree_10000_deep", func() []byte {
			g := newPickleGen()
			const depth = 10000
			for i := 0; i < depth; i++ {
				g.openModule("torch.nn.modules.container", "Sequential")
				g.str("0")
			}
			g.op('N') // the innermost child: None
			for i := 0; i < depth; i++ {
				g.closeModule()
			}
			return zipFile(t, g.bytes())
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err == nil || !strings.Contains(err.Error(), "nested more than") {
				t.Fatalf("got %v", err)
			}
		}},
		{"shared_list_referenced_2^30_times", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			g.str("blob")
			g.str("leaf")
			prev := g.put()
			for i := 0; i < 30; i++ {
				g.op('0', ']')
				g.mark()
				g.get(prev)
				g.get(prev)
				g.op('e')
				prev = g.put()
			}
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err != nil {
				t.Fatal(err)
			}
			v, _ := ck.Root.(*Dict).Get("blob")
			for i := 0; i < 30; i++ {
				l, ok := v.([]interface{})
				if !ok || len(l) != 2 {
					t.Fatalf("level %d: %#v", i, v)
				}
				v = l[1]
			}
			if v != "leaf" {
				t.Fatalf("leaf %#v", v)
			}
			if ck.StateDict.Len() != 1 {
				t.Fatalf("state dict %q", ck.StateDict.Names)
			}
		}},
		{"shared_module_2^30_paths", func() []byte {
			// each level's two children are the same module: a tree of
			// 2^30 paths, as model.state_dict() would walk it
			g := newPickleGen()
			leaf := g.openModule("torch.nn.modules.linear", "Identity")
			g.closeModule()
			g.op('0')
			prev := leaf
			for i := 0; i < 30; i++ {
				g.openModule("torch.nn.modules.container", "Sequential")
				g.str("a")
				g.get(prev)
				g.str("b")
				g.get(prev)
				g.closeModule()
				prev = g.put()
				g.op('0')
			}
			g.get(prev)
			return zipFile(t, g.bytes())
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err == nil || !strings.Contains(err.Error(), "modules in the model") {
				t.Fatalf("got %v", err)
			}
		}},
		{"repeated_key_keeps_last_value", func() []byte {
			g := newPickleGen()
			g.op('}')
			g.mark()
			g.str("w")
			g.tensor("0", 2)
			g.str("v")
			g.tensor("1", 3)
			g.str("w")
			g.tensor("1", 3)
			g.op('u')
			return zipFile(t, g.bytes(), 2, 3)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err != nil {
				t.Fatal(err)
			}
			sd := ck.StateDict
			if len(sd.Names) != 2 || sd.Names[0] != "w" || sd.Names[1] != "v" || sd.Tensors["w"].Numel() != 3 {
				t.Fatalf("%q, w has %d elements", sd.Names, sd.Tensors["w"].Numel())
			}
		}},
		{"cyclic_key_in_message", func() []byte {
			// a list that contains itself, used where a message would
			// name it: the error must not try to print it
			g := newPickleGen()
			g.op(']')
			l := g.put()
			g.get(l)
			g.op('a')
			g.op('0')
			g.op('}')
			g.mark()
			g.str("a")
			g.get(l)
			g.op('u')
			return zipFile(t, g.bytes())
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if err == nil || !strings.Contains(err.Error(), "cycle") || len(err.Error()) > 1000 {
				t.Fatalf("got %v", err)
			}
		}},
		{"newobj_of_a_function_stand_in", func() []byte {
			g := newPickleGen()
			withStateDict(g)
			g.str("x")
			g.global("torch._utils", "_rebuild_tensor_v2")
			g.op(')', 0x81)
			g.op('u')
			return zipFile(t, g.bytes(), 2)
		}, func(t *testing.T, ck *Checkpoint, err error) {
			if !errors.Is(err, ErrFormat) || len(err.Error()) > 500 {
				t.Fatalf("got %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.file()
			start := time.Now()
			ck, err := ReadCheckpointBytes(b)
			if d := time.Since(start); d > time.Second {
				t.Errorf("read took %v", d)
			}
			if err != nil && len(err.Error()) > 2000 {
				t.Errorf("a %d-byte message", len(err.Error()))
			}
			c.check(t, ck, err)
		})
	}
}

package interop

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/internal/plaingen"
	"github.com/gnconv/gnconv/tensor"
)

// TestWrittenPicklesLoadInTorch writes a few hundred random training
// dicts (internal/plaingen, the fuzz target's generator) with WriteObject
// and has Python check each: pickletools.genops finds only the writer's
// opcodes and globals, torch.load(weights_only=True) reads it, and the
// values it holds equal those written. Values the writer refused are not
// sent; the attack integer among them must be refused.
func TestWrittenPicklesLoadInTorch(t *testing.T) {
	requirePython(t, "torch")
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	want := map[string]*convert.Dict{}
	var files []string
	refused := 0
	for i := 0; len(files) < 300 && i < 5000; i++ {
		b := make([]byte, 16+rng.Intn(600))
		rng.Read(b)
		if i == 0 {
			b = []byte{5, 0} // the attack integer
		}
		root, ref := plaingen.Root(b)
		var buf bytes.Buffer
		if err := convert.WriteObject(&buf, root, false); err != nil {
			if !ref.WeightsOnly() {
				t.Fatalf("value %d refused: %v", i, err)
			}
			refused++
			continue
		}
		if ref.WeightsOnly() || i == 0 {
			t.Fatalf("value %d written, but it must be refused (%+v)", i, ref)
		}
		p := filepath.Join(dir, fmt.Sprintf("%d.pth", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		want[p] = root
	}
	if len(files) < 300 {
		t.Fatalf("only %d values written (%d refused)", len(files), refused)
	}
	cmd := exec.Command(debianPython, append([]string{"check_written_pickle.py"}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check_written_pickle.py: %v\n%s", err, stderr.Bytes())
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var res struct {
			File  string          `json:"file"`
			Error string          `json:"error"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("bad output line: %v", err)
		}
		root, ok := want[res.File]
		if !ok {
			t.Fatalf("output for an unknown file %q", res.File)
		}
		if res.Error != "" {
			t.Fatalf("%s: %s", res.File, res.Error)
		}
		var canon interface{}
		dec := json.NewDecoder(bytes.NewReader(res.Value))
		dec.UseNumber()
		if err := dec.Decode(&canon); err != nil {
			t.Fatal(err)
		}
		got, err := fromCanon(canon)
		if err != nil {
			t.Fatalf("%s: %v", res.File, err)
		}
		if d := plaingen.Equal(root, got); d != "" {
			t.Fatalf("%s: torch read %s", res.File, d)
		}
		if err := sameOrdering(root, canon); err != nil {
			t.Fatalf("%s: %v", res.File, err)
		}
		seen++
	}
	if seen != len(files) {
		t.Fatalf("Python reported %d of %d files", seen, len(files))
	}
	t.Logf("%d values loaded in torch, %d refused by the writer", seen, refused)
}

// fromCanon turns check_written_pickle.py's canonical JSON back into plain
// values.
func fromCanon(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case nil, bool:
		return x, nil
	case map[string]interface{}:
		for k, a := range x {
			switch k {
			case "int":
				s, _ := a.(string)
				i, ok := new(big.Int).SetString(s, 10)
				if !ok {
					return nil, fmt.Errorf("bad int")
				}
				return i, nil
			case "float":
				s, _ := a.(string)
				return strconv.ParseFloat(s, 64)
			case "str":
				s, ok := a.(string)
				if !ok {
					return nil, fmt.Errorf("bad str")
				}
				return s, nil
			case "bytes":
				s, _ := a.(string)
				return hex.DecodeString(s)
			case "list", "tuple":
				items, _ := a.([]interface{})
				out := []interface{}{}
				for _, it := range items {
					p, err := fromCanon(it)
					if err != nil {
						return nil, err
					}
					out = append(out, p)
				}
				if k == "tuple" {
					return convert.Tuple(out), nil
				}
				return out, nil
			case "dict":
				items, _ := a.([]interface{})
				d := &convert.Dict{}
				for _, it := range items {
					kv, _ := it.([]interface{})
					if len(kv) != 2 {
						return nil, fmt.Errorf("bad dict item")
					}
					pk, err := fromCanon(kv[0])
					if err != nil {
						return nil, err
					}
					pv, err := fromCanon(kv[1])
					if err != nil {
						return nil, err
					}
					d.Keys = append(d.Keys, pk)
					d.Values = append(d.Values, pv)
				}
				return d, nil
			case "tensor":
				m, _ := a.(map[string]interface{})
				s, _ := m["dtype"].(string)
				dt, ok := tensor.DTypeOfName(s)
				if !ok {
					return nil, fmt.Errorf("dtype %q", s)
				}
				shape := []int{}
				dims, _ := m["shape"].([]interface{})
				for _, d := range dims {
					n, err := d.(json.Number).Int64()
					if err != nil {
						return nil, err
					}
					shape = append(shape, int(n))
				}
				h, _ := m["hex"].(string)
				raw, err := hex.DecodeString(h)
				if err != nil {
					return nil, err
				}
				return &tensor.Tensor{DType: dt, Shape: shape, Raw: raw}, nil
			}
		}
	}
	return nil, fmt.Errorf("unexpected canonical value %T", v)
}

// sameOrdering checks that torch read an OrderedDict exactly where the
// writer means one (WriteObject with ordered unset): every dict of tensors.
func sameOrdering(v interface{}, canon interface{}) error {
	m, _ := canon.(map[string]interface{})
	switch x := v.(type) {
	case *convert.Dict:
		stateDict := len(x.Keys) > 0
		for i, k := range x.Keys {
			_, isStr := k.(string)
			_, isTensor := x.Values[i].(*tensor.Tensor)
			stateDict = stateDict && isStr && isTensor
		}
		if ordered, _ := m["ordered"].(bool); ordered != stateDict {
			return fmt.Errorf("a dict of %d keys read as ordered=%v", len(x.Keys), ordered)
		}
		items, _ := m["dict"].([]interface{})
		for i, it := range items {
			kv, _ := it.([]interface{})
			if err := sameOrdering(x.Keys[i], kv[0]); err != nil {
				return err
			}
			if err := sameOrdering(x.Values[i], kv[1]); err != nil {
				return err
			}
		}
	case convert.Tuple:
		items, _ := m["tuple"].([]interface{})
		for i, it := range items {
			if err := sameOrdering(x[i], it); err != nil {
				return err
			}
		}
	case []interface{}:
		items, _ := m["list"].([]interface{})
		for i, it := range items {
			if err := sameOrdering(x[i], it); err != nil {
				return err
			}
		}
	}
	return nil
}

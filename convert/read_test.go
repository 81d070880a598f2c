package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/tensor"
)

type manifestTensor struct {
	Name   string    `json:"name"`
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

type manifest struct {
	Readers map[string]struct {
		Wrapper string           `json:"wrapper"`
		Prefix  string           `json:"prefix"`
		Tensors []manifestTensor `json:"tensors"`
	} `json:"readers"`
	Bad    map[string]string `json:"bad"`
	Models map[string]struct {
		Keys    int    `json:"keys"`
		DType   string `json:"dtype"`
		Layout  string `json:"layout"`
		Classes int    `json:"classes"`
	} `json:"models"`
}

func loadManifest(t testing.TB) manifest {
	b, err := os.ReadFile("../fixtures/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadersMatchTorch(t *testing.T) {
	m := loadManifest(t)
	if len(m.Readers) < 10 {
		t.Fatalf("manifest lists only %d reader fixtures", len(m.Readers))
	}
	readers := map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint}
	for file, want := range m.Readers {
		for how, read := range readers {
			t.Run(how+"/"+file, func(t *testing.T) {
				ck, err := read(filepath.Join("../fixtures/readers", file))
				if err != nil {
					t.Fatal(err)
				}
				if ck.WrapperKey != want.Wrapper || ck.Prefix != want.Prefix {
					t.Errorf("wrapper %q prefix %q, want %q %q", ck.WrapperKey, ck.Prefix, want.Wrapper, want.Prefix)
				}
				if strings.Contains(file, "bigendian") != (ck.ByteOrder == "big") {
					t.Errorf("byte order %s", ck.ByteOrder)
				}
				sd := ck.StateDict
				if len(sd.Names) != len(want.Tensors) {
					t.Fatalf("%d tensors, want %d", len(sd.Names), len(want.Tensors))
				}
				for i, wt := range want.Tensors {
					if sd.Names[i] != wt.Name {
						t.Fatalf("tensor %d is %q, want %q (file order)", i, sd.Names[i], wt.Name)
					}
					got := sd.Tensors[wt.Name]
					if got.DType.String() != wt.DType {
						t.Errorf("%s: dtype %s, want %s", wt.Name, got.DType, wt.DType)
					}
					if tensor.ShapeString(got.Shape) != tensor.ShapeString(wt.Shape) {
						t.Errorf("%s: shape %v, want %v", wt.Name, got.Shape, wt.Shape)
					}
					vals := got.Float64()
					if len(vals) != len(wt.Values) {
						t.Fatalf("%s: %d values, want %d", wt.Name, len(vals), len(wt.Values))
					}
					for j := range vals {
						w := wt.Values[j]
						if got.DType != tensor.Float64 {
							w = float64(float32(w))
						}
						if vals[j] != w && !(math.IsNaN(vals[j]) && math.IsNaN(w)) {
							t.Fatalf("%s[%d] = %v, want %v", wt.Name, j, vals[j], w)
						}
					}
				}
			})
		}
	}
}

// readNow are the manifest's bad files that are read since whole pickled
// models are (see TestFullModuleFixtureReads).
var readNow = map[string]bool{"full_module.pth": true}

func TestBadFilesGiveClearErrors(t *testing.T) {
	m := loadManifest(t)
	if len(m.Bad) < 10 {
		t.Fatalf("manifest lists only %d bad fixtures", len(m.Bad))
	}
	for file, reason := range m.Bad {
		if readNow[file] {
			continue
		}
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("../fixtures/bad", file)
			_, err := ReadCheckpoint(path)
			if err == nil {
				t.Fatal("no error")
			}
			if _, merr := MapCheckpoint(path); merr == nil || merr.Error() != err.Error() {
				t.Errorf("MapCheckpoint says %v, ReadCheckpoint %v", merr, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, reason) {
				t.Errorf("error %q does not say %q", msg, reason)
			}
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
		})
	}
}

func TestUnsafeGlobalIsTyped(t *testing.T) {
	_, err := ReadCheckpoint("../fixtures/bad/posix_system.pth")
	var ug *UnsafeGlobalError
	if !errors.As(err, &ug) || ug.Module != "posix" || ug.Name != "system" {
		t.Fatalf("got %v, want an UnsafeGlobalError for posix.system", err)
	}
}

func TestModelsRead(t *testing.T) {
	m := loadManifest(t)
	for file, want := range m.Models {
		ck, err := ReadCheckpoint(filepath.Join("../fixtures", file))
		if err != nil {
			t.Fatal(err)
		}
		if ck.StateDict.Len() != want.Keys {
			t.Errorf("%s: %d keys, want %d", file, ck.StateDict.Len(), want.Keys)
		}
		for _, n := range ck.StateDict.Names {
			tt := ck.StateDict.Tensors[n]
			if tt.DType.IsFloat() && tt.DType.String() != want.DType {
				t.Errorf("%s: %s has dtype %s", file, n, tt.DType)
			}
		}
	}
}

// TestNestedWrapper: {"model": {"state_dict": sd}} is found two levels down.
func TestNestedWrapper(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/readers/parameters.pth")
	if err != nil {
		t.Fatal(err)
	}
	sd := &Dict{}
	for _, n := range ck.StateDict.Names {
		sd.Keys = append(sd.Keys, n)
		sd.Values = append(sd.Values, ck.StateDict.Tensors[n])
	}
	inner := &Dict{Keys: []interface{}{"arch", "state_dict"}, Values: []interface{}{"googlenet", sd}}
	root := &Dict{Keys: []interface{}{"epoch", "model"}, Values: []interface{}{3, inner}}
	var buf bytes.Buffer
	if err := WriteObject(&buf, root, false); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCheckpointBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if back.WrapperKey != "model/state_dict" || back.StateDict.Len() != ck.StateDict.Len() {
		t.Fatalf("wrapper %q, %d tensors", back.WrapperKey, back.StateDict.Len())
	}
}

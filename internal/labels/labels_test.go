package labels

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"tench\ngoldfish\n", []string{"tench", "goldfish"}},
		{"tench\r\ngoldfish", []string{"tench", "goldfish"}},
		{"\ufeff great white shark \n", []string{"great white shark"}},
	} {
		got, err := Parse([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"blank":      " \n\n",
		"gap":        "a\n\nb\n",
		"not utf-8":  "a\n\xff\n",
		"nul":        "a\x00b\n",
		"long name":  strings.Repeat("x", MaxNameBytes+1),
		"lone cr":    "a\rb\n",
		"many lines": strings.Repeat("a\n", MaxNames+1),
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	names := []string{"tench", "goldfish", "great white shark"}
	got, err := Decode(Encode(names))
	if err != nil || !reflect.DeepEqual(got, names) {
		t.Fatalf("Decode(Encode) = %q, %v", got, err)
	}
	if err := Check(names, 4); err == nil {
		t.Error("Check accepted 3 names for 4 classes")
	}
}

func TestReadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(p, []byte("cat\ndog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(p)
	if err != nil || !reflect.DeepEqual(got, []string{"cat", "dog"}) {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if _, err := ReadFile(filepath.Dir(p)); err == nil {
		t.Error("ReadFile read a directory")
	}
}

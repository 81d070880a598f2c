package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// import's edge flags: labels, pixels in with the normalisation in the
// graph, float16; each file verifies without flags of its own.
func TestImportEdgeFlags(t *testing.T) {
	dir := t.TempDir()
	names := filepath.Join(dir, "names.txt")
	if err := os.WriteFile(names, []byte(strings.Repeat("a class\n", 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.txt")
	if err := os.WriteFile(short, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := fx("tutorial_aux.pth")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--labels", names, "--softmax", "--verify"}, 0, "outputs probabilities"},
		{[]string{"--labels", short}, 2, "2 class names for a network of 10 classes"},
		{[]string{"--preprocess", "imagenet", "--verify"}, 0, "PASS"},
		{[]string{"--preprocess", "tutorial", "--input-layout", "nchw", "--dtype", "float16", "--verify"}, 0, "PASS"},
		{[]string{"--dtype", "float16", "--io", "float16", "--aux", "--verify"}, 0, "PASS"},
		{[]string{"--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--verify"}, 0, "PASS"},
		{[]string{"--mean", "0.5,0.5", "--std", "0.25,0.25"}, 2, "--mean wants 3 values"},
		{[]string{"--mean", "0.5,0.5,0.5"}, 2, "--mean and --std go together"},
		{[]string{"--preprocess", "sepia"}, 2, "unknown preprocessing"},
		{[]string{"--io", "float16"}, 2, "--io float16 needs --dtype float16"},
		{[]string{"--dtype", "float64"}, 2, "--dtype must be"},
		{[]string{"--input-layout", "nhwc"}, 2, "--input-layout needs --preprocess"},
		{[]string{"--size", "dynamic", "--preprocess", "imagenet", "--verify"}, 0, "PASS"},
		{[]string{"--size", "dynamic", "--aux"}, 2, "--size dynamic cannot keep the aux heads"},
		{[]string{"--size", "40,224"}, 2, "the smallest input this network takes is 47x47"},
	}
	for i, c := range cases {
		out := filepath.Join(dir, "m"+string(rune('a'+i))+".onnx")
		code, stdout, stderr := gnconv(t, append([]string{"import", in, "-o", out}, c.args...)...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.want, stdout, stderr)
		}
		if _, err := os.Stat(out); (err == nil) != (c.code == 0) {
			t.Errorf("%v: exit %d, file written: %v", c.args, code, err == nil)
		}
	}
}

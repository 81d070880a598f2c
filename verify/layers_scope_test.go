package verify

import "testing"

func TestModuleScope(t *testing.T) {
	for name, want := range map[string]string{
		"/inception4a/branch2/branch2.1/conv/Conv": "inception4a.branch2.1.conv",
		"/inception4a/branch2/branch2.1/Relu":      "inception4a.branch2.1",
		"/conv1/Relu":                              "conv1",
		"/Flatten":                                 "",
		"/2/2.0/p1_1/Conv":                         "2.0.p1_1",
		"/aux1/fc1/Gemm":                           "aux1.fc1",
		"Conv_0":                                   "",
		"inception4a/branch2/1/conv":               "",
		"//Conv":                                   "",
	} {
		if got := moduleScope(name); got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}

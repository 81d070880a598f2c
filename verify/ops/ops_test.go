package ops

import (
	"errors"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestTable: every operator is complete, and the table is the list
// docs/verify.md gives.
func TestTable(t *testing.T) {
	for name, op := range table {
		if op.Shape == nil || op.Run == nil || op.MinIn > op.MaxIn || op.MaxOut < 1 {
			t.Errorf("%s is incomplete", name)
		}
	}
	doc, err := os.ReadFile("../../docs/verify.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	i, j := strings.Index(text, "with these operators:"), strings.Index(text, "Anything else")
	if i < 0 || j < i {
		t.Fatal("docs/verify.md lists no operators")
	}
	documented := regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`).FindAllString(text[i:j], -1)
	var listed []string
	seen := map[string]bool{}
	for _, w := range documented {
		if _, ok := table[w]; ok && !seen[w] {
			listed = append(listed, w)
			seen[w] = true
		}
	}
	names := Names()
	sort.Strings(names)
	sort.Strings(listed)
	if strings.Join(names, " ") != strings.Join(listed, " ") {
		t.Errorf("the table has %v, docs/verify.md lists %v", names, listed)
	}
}

// TestBudget: counts over a limit, or beyond 2^62, are LimitErrors; a
// shape's extent counts zero dimensions as one.
func TestBudget(t *testing.T) {
	b := &Budget{MaxTensor: 100, MaxTotal: 150, MaxWork: 1000}
	if _, err := b.Shape("x", []int{10, 10}); err != nil {
		t.Fatal(err)
	}
	var le *LimitError
	for _, s := range [][]int{{10, 11}, {0, 1000}, {1 << 40, 1 << 40, 0}, {-1, 2}} {
		if _, err := b.Shape("x", s); !errors.As(err, &le) {
			t.Errorf("shape %v: %v", s, err)
		}
	}
	if err := b.Charge(100); err != nil {
		t.Fatal(err)
	}
	if err := b.Charge(51); !errors.As(err, &le) || !strings.Contains(err.Error(), "in one run") {
		t.Errorf("over the run's total: %v", err)
	}
	if err := b.Work(1001); !errors.As(err, &le) {
		t.Errorf("over the work: %v", err)
	}
	if n, ok := Elements([]int{1 << 31, 1 << 31, 2}); ok {
		t.Errorf("an overflowing product gave %d", n)
	}
	if workOf(1<<40, 1<<40) != maxCount {
		t.Error("work does not saturate")
	}
}

// TestShapesBeforeRun: shapes that would overflow or index outside their
// input are refused by Shape, before any Run.
func TestShapesBeforeRun(t *testing.T) {
	c := &Ctx{Opset: 17, Budget: &Budget{MaxTensor: 1 << 20, MaxTotal: 1 << 22, MaxWork: 1 << 30}}
	x := &Value{Shape: []int{1, 4}, F: make([]float32, 4)}
	ints := func(v ...int64) *Value { return &Value{Shape: []int{len(v)}, I: v, Int: true} }
	for _, tc := range []struct {
		op *Op
		a  Attrs
		in []*Value
	}{
		{Reshape, Attrs{}, []*Value{x, ints(1<<62, 4, 4, -1)}},
		{Reshape, Attrs{}, []*Value{x, ints(-1, -1)}},
		{Reshape, Attrs{}, []*Value{x, ints(3, -1)}},
		{Gather, Attrs{}, []*Value{x, ints(1)}},
		{Slice, Attrs{}, []*Value{x, ints(0), ints(1), ints(5)}},
		{Pad, Attrs{}, []*Value{x, ints(0, 0, 0, -1)}},
		{Unsqueeze, Attrs{}, []*Value{x, nil}},
		{Concat, Attrs{}, []*Value{x, {Shape: []int{2, 3}, F: make([]float32, 6)}}},
	} {
		if shape, err := tc.op.Shape(c, tc.a, tc.in); err == nil {
			t.Errorf("%v: shape %v", tc.in, shape)
		}
	}
}

package convert

import (
	"strings"

	"github.com/gnconv/gnconv/graph"
)

// GraphModel is the module tree of the network the checkpoint's state dict
// came from, for graph.Options.Model: its modules' recorded hyperparameters
// then override the layout's. Nil when the file holds no whole model.
func (ck *Checkpoint) GraphModel() graph.Model {
	m := ck.Net()
	if m == nil {
		return nil
	}
	return moduleTree{m}
}

type moduleTree struct{ root *Module }

func (t moduleTree) Root() graph.ModelModule { return t.root }

// Leaves lists the paths of the modules that have no children, relative
// to the root.
func (t moduleTree) Leaves() []string {
	var out []string
	prefix := t.root.Path
	if prefix != "" {
		prefix += "."
	}
	_ = t.root.Walk(func(m *Module) error {
		if len(m.Children) == 0 && m != t.root {
			out = append(out, strings.TrimPrefix(m.Path, prefix))
		}
		return nil
	})
	return out
}

func (t moduleTree) Find(path string) graph.ModelModule {
	if m := t.root.Find(path); m != nil {
		return m
	}
	return nil
}

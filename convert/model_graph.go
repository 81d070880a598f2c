package convert

import "github.com/gnconv/gnconv/graph"

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

func (t moduleTree) Find(path string) graph.ModelModule {
	if m := t.root.Find(path); m != nil {
		return m
	}
	return nil
}

// Package graph is the GoogLeNet family: network descriptions (built-in
// presets and layout files, graph/layouts), detection of a preset from a
// state dict's names, strict and non-strict binding, the reference forward
// pass and aux-head pruning. A network is one ordered list of layers that
// every pass walks.
package graph

import "github.com/gnconv/gnconv/tensor"

// StripAux returns the state dict without the entries named, in file
// order (see AuxEntries), and the keys it removed.
func StripAux(sd *tensor.StateDict, drop []string) (kept *tensor.StateDict, removed []string) {
	dropSet := map[string]bool{}
	for _, k := range drop {
		dropSet[k] = true
	}
	kept = tensor.NewStateDict()
	for _, k := range sd.Names {
		if dropSet[k] {
			removed = append(removed, k)
			continue
		}
		kept.Set(k, sd.Tensors[k])
	}
	return kept, removed
}

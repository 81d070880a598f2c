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

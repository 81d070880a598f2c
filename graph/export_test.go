package graph

// BuildForTest builds a layout's network (3 input channels unless the
// layout says otherwise, 10 classes) without weights.
func BuildForTest(l *Layout, aux bool) (*Net, error) {
	return l.build(l.Input.Channels, 10, aux, Switches{})
}

package ops

import (
	"fmt"

	"github.com/gnconv/gnconv/internal/onnxpb"
)

// AttrKind is an attribute's type.
type AttrKind = onnxpb.AttributeProto_AttributeType

const (
	aInt    = onnxpb.AttributeProto_INT
	aInts   = onnxpb.AttributeProto_INTS
	aFloat  = onnxpb.AttributeProto_FLOAT
	aFloats = onnxpb.AttributeProto_FLOATS
	aString = onnxpb.AttributeProto_STRING
	aTensor = onnxpb.AttributeProto_TENSOR
)

// Attrs are a node's attributes by name.
type Attrs map[string]*onnxpb.AttributeProto

// NodeAttrs collects a node's attributes.
func NodeAttrs(n *onnxpb.NodeProto) Attrs {
	a := Attrs{}
	for _, x := range n.Attribute {
		a[x.GetName()] = x
	}
	return a
}

// Int is an INT attribute, or def.
func (a Attrs) Int(name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.GetI()
	}
	return def
}

// Ints is an INTS attribute, or def.
func (a Attrs) Ints(name string, def []int64) []int64 {
	if x, ok := a[name]; ok {
		return x.Ints
	}
	return def
}

// Float is a FLOAT attribute, or def.
func (a Attrs) Float(name string, def float32) float32 {
	if x, ok := a[name]; ok {
		return x.GetF()
	}
	return def
}

// Str is a STRING attribute, or def.
func (a Attrs) Str(name, def string) string {
	if x, ok := a[name]; ok {
		return string(x.GetS())
	}
	return def
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// Package onnxpb holds Go types for the ONNX protobuf messages, generated
// by protoc-gen-go from onnx.proto (the subset of the ONNX IR gnconv uses).
package onnxpb

//go:generate protoc --plugin=protoc-gen-go=$HOME/go/bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative onnx.proto

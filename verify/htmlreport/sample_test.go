package htmlreport

import (
	"fmt"
	"math"
)

// sample is a report of a failing file: a GoogLeNet-like module list
// whose errors grow from inception4a.branch3.1 on, an error histogram,
// top-k shares and labelled classes.
func sample() *Data {
	d := &Data{
		Model: "googlenet.onnx", Weights: "googlenet.pth",
		Pass: false, Verdict: "logits (max abs error 4.62 > 0.000243); first divergence at inception4a.branch3.1 (max abs 62.5)",
		Settings: Settings{ATol: 2e-5, RTol: 1e-5, Kernel: "avx2", Input: "1 random batch of 2 (seed 0)",
			Preprocessing: "resize 256, centre crop 224, ImageNet mean and std", Images: 6, Opset: 17,
			Other: []Field{{"batch", "2"}}},
		Outputs: []Output{
			{Name: "logits", Reference: "logits", MaxAbs: 4.62, Bound: 0.000243, MaxRel: 12, Cosine: 0.93, Top1: 0.5, Top5: 0.25},
			{Name: "aux1", Reference: "aux1", MaxAbs: 3e-6, Bound: 0.0002, MaxRel: 1e-4, Cosine: 1, Top1: 1, Top5: 1, Pass: true},
		},
		Checks:   []Check{{Name: "structure (onnx-go)", Pass: true, Detail: "312 nodes, 116 initializers"}},
		ErrorsOf: "logits and aux1 on 2 batches",
		TopK: []TopK{
			{Output: "logits", Points: []KShare{{1, 0.5}, {5, 0.25}}},
			{Output: "aux1", Points: []KShare{{1, 1}, {5, 1}}},
		},
		Classes: []Class{
			{Index: 0, Name: "tench", Images: 3, ReferenceCorrect: 3, ONNXCorrect: 2},
			{Index: 1, Name: "goldfish", Images: 3, ReferenceCorrect: 2, ONNXCorrect: 2},
		},
		Disagreements: []Disagreement{{File: "tench/n01440764_10026.JPEG", Reference: 0, ReferenceName: "tench", ONNX: 391, ONNXName: "coho"}},
	}
	l := &Layers{Batch: []int{2, 3, 224, 224}}
	add := func(name string, shape []int, maxAbs float64) {
		bound := 2e-5 + 1e-5*20
		l.Rows = append(l.Rows, Layer{Module: name, Value: name, Shape: shape, MaxAbs: maxAbs, MaxRel: maxAbs / 20,
			Cosine: 1, Bound: bound, Compared: true, Pass: maxAbs <= bound})
	}
	add("conv1", []int{2, 64, 112, 112}, 5.7e-6)
	add("maxpool1", []int{2, 64, 56, 56}, 0)
	add("conv2", []int{2, 64, 56, 56}, 8e-6)
	add("conv3", []int{2, 192, 56, 56}, 1.1e-5)
	for _, u := range []string{"inception3a", "inception3b", "inception4a"} {
		for b := 1; b <= 4; b++ {
			e := 1.5e-5
			if u == "inception4a" && b >= 3 {
				e = 62.5
			}
			add(fmt.Sprintf("%s.branch%d.0", u, b), []int{2, 16, 28, 28}, e)
		}
		e := 2e-5
		if u == "inception4a" {
			e = 62.5
		}
		add(u, []int{2, 256, 28, 28}, e)
	}
	l.Rows = append(l.Rows, Layer{Module: "aux1.conv", Shape: []int{2, 128, 4, 4}, Detail: "no value of the file computes it"})
	add("logits", []int{2, 1000}, math.Inf(1))
	l.First, l.FirstMaxAbs = "inception4a.branch3.0", 62.5
	d.Layers = l
	for i := 0; i < 1000; i++ {
		d.Errors.Add(float64(i%37+1) * 1e-7)
	}
	d.Errors.Add(0)
	d.Errors.Add(62.5)
	d.Errors.Add(math.NaN())
	return d
}

// Package htmlreport renders a verification as one self-contained HTML
// file: tables and inline SVG charts, no scripts, fonts, style sheets or
// images from anywhere else, so the page can be archived with a CI run
// and opened offline. Its input is plain data (Data), which the CLI fills
// from verify.Report, verify.LayersReport and an images run.
//
// Every string in Data may come from an untrusted file (a module, output
// or image name); the page escapes all of them and shows control and
// bidirectional characters as escapes. The output depends on Data alone:
// no clock, no map order, so two renderings of one Data are byte-equal.
package htmlreport

// Data is what one report shows. Empty parts are left out of the page or
// said to be missing: a nil Layers, an empty Errors, no Classes.
type Data struct {
	// Title heads the page; "" means "gnconv verify: " and the model.
	Title string
	// Model and Weights name the ONNX file and the checkpoint.
	Model, Weights string
	// Generated is shown as given (a date, a version); "" shows nothing,
	// which keeps the page reproducible.
	Generated string

	// Pass is the verdict; Verdict, when set, is its one-line reason
	// (the failing outputs, the first divergence).
	Pass    bool
	Verdict string

	Settings Settings
	// Outputs compares each output of the file, in the file's order.
	Outputs []Output
	// Checks are further pass/fail checks: the structure read by a second
	// decoder, PyTorch's recorded outputs.
	Checks []Check
	// Layers compares every module's output on one batch; nil when the
	// comparison did not run.
	Layers *Layers
	// Errors is the histogram of |ONNX − reference| over every output
	// value that was compared.
	Errors Histogram
	// ErrorsOf names what Errors counts (e.g. "logits, aux1, aux2 on 3
	// batches"); "" says nothing.
	ErrorsOf string
	// TopK is the share of images whose top-k classes agree, per output.
	TopK []TopK
	// Classes are per-class accuracies over labelled images; empty when
	// no labels were given.
	Classes []Class
	// Disagreements are images whose top-1 class differs between the ONNX
	// file and the reference; the page lists at most MaxDisagreements.
	// DisagreementsTotal counts all of them when the list given was cut
	// (0: len(Disagreements)).
	Disagreements      []Disagreement
	DisagreementsTotal int
}

// Settings are what the run used.
type Settings struct {
	// ATol and RTol: an output passes when max abs ≤ ATol + RTol × max
	// |reference|.
	ATol, RTol float64
	// Kernel is the micro-kernel that ran (kernels.KernelName()).
	Kernel string
	// Input describes the inputs: "1 random batch of 2 (seed 0)".
	Input string
	// Preprocessing describes how images became tensors; "" for none.
	Preprocessing string
	// Images is the number of images run (0: none).
	Images int
	// Opset is the file's ONNX opset (0: unknown).
	Opset int
	// Other settings, shown in order after the ones above.
	Other []Field
}

// Field is one named value.
type Field struct{ Name, Value string }

// Output compares one output of the file with the reference.
type Output struct {
	Name      string // the file's output
	Reference string // logits, aux1 or aux2
	MaxAbs    float64
	Bound     float64
	MaxRel    float64
	Cosine    float64
	Top1      float64 // share of images, 0 to 1
	Top5      float64
	Pass      bool
	// Detail says how shapes differ, when they do.
	Detail string
}

// Check is one further check.
type Check struct {
	Name   string
	Pass   bool
	Detail string
}

// Layers is the layer-by-layer comparison.
type Layers struct {
	// Batch is the shape of the batch compared.
	Batch []int
	// Rows are the modules in network order.
	Rows []Layer
	// First is the first module whose error exceeds its bound ("" when
	// none does), FirstMaxAbs its max abs error.
	First       string
	FirstMaxAbs float64
	// Error says why the comparison could not run.
	Error string
}

// Layer compares one module's output.
type Layer struct {
	Module string
	Value  string // the file's value compared with it
	Shape  []int
	MaxAbs float64
	MaxRel float64
	Cosine float64
	Bound  float64
	// Compared is false when no value of the file computes the module;
	// Detail then says why (or how shapes differ when compared).
	Compared bool
	Pass     bool
	Detail   string
}

// TopK is one output's top-k agreement.
type TopK struct {
	Output string
	Points []KShare
}

// KShare is the share (0 to 1) of images whose k top classes agree as a
// set.
type KShare struct {
	K     int
	Share float64
}

// Class is one class over labelled images.
type Class struct {
	Index int
	Name  string
	// Images labelled with the class, and how many of them the reference
	// and the ONNX file classify correctly (top-1).
	Images, ReferenceCorrect, ONNXCorrect int
}

// Disagreement is an image whose top-1 class differs.
type Disagreement struct {
	File                    string
	Reference, ONNX         int // classes
	ReferenceName, ONNXName string
}

// MaxDisagreements caps the images listed.
const MaxDisagreements = 100

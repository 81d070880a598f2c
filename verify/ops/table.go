package ops

// table is every operator the interpreter runs, by op_type. Adding an
// operator is a file of its own and a line here.
var table = map[string]*Op{
	"Add":                Add,
	"AveragePool":        AveragePool,
	"BatchNormalization": BatchNormalization,
	"Cast":               Cast,
	"Concat":             Concat,
	"Constant":           Constant,
	"Conv":               Conv,
	"Div":                Div,
	"Dropout":            Dropout,
	"Flatten":            Flatten,
	"Gather":             Gather,
	"Gemm":               Gemm,
	"GlobalAveragePool":  GlobalAveragePool,
	"Identity":           Identity,
	"LRN":                LRN,
	"MatMul":             MatMul,
	"MaxPool":            MaxPool,
	"Mul":                Mul,
	"Pad":                Pad,
	"ReduceMean":         ReduceMean,
	"Relu":               Relu,
	"Reshape":            Reshape,
	"Shape":              Shape,
	"Slice":              Slice,
	"Softmax":            Softmax,
	"Squeeze":            Squeeze,
	"Sub":                Sub,
	"Unsqueeze":          Unsqueeze,
}

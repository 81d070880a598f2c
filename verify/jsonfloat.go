package verify

import (
	"encoding/json"
	"math"
	"strconv"
)

// jsonFloat encodes a float64 as a JSON number, or, where JSON has none,
// as the string "NaN", "+Inf" or "-Inf": a report on a file whose outputs
// are not finite still prints.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// MarshalJSON writes the report with non-finite errors as strings (see
// jsonFloat); it serves Report and ExpectReport, which hold OutputReports.
func (o OutputReport) MarshalJSON() ([]byte, error) {
	type plain OutputReport // the same fields, without this method
	return json.Marshal(struct {
		plain
		MaxAbs jsonFloat `json:"max_abs_error"`
		MaxRel jsonFloat `json:"max_rel_error"`
		Cosine jsonFloat `json:"cosine_similarity"`
		Top1   jsonFloat `json:"top1_agreement"`
		Top5   jsonFloat `json:"top5_agreement"`
		Bound  jsonFloat `json:"bound"`
	}{plain(o), jsonFloat(o.MaxAbs), jsonFloat(o.MaxRel), jsonFloat(o.Cosine), jsonFloat(o.Top1), jsonFloat(o.Top5), jsonFloat(o.Bound)})
}

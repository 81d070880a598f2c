package interop

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/tensor"
)

type loadScenario struct {
	Name    string            `json:"name"`
	File    string            `json:"file"`
	Drop    []string          `json:"drop,omitempty"`
	Rename  map[string]string `json:"rename,omitempty"`
	Layout  string            `json:"layout"`
	Aux     bool              `json:"aux"`
	Classes int               `json:"classes"`
}

type torchVerdict struct {
	StrictError    *string  `json:"strict_error"`
	NonStrictError *string  `json:"nonstrict_error"`
	Missing        []string `json:"missing"`
	Unexpected     []string `json:"unexpected"`
}

var loadScenarios = []loadScenario{
	{Name: "exact", File: "torchvision_aux.pth", Layout: "torchvision", Aux: true, Classes: 7},
	{Name: "deploy_net_training_ckpt", File: "torchvision_aux.pth", Layout: "torchvision", Aux: false, Classes: 7},
	{Name: "training_net_deploy_ckpt", File: "torchvision_aux.pth", Drop: []string{"aux1.", "aux2."}, Layout: "torchvision", Aux: true, Classes: 7},
	{Name: "wrong_classes", File: "torchvision_aux.pth", Layout: "torchvision", Aux: true, Classes: 10},
	{Name: "tutorial_ckpt_torchvision_net", File: "tutorial_aux.pth", Layout: "torchvision", Aux: true, Classes: 10},
	{Name: "torchvision_ckpt_tutorial_net", File: "torchvision_aux.pth", Layout: "tutorial", Aux: true, Classes: 7},
	{Name: "tutorial_deploy", File: "tutorial_aux.pth", Layout: "tutorial", Aux: false, Classes: 10},
	{Name: "misspelled_key", File: "tutorial_aux.pth", Rename: map[string]string{"inception4b.branch2.1.conv.weight": "inception4b.branch2.1.conv.weights"}, Layout: "tutorial", Aux: true, Classes: 10},
	{Name: "stray_keys", File: "tutorial_aux.pth", Rename: map[string]string{"conv2.conv.bias": "conv2.bn.bias", "fc.bias": "head.bias"}, Layout: "tutorial", Aux: true, Classes: 10},
}

func scenarioStateDict(t *testing.T, sc loadScenario) *tensor.StateDict {
	ck, err := fixture.Checkpoint(sc.File)
	if err != nil {
		t.Fatal(err)
	}
	sd := tensor.NewStateDict()
	for _, n := range ck.StateDict.Names {
		drop := false
		for _, p := range sc.Drop {
			drop = drop || strings.HasPrefix(n, p)
		}
		if drop {
			continue
		}
		name := n
		if r, ok := sc.Rename[n]; ok {
			name = r
		}
		sd.Set(name, ck.StateDict.Tensors[n])
	}
	return sd
}

// TestLoadMatchesPyTorch binds the same state dicts to the same networks
// as PyTorch's load_state_dict and expects its verdicts and its words.
func TestLoadMatchesPyTorch(t *testing.T) {
	requirePython(t, "torch", "torchvision")
	in, _ := json.Marshal(loadScenarios)
	cmd := exec.Command(debianPython, "torch_load_messages.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var verdicts map[string]torchVerdict
	if err := json.Unmarshal(out, &verdicts); err != nil {
		t.Fatal(err)
	}
	for _, sc := range loadScenarios {
		t.Run(sc.Name, func(t *testing.T) {
			want, ok := verdicts[sc.Name]
			if !ok {
				t.Fatal("no verdict from torch")
			}
			sd := scenarioStateDict(t, sc)
			layout, _ := graph.ParseLayout(sc.Layout)
			aux := graph.AuxOff
			if sc.Aux {
				aux = graph.AuxOn
			}
			for _, strict := range []bool{true, false} {
				_, rep, err := graph.Load(sd, graph.Options{Layout: layout, Classes: sc.Classes, Aux: aux, NonStrict: !strict})
				wantErr := want.StrictError
				if !strict {
					wantErr = want.NonStrictError
				}
				var le *graph.LoadError
				switch {
				case wantErr == nil && err != nil:
					t.Errorf("strict=%v: torch loads, gnconv says %v", strict, err)
				case wantErr != nil && !errors.As(err, &le):
					t.Errorf("strict=%v: torch fails, gnconv says %v", strict, err)
				case wantErr != nil && le.TorchMessage() != *wantErr:
					t.Errorf("strict=%v: message differs\n gnconv: %.600q\n  torch: %.600q", strict, le.TorchMessage(), *wantErr)
				}
				if !strict && wantErr == nil {
					if !reflect.DeepEqual(nonNil(rep.Missing), nonNil(want.Missing)) {
						t.Errorf("missing %v, torch %v", rep.Missing, want.Missing)
					}
					if !reflect.DeepEqual(nonNil(rep.Unexpected), nonNil(want.Unexpected)) {
						t.Errorf("unexpected %v, torch %v", rep.Unexpected, want.Unexpected)
					}
				}
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

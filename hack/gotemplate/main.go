// Command gotemplate evaluates values templates the way the Cluster Stack Operator does:
// Go's text/template with slim-sprig's TxtFuncMap (the version CSO pins), the dot being a map
// of unstructured objects whose JSON integers are int64 and other numbers float64. It reads a
// JSON list of {"template", "data"} cases on stdin and prints a JSON list of {"output",
// "error"}. The test suite builds it as an oracle for csops's evaluation through Helm.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	sprig "github.com/go-task/slim-sprig"
)

type testCase struct {
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
}

type result struct {
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
}

// decode reads JSON like Kubernetes' unstructured decoder: integers int64, else float64.
func decode(raw json.RawMessage) (map[string]interface{}, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v map[string]interface{}
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return convert(v).(map[string]interface{}), nil
}

func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			x[k] = convert(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = convert(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	default:
		return v
	}
}

func evaluate(c testCase) result {
	data, err := decode(c.Data)
	if err != nil {
		return result{Error: err.Error()}
	}
	tmpl, err := template.New("cluster-addon-values-oracle").Funcs(sprig.TxtFuncMap()).Parse(c.Template)
	if err != nil {
		return result{Error: err.Error()}
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		return result{Error: err.Error()}
	}
	return result{Output: out.String()}
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = evaluate(c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Command xmodoracle answers questions with golang.org/x/mod's own code, so tests can
// compare gomodproxy's Python implementation with Go's on the same inputs.
//
// Protocol: one JSON object per input line, {"op": "family.name", "args": {...}};
// one JSON object per output line, {"result": ...} or {"error": "..."}, in input order.
// Each op lives in the file of its family and registers itself in ops from an init func.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

type request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args"`
}

type response struct {
	Result any    `json:"result"`
	Error  string `json:"error,omitempty"`
	HasErr bool   `json:"has_error"`
}

// ops maps an op name to its handler; handlers return a result or an error whose text is
// compared with ours.
var ops = map[string]func(json.RawMessage) (any, error){}

func register(name string, fn func(json.RawMessage) (any, error)) {
	if _, dup := ops[name]; dup {
		panic("duplicate op " + name)
	}
	ops[name] = fn
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for in.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp = response{Error: "oracle: bad request: " + err.Error(), HasErr: true}
		} else if fn, ok := ops[req.Op]; !ok {
			resp = response{Error: fmt.Sprintf("oracle: unknown op %q", req.Op), HasErr: true}
		} else if res, err := fn(req.Args); err != nil {
			resp = response{Result: res, Error: err.Error(), HasErr: true}
		} else {
			resp = response{Result: res}
		}
		if err := enc.Encode(resp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

package main

import (
	"encoding/json"
	"path"

	"golang.org/x/mod/module"
)

func init() {
	// globs.match: MatchPrefixPatterns(globs, target).
	register("globs.match", func(raw json.RawMessage) (any, error) {
		var a struct{ Globs, Target string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return module.MatchPrefixPatterns(a.Globs, a.Target), nil
	})
	// globs.path_match: path.Match(pattern, name) as [matched, error text].
	register("globs.path_match", func(raw json.RawMessage) (any, error) {
		var a struct{ Pattern, Name string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		ok, err := path.Match(a.Pattern, a.Name)
		return []any{ok, modErrText(err)}, nil
	})
}

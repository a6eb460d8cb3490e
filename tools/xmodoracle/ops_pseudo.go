package main

import (
	"encoding/json"
	"time"

	"golang.org/x/mod/module"
)

func init() {
	// pseudo.build: PseudoVersion(major, older, t, rev) with t in RFC 3339 (any offset).
	register("pseudo.build", func(raw json.RawMessage) (any, error) {
		var a struct{ Major, Older, Time, Rev string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339, a.Time)
		if err != nil {
			return nil, err
		}
		return module.PseudoVersion(a.Major, a.Older, t, a.Rev), nil
	})
	// pseudo.zero: ZeroPseudoVersion(major).
	register("pseudo.zero", func(raw json.RawMessage) (any, error) {
		var a struct{ Major string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return module.ZeroPseudoVersion(a.Major), nil
	})
	// pseudo.parse: every recognizer and accessor of one version string; errors as text.
	register("pseudo.parse", func(raw json.RawMessage) (any, error) {
		var a struct{ V string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		var tv any
		t, terr := module.PseudoVersionTime(a.V)
		if terr == nil {
			tv = t.UTC().Format(time.RFC3339)
		}
		rev, rerr := module.PseudoVersionRev(a.V)
		base, berr := module.PseudoVersionBase(a.V)
		return map[string]any{
			"is_pseudo":      module.IsPseudoVersion(a.V),
			"is_zero_pseudo": module.IsZeroPseudoVersion(a.V),
			"time":           []any{tv, modErrText(terr)},
			"rev":            []any{rev, modErrText(rerr)},
			"base":           []any{base, modErrText(berr)},
		}, nil
	})
}

package main

import (
	"encoding/json"

	"golang.org/x/mod/semver"
)

func init() {
	register("semver.all", func(raw json.RawMessage) (any, error) {
		var a struct{ V string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return map[string]any{
			"is_valid":    semver.IsValid(a.V),
			"canonical":   semver.Canonical(a.V),
			"major":       semver.Major(a.V),
			"major_minor": semver.MajorMinor(a.V),
			"prerelease":  semver.Prerelease(a.V),
			"build":       semver.Build(a.V),
		}, nil
	})
	register("semver.compare", func(raw json.RawMessage) (any, error) {
		var a struct{ V, W string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return semver.Compare(a.V, a.W), nil
	})
	register("semver.sort", func(raw json.RawMessage) (any, error) {
		var a struct{ List []string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		semver.Sort(a.List)
		return a.List, nil
	})
	register("semver.max", func(raw json.RawMessage) (any, error) {
		var a struct{ V, W string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return semver.Max(a.V, a.W), nil
	})
}

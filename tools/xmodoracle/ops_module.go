package main

import (
	"encoding/json"
	"strconv"
	"unicode"

	"golang.org/x/mod/module"
)

func modErrText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func init() {
	// module.paths: every path check and escaping of one string, errors as text (nil = ok).
	register("module.paths", func(raw json.RawMessage) (any, error) {
		var a struct{ P string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		prefix, major, ok := module.SplitPathVersion(a.P)
		esc, escErr := module.EscapePath(a.P)
		unesc, unescErr := module.UnescapePath(a.P)
		escV, escVErr := module.EscapeVersion(a.P)
		unescV, unescVErr := module.UnescapeVersion(a.P)
		return map[string]any{
			"check_path":        modErrText(module.CheckPath(a.P)),
			"check_import_path": modErrText(module.CheckImportPath(a.P)),
			"check_file_path":   modErrText(module.CheckFilePath(a.P)),
			"split":             []any{prefix, major, ok},
			"escape_path":       []any{esc, modErrText(escErr)},
			"unescape_path":     []any{unesc, modErrText(unescErr)},
			"escape_version":    []any{escV, modErrText(escVErr)},
			"unescape_version":  []any{unescV, modErrText(unescVErr)},
			"canonical_version": module.CanonicalVersion(a.P),
		}, nil
	})
	// module.check: Check(path, version) and CheckPathMajor(version, pathMajor).
	register("module.check", func(raw json.RawMessage) (any, error) {
		var a struct{ Path, Version, PathMajor string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return map[string]any{
			"check":            modErrText(module.Check(a.Path, a.Version)),
			"check_path_major": modErrText(module.CheckPathMajor(a.Version, a.PathMajor)),
			"match_path_major": module.MatchPathMajor(a.Version, a.PathMajor),
		}, nil
	})
	// module.sort: Sort of path/version pairs.
	register("module.sort", func(raw json.RawMessage) (any, error) {
		var a struct{ List [][2]string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		list := make([]module.Version, len(a.List))
		for i, p := range a.List {
			list[i] = module.Version{Path: p[0], Version: p[1]}
		}
		module.Sort(list)
		out := make([][2]string, len(list))
		for i, m := range list {
			out[i] = [2]string{m.Path, m.Version}
		}
		return out, nil
	})
	// go.quote: strconv.Quote and QuoteRune of each rune, the quoting used by x/mod's errors.
	register("go.quote", func(raw json.RawMessage) (any, error) {
		var a struct{ S string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		runes := []string{}
		for _, r := range a.S {
			runes = append(runes, strconv.QuoteRune(r))
		}
		return map[string]any{"quote": strconv.Quote(a.S), "runes": runes}, nil
	})
	// go.unicode: the version of Go's Unicode tables and the ranges of IsLetter and IsPrint.
	register("go.unicode", func(raw json.RawMessage) (any, error) {
		return map[string]any{
			"version": unicode.Version,
			"letter":  modRuneRanges(unicode.IsLetter),
			"print":   modRuneRanges(strconv.IsPrint),
		}, nil
	})
}

// modRuneRanges lists the inclusive [lo, hi] ranges of runes for which f is true.
func modRuneRanges(f func(rune) bool) [][2]rune {
	var out [][2]rune
	start := rune(-1)
	for r := rune(0); r <= unicode.MaxRune+1; r++ {
		in := r <= unicode.MaxRune && f(r)
		if in && start < 0 {
			start = r
		} else if !in && start >= 0 {
			out = append(out, [2]rune{start, r - 1})
			start = -1
		}
	}
	return out
}

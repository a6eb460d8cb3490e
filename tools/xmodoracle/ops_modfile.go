package main

import (
	"encoding/json"

	"golang.org/x/mod/modfile"
)

func init() {
	// modfile.parse: modfile.ParseLax (or Parse when Strict) of Data with no version fixer,
	// reduced to what gomodproxy.gomod.modfile reports; the ErrorList text on failure.
	register("modfile.parse", func(raw json.RawMessage) (any, error) {
		var a struct {
			Data   string
			Strict bool
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		parse := modfile.ParseLax
		if a.Strict {
			parse = modfile.Parse
		}
		f, err := parse("go.mod", []byte(a.Data), nil)
		if err != nil {
			return nil, err
		}
		out := map[string]any{
			"module": nil, "deprecated": "", "go": nil, "toolchain": nil,
			"require": [][]any{}, "retract": [][]any{}, "ignore": []string{},
			"exclude": [][]any{}, "replace": [][]any{}, "godebug": [][]any{}, "tool": []string{},
		}
		if f.Module != nil {
			out["module"] = f.Module.Mod.Path
			out["deprecated"] = f.Module.Deprecated
		}
		if f.Go != nil {
			out["go"] = f.Go.Version
		}
		if f.Toolchain != nil {
			out["toolchain"] = f.Toolchain.Name
		}
		req := [][]any{}
		for _, r := range f.Require {
			req = append(req, []any{r.Mod.Path, r.Mod.Version, r.Indirect})
		}
		out["require"] = req
		ret := [][]any{}
		for _, r := range f.Retract {
			ret = append(ret, []any{r.Low, r.High, r.Rationale})
		}
		out["retract"] = ret
		ign := []string{}
		for _, i := range f.Ignore {
			ign = append(ign, i.Path)
		}
		out["ignore"] = ign
		exc := [][]any{}
		for _, e := range f.Exclude {
			exc = append(exc, []any{e.Mod.Path, e.Mod.Version})
		}
		out["exclude"] = exc
		rep := [][]any{}
		for _, r := range f.Replace {
			rep = append(rep, []any{r.Old.Path, r.Old.Version, r.New.Path, r.New.Version})
		}
		out["replace"] = rep
		gd := [][]any{}
		for _, g := range f.Godebug {
			gd = append(gd, []any{g.Key, g.Value})
		}
		out["godebug"] = gd
		tools := []string{}
		for _, t := range f.Tool {
			tools = append(tools, t.Path)
		}
		out["tool"] = tools
		return out, nil
	})
	// modfile.module_path: modfile.ModulePath(Data).
	register("modfile.module_path", func(raw json.RawMessage) (any, error) {
		var a struct{ Data string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return modfile.ModulePath([]byte(a.Data)), nil
	})
}

package main

import (
	"encoding/json"
	"go/version"
	"net/url"
)

// The go command checks GOPROXY entries and GOSUMDB names with net/url and prints its errors,
// so gomodproxy ports url.Parse; this op answers with the real one.
func init() {
	// goenv.url: url.Parse(S), its fields, String() and Redacted(); the error text on failure.
	register("goenv.url", func(raw json.RawMessage) (any, error) {
		var a struct{ S string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		u, err := url.Parse(a.S)
		if err != nil {
			return nil, err
		}
		var user any
		if u.User != nil {
			pw, set := u.User.Password()
			if set {
				user = []any{u.User.Username(), pw}
			} else {
				user = []any{u.User.Username(), nil}
			}
		}
		return map[string]any{
			"scheme":       u.Scheme,
			"opaque":       u.Opaque,
			"user":         user,
			"host":         u.Host,
			"path":         u.Path,
			"raw_path":     u.RawPath,
			"force_query":  u.ForceQuery,
			"raw_query":    u.RawQuery,
			"fragment":     u.Fragment,
			"raw_fragment": u.RawFragment,
			"omit_host":    u.OmitHost,
			"string":       u.String(),
			"redacted":     u.Redacted(),
		}, nil
	})
	// gover.all: go/version (internal/gover behind a "go" prefix) on V and W, which hold no "-".
	register("gover.all", func(raw json.RawMessage) (any, error) {
		var a struct{ V, W string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return map[string]any{
			"is_valid": version.IsValid("go" + a.V),
			"lang":     version.Lang("go" + a.V),
			"compare":  version.Compare("go"+a.V, "go"+a.W),
		}, nil
	})
}

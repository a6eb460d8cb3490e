"""The pure core: Go module semantics byte-compatible with golang.org/x/mod and cmd/go.

No I/O, no environment, no clocks, no asyncio (tests/unit/test_purity.py enforces it).

- ``semver``    Go's semantic versions (golang.org/x/mod/semver)
- ``module``    module paths and versions: checks, escaping, major-version rules
- ``pseudo``    pseudo-versions (golang.org/x/mod/module/pseudo.go)
- ``globs``     GOPRIVATE-style prefix-glob lists (module.MatchPrefixPatterns)
- ``goenv``     GOPROXY/GOSUMDB/GOVCS/GOFLAGS grammars, go env file, effective values
- ``modfile``   the go.mod subset a proxy needs (module, go, toolchain, retract, Deprecated)
- ``modzip``    module zip file selection and checks (golang.org/x/mod/zip)
- ``dirhash``   h1: hashes (golang.org/x/mod/sumdb/dirhash)
"""

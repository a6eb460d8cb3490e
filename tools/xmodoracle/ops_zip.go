package main

// Ops of the zip and dirhash families: golang.org/x/mod/zip and golang.org/x/mod/sumdb/dirhash.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// memFile is a zip.File held in memory; Size may lie about len(Data) to exercise the limits.
type memFile struct {
	P    string
	Kind string // "file", "dir", "symlink" or "other"
	Size int64
	Data []byte
}

func (f memFile) Path() string                 { return f.P }
func (f memFile) Lstat() (os.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.Data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return path.Base(i.f.P) }
func (i memInfo) Size() int64        { return i.f.Size }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.f.Kind == "dir" }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	switch i.f.Kind {
	case "dir":
		return fs.ModeDir | 0o755
	case "symlink":
		return fs.ModeSymlink | 0o777
	case "other":
		return fs.ModeNamedPipe | 0o644
	}
	return 0o644
}

type fileErr struct {
	Path string `json:"path"`
	Err  string `json:"err"`
}

func checked(cf modzip.CheckedFiles, trim string) map[string]any {
	conv := func(l []modzip.FileError) []fileErr {
		out := []fileErr{}
		for _, e := range l {
			out = append(out, fileErr{strings.TrimPrefix(e.Path, trim), e.Err.Error()})
		}
		return out
	}
	valid := []string{}
	for _, v := range cf.Valid {
		valid = append(valid, strings.TrimPrefix(v, trim))
	}
	sizeErr := ""
	if cf.SizeError != nil {
		sizeErr = cf.SizeError.Error()
	}
	return map[string]any{"valid": valid, "omitted": conv(cf.Omitted), "invalid": conv(cf.Invalid), "size_error": sizeErr}
}

// zipSummary is what a created zip is compared by: its h1 and its sorted entry names.
func zipSummary(zipPath string) (map[string]any, error) {
	h, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return nil, err
	}
	names, err := zipNames(zipPath)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return map[string]any{"hash": h, "files": names}, nil
}

func zipNames(zipPath string) ([]string, error) {
	data, err := os.ReadFile(zipPath)
	if err != nil {
		return nil, err
	}
	// The central directory lists the names; archive/zip is the simplest reader.
	return readNames(data)
}

// strToFold is x/mod zip's unexported strToFold, repeated here to print its table.
func strToFold(r rune) rune {
	for {
		r0 := r
		r = unicode.SimpleFold(r0)
		if r <= r0 {
			break
		}
	}
	if 'A' <= r && r <= 'Z' {
		r += 'a' - 'A'
	}
	return r
}

func init() {
	register("zip.create_from_dir", func(raw json.RawMessage) (any, error) {
		var a struct{ Path, Version, Dir, Out string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		cf, _ := modzip.CheckDir(a.Dir)
		res := map[string]any{"check": checked(cf, a.Dir+string(filepath.Separator))}
		f, err := os.Create(a.Out)
		if err != nil {
			return nil, err
		}
		err = modzip.CreateFromDir(f, module.Version{Path: a.Path, Version: a.Version}, a.Dir)
		f.Close()
		if err != nil {
			os.Remove(a.Out)
			return res, err
		}
		sum, err := zipSummary(a.Out)
		for k, v := range sum {
			res[k] = v
		}
		return res, err
	})
	register("zip.create", func(raw json.RawMessage) (any, error) {
		var a struct {
			Path, Version, Out string
			Files              []memFile
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		files := make([]modzip.File, len(a.Files))
		for i, f := range a.Files {
			files[i] = f
		}
		cf, _ := modzip.CheckFiles(files)
		res := map[string]any{"check": checked(cf, "")}
		var buf bytes.Buffer
		if err := modzip.Create(&buf, module.Version{Path: a.Path, Version: a.Version}, files); err != nil {
			return res, err
		}
		if err := os.WriteFile(a.Out, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
		sum, err := zipSummary(a.Out)
		for k, v := range sum {
			res[k] = v
		}
		return res, err
	})
	register("zip.check", func(raw json.RawMessage) (any, error) {
		var a struct{ Path, Version, Zip string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		cf, err := modzip.CheckZip(module.Version{Path: a.Path, Version: a.Version}, a.Zip)
		return checked(cf, ""), err
	})
	register("zip.fold_table", func(raw json.RawMessage) (any, error) {
		out := [][2]rune{}
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if !utf8.ValidRune(r) {
				continue
			}
			if f := strToFold(r); f != r {
				out = append(out, [2]rune{r, f})
			}
		}
		return out, nil
	})
	register("dirhash.hash1", func(raw json.RawMessage) (any, error) {
		var a struct {
			Names []string
			Data  [][]byte
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		data := map[string][]byte{}
		for i, n := range a.Names {
			data[n] = a.Data[i]
		}
		return dirhash.Hash1(a.Names, func(name string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data[name])), nil
		})
	})
	register("dirhash.hash_zip", func(raw json.RawMessage) (any, error) {
		var a struct{ Zip string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return dirhash.HashZip(a.Zip, dirhash.Hash1)
	})
}

func readNames(data []byte) ([]string, error) {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(z.File))
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	return names, nil
}

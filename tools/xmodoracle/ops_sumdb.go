package main

// Checksum-database ops: signed notes (sumdb/note) and transparent logs (sumdb/tlog).
// Byte strings travel as standard base64 ("B64" fields) because notes and records under test
// may be invalid UTF-8.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type sdbSig struct {
	Name   string `json:"name"`
	Hash   uint32 `json:"hash"`
	Base64 string `json:"base64"`
}

func sdbSigs(list []note.Signature) []sdbSig {
	out := []sdbSig{}
	for _, s := range list {
		out = append(out, sdbSig{s.Name, s.Hash, s.Base64})
	}
	return out
}

func sdbHashes(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, h.String())
	}
	return out
}

func sdbParseHashes(list []string) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for _, s := range list {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// sdbProofArgs decodes {Proof, T, TH, N, H} for the proof-checking ops.
func sdbProofArgs(raw json.RawMessage) (p []tlog.Hash, t int64, th tlog.Hash, n int64, h tlog.Hash, err error) {
	var a struct {
		Proof []string
		T, N  int64
		TH, H string
	}
	if err = json.Unmarshal(raw, &a); err != nil {
		return
	}
	if p, err = sdbParseHashes(a.Proof); err != nil {
		return
	}
	if th, err = tlog.ParseHash(a.TH); err != nil {
		return
	}
	h, err = tlog.ParseHash(a.H)
	return p, a.T, th, a.N, h, err
}

// sdbLog is a log built from record texts, as a server would store it.
type sdbLog struct {
	hashes []tlog.Hash
}

func (m *sdbLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("index %d out of range", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func sdbBuildLog(records []string) (*sdbLog, error) {
	m := &sdbLog{}
	for i, r := range records {
		hs, err := tlog.StoredHashes(int64(i), []byte(r), m)
		if err != nil {
			return nil, err
		}
		m.hashes = append(m.hashes, hs...)
	}
	return m, nil
}

// sdbTamperedTiles serves the true tiles of a log, except one byte flipped in one tile path.
type sdbTamperedTiles struct {
	log    *sdbLog
	height int
	flip   string
	at     int
}

func (t *sdbTamperedTiles) Height() int { return t.height }

func (t *sdbTamperedTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		data, err := tlog.ReadTileData(tile, t.log)
		if err != nil {
			return nil, err
		}
		if tile.Path() == t.flip && t.at < len(data) {
			data[t.at] ^= 1
		}
		out[i] = data
	}
	return out, nil
}

func (t *sdbTamperedTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func init() {
	register("note.verifier", func(raw json.RawMessage) (any, error) {
		var a struct{ Key string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		v, err := note.NewVerifier(a.Key)
		if err != nil {
			return nil, err
		}
		return map[string]any{"name": v.Name(), "hash": v.KeyHash()}, nil
	})
	register("note.signer", func(raw json.RawMessage) (any, error) {
		var a struct{ Key string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		s, err := note.NewSigner(a.Key)
		if err != nil {
			return nil, err
		}
		return map[string]any{"name": s.Name(), "hash": s.KeyHash()}, nil
	})
	register("note.generate", func(raw json.RawMessage) (any, error) {
		var a struct {
			Name    string
			SeedB64 string
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		seed, err := base64.StdEncoding.DecodeString(a.SeedB64)
		if err != nil {
			return nil, err
		}
		skey, vkey, err := note.GenerateKey(bytes.NewReader(seed), a.Name)
		if err != nil {
			return nil, err
		}
		return map[string]any{"skey": skey, "vkey": vkey}, nil
	})
	register("note.open", func(raw json.RawMessage) (any, error) {
		var a struct {
			MsgB64 string
			Keys   []string
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		msg, err := base64.StdEncoding.DecodeString(a.MsgB64)
		if err != nil {
			return nil, err
		}
		var vs []note.Verifier
		for _, k := range a.Keys {
			v, err := note.NewVerifier(k)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		n, err := note.Open(msg, note.VerifierList(vs...))
		if err != nil {
			if e, ok := err.(*note.UnverifiedNoteError); ok {
				return map[string]any{"text": e.Note.Text, "unverified": sdbSigs(e.Note.UnverifiedSigs)}, err
			}
			return nil, err
		}
		return map[string]any{"text": n.Text, "sigs": sdbSigs(n.Sigs), "unverified": sdbSigs(n.UnverifiedSigs)}, nil
	})
	register("note.sign", func(raw json.RawMessage) (any, error) {
		var a struct {
			Text    string
			Signers []string
			Sigs    []sdbSig
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		var ss []note.Signer
		for _, k := range a.Signers {
			s, err := note.NewSigner(k)
			if err != nil {
				return nil, err
			}
			ss = append(ss, s)
		}
		n := &note.Note{Text: a.Text}
		for _, s := range a.Sigs {
			n.UnverifiedSigs = append(n.UnverifiedSigs, note.Signature{Name: s.Name, Hash: s.Hash, Base64: s.Base64})
		}
		out, err := note.Sign(n, ss...)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString(out), nil
	})
	register("tlog.parse_tree", func(raw json.RawMessage) (any, error) {
		var a struct{ TextB64 string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		text, err := base64.StdEncoding.DecodeString(a.TextB64)
		if err != nil {
			return nil, err
		}
		t, err := tlog.ParseTree(text)
		if err != nil {
			return nil, err
		}
		return map[string]any{"n": t.N, "hash": t.Hash.String(), "format": string(tlog.FormatTree(t))}, nil
	})
	register("tlog.parse_record", func(raw json.RawMessage) (any, error) {
		var a struct{ MsgB64 string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		msg, err := base64.StdEncoding.DecodeString(a.MsgB64)
		if err != nil {
			return nil, err
		}
		id, text, rest, err := tlog.ParseRecord(msg)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"id":   id,
			"text": base64.StdEncoding.EncodeToString(text),
			"rest": base64.StdEncoding.EncodeToString(rest),
		}, nil
	})
	register("tlog.tile_path", func(raw json.RawMessage) (any, error) {
		var a struct{ Path string }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		t, err := tlog.ParseTilePath(a.Path)
		if err != nil {
			return nil, err
		}
		return map[string]any{"h": t.H, "l": t.L, "n": t.N, "w": t.W}, nil
	})
	register("tlog.new_tiles", func(raw json.RawMessage) (any, error) {
		var a struct {
			H        int
			Old, New int64
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		out := []string{}
		for _, t := range tlog.NewTiles(a.H, a.Old, a.New) {
			out = append(out, t.Path())
		}
		return out, nil
	})
	register("tlog.split_index", func(raw json.RawMessage) (any, error) {
		var a struct{ Index int64 }
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		level, n := tlog.SplitStoredHashIndex(a.Index)
		return map[string]any{
			"level": level, "n": n,
			"count": tlog.StoredHashCount(a.Index),
			"tile":  tlog.TileForIndex(8, a.Index).Path(),
		}, nil
	})
	// tlog.log builds a log from records and answers, for it: all stored hashes, the tree hash
	// of every size, record proofs and tree proofs for the requested (t, n) pairs, and the
	// data of the requested tiles.
	register("tlog.log", func(raw json.RawMessage) (any, error) {
		var a struct {
			Records      []string
			RecordProofs [][2]int64
			TreeProofs   [][2]int64
			Tiles        []string
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		m, err := sdbBuildLog(a.Records)
		if err != nil {
			return nil, err
		}
		var trees []string
		for n := 0; n <= len(a.Records); n++ {
			h, err := tlog.TreeHash(int64(n), m)
			if err != nil {
				return nil, err
			}
			trees = append(trees, h.String())
		}
		var rp, tp [][]string
		for _, p := range a.RecordProofs {
			proof, err := tlog.ProveRecord(p[0], p[1], m)
			if err != nil {
				return nil, err
			}
			rp = append(rp, sdbHashes(proof))
		}
		for _, p := range a.TreeProofs {
			proof, err := tlog.ProveTree(p[0], p[1], m)
			if err != nil {
				return nil, err
			}
			tp = append(tp, sdbHashes(proof))
		}
		var tiles []string
		for _, path := range a.Tiles {
			t, err := tlog.ParseTilePath(path)
			if err != nil {
				return nil, err
			}
			data, err := tlog.ReadTileData(t, m)
			if err != nil {
				return nil, err
			}
			tiles = append(tiles, base64.StdEncoding.EncodeToString(data))
		}
		return map[string]any{
			"hashes": sdbHashes(m.hashes), "trees": trees,
			"record_proofs": rp, "tree_proofs": tp, "tiles": tiles,
		}, nil
	})
	register("tlog.check_record", func(raw json.RawMessage) (any, error) {
		p, t, th, n, h, err := sdbProofArgs(raw)
		if err != nil {
			return nil, err
		}
		return nil, tlog.CheckRecord(p, t, th, n, h)
	})
	register("tlog.check_tree", func(raw json.RawMessage) (any, error) {
		p, t, th, n, h, err := sdbProofArgs(raw)
		if err != nil {
			return nil, err
		}
		return nil, tlog.CheckTree(p, t, th, n, h)
	})
	// tlog.tile_read reads stored hashes through TileHashReader over a log of records whose
	// tiles are served truthfully, except one byte flipped in the tile named Flip.
	register("tlog.tile_read", func(raw json.RawMessage) (any, error) {
		var a struct {
			Records []string
			Height  int
			TreeN   int64
			Indexes []int64
			Flip    string
			At      int
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		m, err := sdbBuildLog(a.Records)
		if err != nil {
			return nil, err
		}
		th, err := tlog.TreeHash(a.TreeN, m)
		if err != nil {
			return nil, err
		}
		tr := &sdbTamperedTiles{log: m, height: a.Height, flip: a.Flip, at: a.At}
		hs, err := tlog.TileHashReader(tlog.Tree{N: a.TreeN, Hash: th}, tr).ReadHashes(a.Indexes)
		if err != nil {
			return nil, err
		}
		return sdbHashes(hs), nil
	})
}

// sdbClientOps runs sumdb.Client against logs held in memory: before each lookup the test
// picks which log the "server" shows and at which tree size (a fork shows another log).
type sdbClientOps struct {
	vkey     string
	signer   note.Signer
	logs     [][]string
	hashes   []*sdbLog
	log, n   int64
	config   map[string][]byte
	cache    map[string][]byte
	security string
}

func (o *sdbClientOps) signed() ([]byte, error) {
	h, err := tlog.TreeHash(o.n, o.hashes[o.log])
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: o.n, Hash: h}))}, o.signer)
}

func (o *sdbClientOps) ReadRemote(path string) ([]byte, error) {
	records := o.logs[o.log][:o.n]
	if target, ok := strings.CutPrefix(path, "/lookup/"); ok {
		for id, r := range records {
			f := strings.Fields(r)
			if len(f) >= 2 && f[0]+"@"+f[1] == target {
				msg, err := tlog.FormatRecord(int64(id), []byte(r))
				if err != nil {
					return nil, err
				}
				signed, err := o.signed()
				if err != nil {
					return nil, err
				}
				return append(msg, signed...), nil
			}
		}
		return nil, fmt.Errorf("404 not found: %s", path)
	}
	t, err := tlog.ParseTilePath(path[1:])
	if err != nil || t.L < 0 || t.N<<uint(t.H)+int64(t.W) > o.n>>uint(t.H*t.L) {
		return nil, fmt.Errorf("404 not found: %s", path)
	}
	return tlog.ReadTileData(t, o.hashes[o.log])
}

func (o *sdbClientOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.vkey), nil
	}
	return o.config[file], nil
}

func (o *sdbClientOps) WriteConfig(file string, old, new []byte) error {
	if !bytes.Equal(o.config[file], old) {
		return sumdb.ErrWriteConflict
	}
	o.config[file] = new
	return nil
}

func (o *sdbClientOps) ReadCache(file string) ([]byte, error) {
	if d, ok := o.cache[file]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("cache miss")
}

func (o *sdbClientOps) WriteCache(file string, data []byte) { o.cache[file] = data }
func (o *sdbClientOps) Log(string)                          {}
func (o *sdbClientOps) SecurityError(msg string)            { o.security = msg }

func init() {
	// sumdb.client runs lookups in order, each against log Log at tree size N; a fresh client
	// (same config and cache: a restart) when Restart is set. Answers: lines or error, and
	// the SECURITY ERROR text if one was reported.
	register("sumdb.client", func(raw json.RawMessage) (any, error) {
		var a struct {
			Signer  string
			Height  int
			Logs    [][]string
			Lookups []struct {
				Path, Vers string
				Log, N     int64
				Restart    bool
			}
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		signer, err := note.NewSigner(a.Signer)
		if err != nil {
			return nil, err
		}
		ops := &sdbClientOps{signer: signer, logs: a.Logs, config: map[string][]byte{}, cache: map[string][]byte{}}
		for _, l := range a.Logs {
			m, err := sdbBuildLog(l)
			if err != nil {
				return nil, err
			}
			ops.hashes = append(ops.hashes, m)
		}
		ops.vkey = sdbVerifierKey(signer, a.Signer)
		newClient := func() *sumdb.Client {
			c := sumdb.NewClient(ops)
			c.SetTileHeight(a.Height)
			return c
		}
		c := newClient()
		var out []map[string]any
		for _, l := range a.Lookups {
			if l.Restart {
				c = newClient()
			}
			ops.log, ops.n, ops.security = l.Log, l.N, ""
			lines, err := c.Lookup(l.Path, l.Vers)
			res := map[string]any{"lines": lines, "security": ops.security}
			if err != nil {
				res["error"] = err.Error()
			}
			out = append(out, res)
		}
		return out, nil
	})
}

// sdbVerifierKey derives the verifier key string of a signer key string.
func sdbVerifierKey(s note.Signer, skey string) string {
	f := strings.SplitN(skey, "+", 5)
	raw, _ := base64.StdEncoding.DecodeString(f[4])
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, _ := note.NewEd25519VerifierKey(s.Name(), pub)
	return vkey
}

// Command sumdbtest serves a real checksum database on loopback with golang.org/x/mod/sumdb,
// for end-to-end tests: the records are read from a go.sum-format file (one record per
// module version, in order of first appearance) and appended at start-up, so the log is
// the same on every run with the same file. It prints its base URL on the first line of
// stdout, then serves until killed.
//
//	sumdbtest -key PRIVATE+KEY+... -gosum records.txt [-listen 127.0.0.1:0]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/tlog"
)

// ops bounds tile reads by the tree size (the TestServer would index past its hashes).
type ops struct {
	*sumdb.TestServer
	size int64
}

func (o ops) ReadTileData(ctx context.Context, t tlog.Tile) ([]byte, error) {
	if t.N<<uint(t.H)+int64(t.W) > o.size>>uint(t.H*t.L) {
		return nil, &fs.PathError{Op: "read", Path: t.Path(), Err: fs.ErrNotExist}
	}
	return o.TestServer.ReadTileData(ctx, t)
}

func main() {
	key := flag.String("key", "", "signer key (PRIVATE+KEY+name+hash+data)")
	gosum := flag.String("gosum", "", "file of go.sum lines: the log's records")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	f, err := os.Open(*gosum)
	if err != nil {
		log.Fatal(err)
	}
	records := map[string][]byte{}
	var order []module.Version
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		m := module.Version{Path: fields[0], Version: strings.TrimSuffix(fields[1], "/go.mod")}
		if _, ok := records[m.String()]; !ok {
			order = append(order, m)
		}
		records[m.String()] = append(records[m.String()], []byte(sc.Text()+"\n")...)
	}
	f.Close()

	srv := sumdb.NewTestServer(*key, func(path, vers string) ([]byte, error) {
		if r, ok := records[path+"@"+vers]; ok {
			return r, nil
		}
		return nil, &fs.PathError{Op: "lookup", Path: path + "@" + vers, Err: fs.ErrNotExist}
	})
	for _, m := range order {
		if _, err := srv.Lookup(context.Background(), m); err != nil {
			log.Fatal(err)
		}
	}
	o := ops{srv, int64(len(order))}
	// Records not in the file are unknown (404); the log never grows after start-up.
	handler := sumdb.NewServer(lookupOnly{o, records})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, handler))
}

// lookupOnly answers lookups only for records already in the log.
type lookupOnly struct {
	ops
	records map[string][]byte
}

func (l lookupOnly) Lookup(ctx context.Context, m module.Version) (int64, error) {
	if _, ok := l.records[m.String()]; !ok {
		return 0, &fs.PathError{Op: "lookup", Path: m.String(), Err: fs.ErrNotExist}
	}
	return l.ops.Lookup(ctx, m)
}

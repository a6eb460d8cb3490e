// Command replay fetches a list of GOPROXY paths from one base URL with a fixed number of
// connections, as the go command does when it downloads a module graph, and prints one JSON
// summary: wall time, bytes, failures, latency percentiles, and a CRC of every body so two
// runs (upstream, proxy, nginx) can be compared byte for byte.
//
// Usage: replay -base URL -list FILE -c N [-digests FILE]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type result struct {
	path    string
	status  int
	bytes   int64
	crc     uint32
	seconds float64
	err     string
}

type summary struct {
	Requests    int      `json:"requests"`
	Failures    int      `json:"failures"`
	Bytes       int64    `json:"bytes"`
	WallSeconds float64  `json:"wall_seconds"`
	P50Ms       float64  `json:"p50_ms"`
	P99Ms       float64  `json:"p99_ms"`
	MaxMs       float64  `json:"max_ms"`
	Errors      []string `json:"errors"`
}

var table = crc32.MakeTable(crc32.Castagnoli)

func fetch(client *http.Client, base, path string) result {
	start := time.Now()
	r := result{path: path}
	resp, err := client.Get(base + "/" + path)
	if err != nil {
		r.err = err.Error()
		r.seconds = time.Since(start).Seconds()
		return r
	}
	defer resp.Body.Close()
	r.status = resp.StatusCode
	h := crc32.New(table)
	n, err := io.Copy(h, resp.Body)
	r.bytes, r.crc = n, h.Sum32()
	r.seconds = time.Since(start).Seconds()
	if err != nil {
		r.err = "reading body: " + err.Error()
	} else if resp.StatusCode != http.StatusOK {
		r.err = resp.Status
	}
	return r
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i] * 1000
}

func main() {
	base := flag.String("base", "", "base URL of the GOPROXY to fetch from")
	list := flag.String("list", "", "file with one path (relative to base) per line")
	conns := flag.Int("c", 8, "connections (requests in flight)")
	digests := flag.String("digests", "", "write '<path> <status> <bytes> <crc32c>' lines here")
	timeout := flag.Duration("timeout", 10*time.Minute, "timeout of one request")
	flag.Parse()
	if *base == "" || *list == "" {
		fmt.Fprintln(os.Stderr, "usage: replay -base URL -list FILE [-c N] [-digests FILE]")
		os.Exit(2)
	}
	data, err := os.ReadFile(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var paths []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			paths = append(paths, line)
		}
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		MaxConnsPerHost:     *conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	client := &http.Client{Transport: transport, Timeout: *timeout}
	base2 := strings.TrimRight(*base, "/")

	jobs := make(chan int)
	results := make([]result, len(paths))
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = fetch(client, base2, paths[i])
			}
		}()
	}
	for i := range paths {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start).Seconds()

	s := summary{Requests: len(results), WallSeconds: wall, Errors: []string{}}
	lat := make([]float64, 0, len(results))
	for _, r := range results {
		s.Bytes += r.bytes
		lat = append(lat, r.seconds)
		if r.err != "" {
			s.Failures++
			if len(s.Errors) < 10 {
				s.Errors = append(s.Errors, r.path+": "+r.err)
			}
		}
	}
	sort.Float64s(lat)
	s.P50Ms, s.P99Ms, s.MaxMs = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1)
	if *digests != "" {
		f, err := os.Create(*digests)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w := bufio.NewWriter(f)
		for _, r := range results {
			fmt.Fprintf(w, "%s %d %d %08x\n", r.path, r.status, r.bytes, r.crc)
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		f.Close()
	}
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
}

// loadgen posts request bodies to an OTLP/HTTP endpoint as fast as they are answered,
// over a fixed number of keep-alive connections, and prints the elapsed seconds. The
// Python clients of the benches cannot drive a Go receiver to its limit on one core.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "endpoint, e.g. http://127.0.0.1:4318/v1/traces")
	dir := flag.String("bodies", "", "directory of request bodies (one file each)")
	contentType := flag.String("content-type", "application/x-protobuf", "Content-Type")
	apiKey := flag.String("api-key", "", "authorization header")
	requests := flag.Int("requests", 1000, "requests to send")
	connections := flag.Int("connections", 16, "concurrent connections")
	flag.Parse()

	names, err := filepath.Glob(filepath.Join(*dir, "*"))
	if err != nil || len(names) == 0 {
		fmt.Fprintln(os.Stderr, "no bodies in", *dir)
		os.Exit(2)
	}
	sort.Strings(names)
	bodies := make([][]byte, len(names))
	for i, name := range names {
		if bodies[i], err = os.ReadFile(name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: *connections, MaxIdleConnsPerHost: *connections, MaxConnsPerHost: *connections,
	}, Timeout: 60 * time.Second}

	var next, failures int64
	var firstError atomic.Value
	var wg sync.WaitGroup
	started := time.Now()
	for c := 0; c < *connections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(*requests) {
					return
				}
				req, _ := http.NewRequest("POST", *url, bytes.NewReader(bodies[i%int64(len(bodies))]))
				req.Header.Set("Content-Type", *contentType)
				if *apiKey != "" {
					req.Header.Set("Authorization", *apiKey)
				}
				resp, err := client.Do(req)
				if err != nil {
					atomic.AddInt64(&failures, 1)
					firstError.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					atomic.AddInt64(&failures, 1)
					firstError.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "%d failed requests, first: %v\n", failures, firstError.Load())
		os.Exit(1)
	}
	fmt.Printf("%.6f\n", elapsed)
}

// Command bench measures the Go SDK: Track calls/s (with every call timed, since Track must
// never wait for the network) and events/s delivered to a gateway, from the first Track
// until Flush returned. bench/sdk_go.py starts the gateway and runs it; it prints one JSON
// object per measurement.
//
//	go run ./bench -url http://127.0.0.1:8000 -key ck_... -events 200000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	causality "github.com/causality-dev/causality/sdk/go"
)

type row struct {
	What      string  `json:"what"`
	Target    string  `json:"target"`
	Events    uint64  `json:"events"`
	Seconds   float64 `json:"seconds"`
	Rate      float64 `json:"rate"`
	Notes     string  `json:"notes"`
	Requests  uint64  `json:"requests,omitempty"`
	Retries   uint64  `json:"retries,omitempty"`
	Dropped   uint64  `json:"dropped,omitempty"`
	Delivered uint64  `json:"delivered,omitempty"`
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func event(_ int) causality.Event {
	return causality.ScreenView{ScreenName: "home", Params: map[string]string{"path": "/"}}.Event()
}

// trackAll makes n Track calls from one goroutine, timing each one.
func trackAll(c *causality.Client, n int) (time.Duration, string) {
	took := make([]time.Duration, n)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := c.Track(ctx, event(i)); err != nil {
			panic(err)
		}
		took[i] = time.Since(t0)
	}
	elapsed := time.Since(start)
	slices.Sort(took)
	return elapsed, fmt.Sprintf("p50 %v, p99 %v, max %v", took[n/2], took[n*99/100], took[n-1])
}

func unreachable() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

func closeNow(c *causality.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_ = c.Close(ctx)
}

func handoverUnreachable(n int) row {
	c := causality.New("ck_bench", causality.WithHost(unreachable()), causality.WithQueueSize(n+1),
		causality.WithLogger(quiet))
	elapsed, note := trackAll(c, n)
	s := c.Stats()
	closeNow(c)
	return row{What: "handover", Target: "unreachable, 1 goroutine", Events: uint64(n),
		Seconds: elapsed.Seconds(), Rate: float64(n) / elapsed.Seconds(), Notes: note,
		Dropped: s.Dropped}
}

func handoverParallel(n, workers int) row {
	c := causality.New("ck_bench", causality.WithHost(unreachable()), causality.WithQueueSize(n+1),
		causality.WithLogger(quiet))
	var wg sync.WaitGroup
	per := n / workers
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				_ = c.Track(context.Background(), event(i))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	s := c.Stats()
	closeNow(c)
	return row{What: "handover", Target: fmt.Sprintf("unreachable, %d goroutines", workers),
		Events: s.Tracked, Seconds: elapsed.Seconds(), Rate: float64(s.Tracked) / elapsed.Seconds(),
		Notes: fmt.Sprintf("GOMAXPROCS %d", runtime.GOMAXPROCS(0)), Dropped: s.Dropped}
}

func delivery(url, key string, n, batch int, gzip bool) []row {
	c := causality.New(key, causality.WithHost(url), causality.WithQueueSize(n+1),
		causality.WithBatchSize(batch), causality.WithGzip(gzip), causality.WithLogger(quiet))
	start := time.Now()
	elapsed, note := trackAll(c, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := c.Flush(ctx)
	total := time.Since(start)
	s := c.Stats()
	_ = c.Close(ctx)
	label := "plain"
	if gzip {
		label = "gzip"
	}
	if err != nil {
		note += ", flush: " + err.Error()
	}
	target := fmt.Sprintf("uvicorn go sdk (%s, trigger %d)", label, batch)
	return []row{
		{What: "handover", Target: target, Events: uint64(n), Seconds: elapsed.Seconds(),
			Rate: float64(n) / elapsed.Seconds(), Notes: note},
		{What: "delivered", Target: target, Events: s.Delivered, Seconds: total.Seconds(),
			Rate: float64(s.Delivered) / total.Seconds(), Delivered: s.Delivered,
			Requests: s.Requests, Retries: s.Retries, Dropped: s.Dropped,
			Notes: fmt.Sprintf("%d requests, %d retries, %d rejected", s.Requests, s.Retries, s.Rejected)},
	}
}

func main() {
	url := flag.String("url", "", "gateway base URL (delivery rows need it)")
	key := flag.String("key", "", "API key")
	n := flag.Int("events", 200_000, "Track calls per run")
	only := flag.String("only", "all", "handover, delivery or all")
	gz := flag.String("gzip", "both", "delivery compression: on, off or both")
	flag.Parse()
	enc := json.NewEncoder(os.Stdout)
	var rows []row
	if *only != "delivery" {
		rows = append(rows, handoverUnreachable(*n), handoverParallel(*n, 8))
	}
	if *only != "handover" && *url != "" {
		for _, on := range []bool{false, true} {
			if (*gz == "on" && !on) || (*gz == "off" && on) {
				continue
			}
			rows = append(rows, delivery(*url, *key, *n, 100, on)...)
		}
	}
	for _, r := range rows {
		_ = enc.Encode(r)
	}
}

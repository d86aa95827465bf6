package causality

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a fake gateway for the unit tests: it records each request's decoded events
// and answers with the status that respond chooses for the n-th request (1-based).
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	respond  func(n int, w http.ResponseWriter, events []map[string]any) bool
}

type recorded struct {
	header http.Header
	events []map[string]any
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	var batch struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.NewDecoder(body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, recorded{req.Header.Clone(), batch.Events})
	n := len(r.requests)
	r.mu.Unlock()
	if r.respond != nil && r.respond(n, w, batch.Events) {
		return
	}
	accept(w, len(batch.Events))
}

func accept(w http.ResponseWriter, n int) {
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"accepted": n, "duplicates": 0, "rejected": 0, "errors": []any{}})
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// syncBuffer is a log destination safe for the sender goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestClient(t *testing.T, url string, opts ...Option) (*Client, *syncBuffer) {
	t.Helper()
	return newKeyedClient(t, "ck_test", url, opts...)
}

// newKeyedClient is a client that logs into a buffer, sends only on Flush, Close or 1000
// events, and retries fast.
func newKeyedClient(t *testing.T, key, url string, opts ...Option) (*Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base := []Option{WithHost(url), WithLogger(logger), WithFlushInterval(time.Hour),
		WithBatchSize(1000), WithRetryBackoff(10*time.Millisecond, 50*time.Millisecond)}
	c := New(key, append(base, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c, logs
}

func flush(t *testing.T, c *Client, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEnvelopeFieldsAndServerContext(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL, WithDeviceID("dev-1"),
		WithDeviceContext(DeviceContext{AppVersion: "2.3.4"}))
	ctx := context.Background()
	ts := time.UnixMilli(1_700_000_000_123)
	ev := ScreenView{ScreenName: "home", Params: map[string]string{"path": "/"}}.Event()
	ev.UserID, ev.SessionID, ev.Timestamp = "u-1", "s-1", ts
	must(t, c.Track(ctx, ev))
	must(t, c.Track(ctx, Custom("signup_clicked", map[string]any{"plan": "pro", "server_hostname": "mine"})))
	must(t, c.Track(ctx, Event{Type: "app_crash"})) // no properties at all
	flush(t, c, time.Second)

	reqs := rec.all()
	if len(reqs) != 1 || len(reqs[0].events) != 3 {
		t.Fatalf("want one request of 3 events, got %+v", reqs)
	}
	h := reqs[0].header
	if h.Get("X-API-Key") != "ck_test" || !strings.HasPrefix(h.Get("User-Agent"), "causality-go/") {
		t.Fatalf("headers: %v", h)
	}
	e := reqs[0].events[0]
	if e["type"] != "screen_view" || e["device_id"] != "dev-1" || e["user_id"] != "u-1" ||
		e["session_id"] != "s-1" || e["timestamp_ms"] != float64(1_700_000_000_123) {
		t.Fatalf("envelope: %v", e)
	}
	if !uuidV4.MatchString(e["idempotency_key"].(string)) {
		t.Fatalf("idempotency key %v is not a UUIDv4", e["idempotency_key"])
	}
	dc := e["device_context"].(map[string]any)
	if dc["platform"] != "server" || dc["app_version"] != "2.3.4" ||
		dc["sdk_version"] != "causality-go/"+Version || dc["os_version"] == "" || len(dc) != 4 {
		t.Fatalf("device_context: %v", dc)
	}
	p := e["properties"].(map[string]any)
	if p["screen_name"] != "home" || p["params"].(map[string]any)["path"] != "/" ||
		p["server_hostname"] == nil || !strings.HasPrefix(p["server_go_version"].(string), "go") {
		t.Fatalf("properties: %v", p)
	}
	custom := reqs[0].events[1]["properties"].(map[string]any)
	if custom["event_name"] != "signup_clicked" || custom["server_hostname"] != "mine" {
		t.Fatalf("custom properties (the caller's keys win): %v", custom)
	}
	if bare := reqs[0].events[2]["properties"].(map[string]any); bare["server_hostname"] == nil {
		t.Fatalf("empty properties get the server context: %v", bare)
	}
	keys := map[any]bool{}
	for _, e := range reqs[0].events {
		keys[e["idempotency_key"]] = true
	}
	if len(keys) != 3 {
		t.Fatal("idempotency keys must differ")
	}
}

func TestServerContextCanBeTurnedOff(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL, WithServerContext(false))
	must(t, c.Track(context.Background(), Custom("x", nil)))
	flush(t, c, time.Second)
	p := rec.all()[0].events[0]["properties"].(map[string]any)
	if len(p) != 1 {
		t.Fatalf("want only event_name, got %v", p)
	}
}

func TestBatchesBySizeAndGzip(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL, WithBatchSize(10), WithMaxBatchEvents(10))
	for i := 0; i < 30; i++ {
		must(t, c.Track(context.Background(), Custom("size", map[string]any{"i": i, "pad": strings.Repeat("x", 100)})))
	}
	waitUntil(t, 2*time.Second, func() bool { return c.Stats().Delivered == 30 })
	reqs := rec.all()
	if len(reqs) != 3 {
		t.Fatalf("want 3 requests, got %d", len(reqs))
	}
	for _, r := range reqs {
		if len(r.events) != 10 || r.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("want gzipped batches of 10: %d %v", len(r.events), r.header)
		}
	}
}

func TestASendTakesWhatWaitsUpToTheMaximum(t *testing.T) {
	release := make(chan struct{})
	rec := &recorder{respond: func(n int, w http.ResponseWriter, _ []map[string]any) bool {
		if n == 1 {
			<-release
		}
		return false
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL, WithBatchSize(1), WithMaxBatchEvents(30))
	must(t, c.Track(context.Background(), Custom("first", nil)))
	waitUntil(t, time.Second, func() bool { return rec.count() == 1 })
	for i := 0; i < 50; i++ { // queued while the first request is in flight
		must(t, c.Track(context.Background(), Custom("waiting", nil)))
	}
	close(release)
	flush(t, c, 2*time.Second)
	var sizes []int
	for _, r := range rec.all() {
		sizes = append(sizes, len(r.events))
	}
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 30 || sizes[2] != 20 {
		t.Fatalf("request sizes %v, want [1 30 20]", sizes)
	}
}

func TestBatchesByInterval(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL, WithFlushInterval(50*time.Millisecond))
	for i := 0; i < 2; i++ {
		must(t, c.Track(context.Background(), Custom("interval", nil)))
	}
	waitUntil(t, 2*time.Second, func() bool { return c.Stats().Delivered == 2 })
	if n := rec.count(); n != 1 {
		t.Fatalf("want the 2 events in one request, got %d requests", n)
	}
	if rec.all()[0].header.Get("Content-Encoding") != "" {
		t.Fatal("a small body is not gzipped")
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	for _, status := range []int{500, 502, 503, 408} {
		rec := &recorder{respond: func(n int, w http.ResponseWriter, _ []map[string]any) bool {
			if n <= 2 {
				w.WriteHeader(status)
				return true
			}
			return false
		}}
		srv := httptest.NewServer(rec)
		c, _ := newTestClient(t, srv.URL)
		must(t, c.Track(context.Background(), Custom("retry", nil)))
		flush(t, c, 5*time.Second)
		s := c.Stats()
		if s.Delivered != 1 || s.Retries != 2 || s.Requests != 3 || rec.count() != 3 {
			t.Fatalf("status %d: %+v", status, s)
		}
		reqs := rec.all()
		if reqs[0].events[0]["idempotency_key"] != reqs[2].events[0]["idempotency_key"] {
			t.Fatal("a retry must resend the same idempotency key")
		}
		srv.Close()
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	var cut atomic.Int32
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cut.Add(1) <= 2 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close() // the connection drops without an answer
			return
		}
		rec.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, logs := newTestClient(t, srv.URL)
	must(t, c.Track(context.Background(), Custom("net", nil)))
	flush(t, c, 5*time.Second)
	if s := c.Stats(); s.Delivered != 1 || s.Retries != 2 {
		t.Fatalf("%+v", s)
	}
	if !strings.Contains(logs.String(), "send failed, retrying") {
		t.Fatalf("the outage is logged: %s", logs)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	rec := &recorder{respond: func(n int, w http.ResponseWriter, _ []map[string]any) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL) // its own backoff is at most 50 ms
	must(t, c.Track(context.Background(), Custom("limited", nil)))
	start := time.Now()
	flush(t, c, 5*time.Second)
	if elapsed := time.Since(start); elapsed < time.Second || elapsed > 1500*time.Millisecond {
		t.Fatalf("waited %v, want Retry-After's 1 s (plus at most 10%%)", elapsed)
	}
	if s := c.Stats(); s.Delivered != 1 || s.Retries != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 415, 422} {
		rec := &recorder{respond: func(_ int, w http.ResponseWriter, _ []map[string]any) bool {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":{"code":"nope","message":"bad thing","field":"events"}}`))
			return true
		}}
		srv := httptest.NewServer(rec)
		c, logs := newTestClient(t, srv.URL)
		must(t, c.Track(context.Background(), Custom("bad", nil)))
		must(t, c.Track(context.Background(), Custom("bad", nil)))
		flush(t, c, 2*time.Second)
		time.Sleep(100 * time.Millisecond) // time for a retry, were there one
		s := c.Stats()
		if rec.count() != 1 || s.Retries != 0 || s.Rejected != 2 || s.Delivered != 0 {
			t.Fatalf("status %d: %d requests, %+v", status, rec.count(), s)
		}
		want := "batch refused, not retried"
		if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "bad thing (field events)") {
			t.Fatalf("status %d: log lacks the reason: %s", status, logs)
		}
		srv.Close()
	}
}

func TestPerEventRejectionsAreLogged(t *testing.T) {
	rec := &recorder{respond: func(_ int, w http.ResponseWriter, _ []map[string]any) bool {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"accepted":1,"duplicates":0,"rejected":1,"errors":[{"index":1,"field":"properties.currency","reason":"Expected str matching regex"}]}`))
		return true
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, logs := newTestClient(t, srv.URL)
	must(t, c.Track(context.Background(), ScreenView{ScreenName: "a"}.Event()))
	bad := AddToCart{ProductID: "p", Currency: "eur"}.Event()
	bad.IdempotencyKey = "key-of-the-bad-one"
	must(t, c.Track(context.Background(), bad))
	flush(t, c, 2*time.Second)
	if s := c.Stats(); s.Delivered != 1 || s.Rejected != 1 || s.Retries != 0 {
		t.Fatalf("%+v", s)
	}
	for _, want := range []string{"event rejected", "type=add_to_cart", "idempotency_key=key-of-the-bad-one",
		"field=properties.currency"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q: %s", want, logs)
		}
	}
}

func TestTooLargeBatchesAreSplit(t *testing.T) {
	rec := &recorder{respond: func(_ int, w http.ResponseWriter, events []map[string]any) bool {
		if len(events) > 2 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return true
		}
		return false
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL)
	for i := 0; i < 8; i++ {
		must(t, c.Track(context.Background(), Custom("big", nil)))
	}
	flush(t, c, 2*time.Second)
	if s := c.Stats(); s.Delivered != 8 || s.Retries != 0 {
		t.Fatalf("%+v", s)
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.Copy(io.Discard, r.Body)
		accept(w, 1)
	}))
	defer srv.Close()
	defer close(release)
	c, _ := newTestClient(t, srv.URL, WithQueueSize(5), WithBatchSize(1))
	ctx := context.Background()
	must(t, c.Track(ctx, Custom("in flight", nil)))
	waitUntil(t, time.Second, func() bool { return len(c.queue) == 0 }) // the sender holds it
	start := time.Now()
	var full int
	for i := 0; i < 100; i++ {
		if err := c.Track(ctx, Custom("x", nil)); errors.Is(err, ErrQueueFull) {
			full++
		}
	}
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond {
		t.Fatalf("Track blocked: %v for 100 calls", elapsed)
	}
	if full != 95 || c.Dropped() != 95 || c.Stats().Tracked != 6 {
		t.Fatalf("full=%d dropped=%d stats=%+v", full, c.Dropped(), c.Stats())
	}
}

func TestCloseDeliversQueuedEvents(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := New("ck_test", WithHost(srv.URL), WithFlushInterval(time.Hour), WithBatchSize(100),
		WithMaxBatchEvents(100))
	for i := 0; i < 250; i++ {
		must(t, c.Track(context.Background(), Custom("close", nil)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, c.Close(ctx))
	if s := c.Stats(); s.Delivered != 250 || rec.count() != 3 {
		t.Fatalf("%+v, %d requests", s, rec.count())
	}
	if err := c.Track(context.Background(), Custom("late", nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Track after Close: %v", err)
	}
	must(t, c.Close(ctx)) // idempotent
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL)
	for i := 0; i < 3; i++ {
		must(t, c.Track(context.Background(), Custom("doomed", nil)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("Close overran its deadline: %v", elapsed)
	}
	if s := c.Stats(); s.Dropped != 3 || s.Delivered != 0 || s.Retries == 0 {
		t.Fatalf("%+v", s)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"99999999", maxRetryAfter, true},
		{"Wed, 01 Jan 2025 00:00:07 GMT", 7 * time.Second, true},
		{"Tue, 31 Dec 2024 23:00:00 GMT", 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-1", 0, false},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	base, limit := 100*time.Millisecond, time.Second
	for attempt, exp := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := backoff(attempt, base, limit, 0)
			if d < exp/2 || d > exp {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, exp/2, exp)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("attempt %d: no jitter", attempt)
		}
	}
	if d := backoff(1, base, limit, 2*time.Second); d < 2*time.Second || d > 2200*time.Millisecond {
		t.Fatalf("Retry-After replaces the backoff: %v", d)
	}
}

func TestUUIDsAreUniqueV4(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10_000; i++ {
		u := newUUIDv4()
		if !uuidV4.MatchString(u) || seen[u] {
			t.Fatalf("bad or repeated uuid %q", u)
		}
		seen[u] = true
	}
}

func TestTypedConstructors(t *testing.T) {
	cases := []struct {
		ev   Event
		typ  string
		want string
	}{
		{ButtonTap{ButtonID: "b", ScreenName: "s", Coordinates: &Point{1, 2}}.Event(), "button_tap",
			`{"button_id":"b","coordinates":{"x":1,"y":2},"screen_name":"s"}`},
		{AddToCart{ProductID: "p", Quantity: 2, PriceCents: 1299, Currency: "EUR"}.Event(), "add_to_cart",
			`{"currency":"EUR","price_cents":1299,"product_id":"p","quantity":2}`},
		{PurchaseComplete{OrderID: "o", TotalCents: 500, Currency: "USD",
			Items: []PurchaseItem{{ProductID: "p", Quantity: 1, PriceCents: 500}}}.Event(), "purchase_complete",
			`{"currency":"USD","items":[{"product_id":"p","quantity":1,"price_cents":500}],"order_id":"o","total_cents":500}`},
		{AppCrash{CrashType: "panic", CrashMessage: "boom"}.Event(), "app_crash",
			`{"crash_message":"boom","crash_type":"panic"}`},
		{ScreenView{ScreenName: "home"}.Event(), "screen_view", `{"screen_name":"home"}`},
		{Custom("n", map[string]any{"k": []int{1}}), "custom", `{"event_name":"n","k":[1]}`},
	}
	for _, tc := range cases {
		got, _ := json.Marshal(tc.ev.Properties)
		if tc.ev.Type != tc.typ || string(got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.ev.Type, got, tc.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

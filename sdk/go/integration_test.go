package causality

// Tests against the REAL gateway. tests/integration/test_sdk_go.py starts it (uvicorn in a
// thread, with NATS and PostgreSQL), creates an app and key, and runs one of these tests
// with CAUSALITY_TEST_GATEWAY_URL, CAUSALITY_TEST_API_KEY and CAUSALITY_TEST_OUT set; each
// test writes the idempotency keys it delivered to $CAUSALITY_TEST_OUT/<name>.json, and the
// pytest side checks that exactly those events, with the right fields, reached the NATS
// stream. Without the variables these tests skip, so `go test ./...` works offline.

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type gatewayEnv struct {
	url, key, out string
}

func needGateway(t *testing.T) gatewayEnv {
	t.Helper()
	env := gatewayEnv{os.Getenv("CAUSALITY_TEST_GATEWAY_URL"), os.Getenv("CAUSALITY_TEST_API_KEY"),
		os.Getenv("CAUSALITY_TEST_OUT")}
	if env.url == "" || env.key == "" {
		t.Skip("CAUSALITY_TEST_GATEWAY_URL and CAUSALITY_TEST_API_KEY are not set")
	}
	return env
}

// report hands the pytest side what to look for in the stream.
func (g gatewayEnv) report(t *testing.T, data map[string]any) {
	t.Helper()
	if g.out == "" {
		return
	}
	b, err := json.Marshal(data)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(g.out, t.Name()+".json"), b, 0o644))
}

func trackKeyed(t *testing.T, c *Client, ev Event) string {
	t.Helper()
	ev.IdempotencyKey = newUUIDv4()
	must(t, c.Track(context.Background(), ev))
	return ev.IdempotencyKey
}

func TestIntegrationEventsArriveWithTheirFields(t *testing.T) {
	g := needGateway(t)
	c, logs := newKeyedClient(t, g.key, g.url, WithDeviceID("go-device-1"),
		WithDeviceContext(DeviceContext{AppVersion: "9.9.9"}))
	sv := ScreenView{ScreenName: "checkout", PreviousScreen: "cart", Params: map[string]string{"path": "/co"}}.Event()
	sv.UserID, sv.SessionID = "user-7", "session-7"
	keys := map[string]string{
		"screen_view": trackKeyed(t, c, sv),
		"button_tap":  trackKeyed(t, c, ButtonTap{ButtonID: "pay", ScreenName: "checkout", Coordinates: &Point{X: 10, Y: 20.5}}.Event()),
		"add_to_cart": trackKeyed(t, c, AddToCart{ProductID: "p-1", Quantity: 2, PriceCents: 1299, Currency: "EUR"}.Event()),
		"purchase_complete": trackKeyed(t, c, PurchaseComplete{OrderID: "o-1", ItemCount: 1, TotalCents: 2598, Currency: "EUR",
			Items: []PurchaseItem{{ProductID: "p-1", Quantity: 2, PriceCents: 1299}}}.Event()),
		"app_crash": trackKeyed(t, c, AppCrash{CrashType: "panic", CrashMessage: "boom", StackTrace: "main.go:1"}.Event()),
		"custom":    trackKeyed(t, c, Custom("report_exported", map[string]any{"rows": 42, "format": "csv", "tags": []string{"a", "b"}})),
	}
	// enough events for a gzipped body: the gateway must accept the encoding
	for i := 0; i < 20; i++ {
		trackKeyed(t, c, Custom("filler", map[string]any{"i": i}))
	}
	flush(t, c, 10*time.Second)
	if s := c.Stats(); s.Delivered != 26 || s.Rejected != 0 || s.Duplicates != 0 || s.Requests != 1 {
		t.Fatalf("%+v\n%s", s, logs)
	}
	g.report(t, map[string]any{"keys": keys, "total": 26})
}

// proxy stands between the client and the real gateway: it can be down (its port closed,
// connections refused, as when the gateway is stopped) and can answer the first failN
// requests itself with a 503, or swallow the gateway's first loseN answers.
type proxy struct {
	target   string
	addr     string
	mu       sync.Mutex
	srv      *http.Server
	failN    int32
	loseN    int32
	seen     atomic.Int32
	upstream http.Client
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &proxy{target: target, addr: l.Addr().String()}
	p.serve(l)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) url() string { return "http://" + p.addr }

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(l) }()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
}

func (p *proxy) up(t *testing.T) {
	l, err := net.Listen("tcp", p.addr) // the same address, as a restarted gateway
	must(t, err)
	p.serve(l)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.seen.Add(1)
	if n <= p.failN {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"proxy says no"}}`))
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.Path, r.Body)
	req.Header = r.Header.Clone()
	resp, err := p.upstream.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if n <= p.failN+p.loseN { // the gateway has the batch; its answer never arrives
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func TestIntegrationGatewayDownThenUpReceivesEverythingOnce(t *testing.T) {
	g := needGateway(t)
	p := newProxy(t, g.url)
	c, logs := newKeyedClient(t, g.key, p.url(), WithFlushInterval(50*time.Millisecond),
		WithRetryBackoff(50*time.Millisecond, 200*time.Millisecond))
	var keys []string
	for i := 0; i < 10; i++ {
		keys = append(keys, trackKeyed(t, c, Custom("before outage", map[string]any{"i": i})))
	}
	flush(t, c, 10*time.Second)
	p.down()
	for i := 0; i < 40; i++ {
		keys = append(keys, trackKeyed(t, c, Custom("during outage", map[string]any{"i": i})))
	}
	waitUntil(t, 10*time.Second, func() bool { return c.Stats().Retries >= 3 })
	if d := c.Stats().Delivered; d != 10 {
		t.Fatalf("delivered %d during the outage", d)
	}
	p.up(t)
	flush(t, c, 20*time.Second)
	if s := c.Stats(); s.Delivered != 50 || s.Duplicates != 0 || s.Dropped != 0 || s.Rejected != 0 {
		t.Fatalf("%+v\n%s", s, logs)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("the outage was not a refused connection: %s", logs)
	}
	g.report(t, map[string]any{"keys": keys})
}

func TestIntegrationServerErrorsAreRetried(t *testing.T) {
	g := needGateway(t)
	p := newProxy(t, g.url)
	p.failN = 3
	c, logs := newKeyedClient(t, g.key, p.url())
	var keys []string
	for i := 0; i < 5; i++ {
		keys = append(keys, trackKeyed(t, c, Custom("after 503s", map[string]any{"i": i})))
	}
	flush(t, c, 10*time.Second)
	if s := c.Stats(); s.Delivered != 5 || s.Retries != 3 || s.Requests != 4 {
		t.Fatalf("%+v\n%s", s, logs)
	}
	if !strings.Contains(logs.String(), "HTTP 503 unavailable: proxy says no") {
		t.Fatalf("log lacks the 503's reason: %s", logs)
	}
	g.report(t, map[string]any{"keys": keys})
}

func TestIntegrationLostAnswersAreRetriedAndStoredOnce(t *testing.T) {
	g := needGateway(t)
	p := newProxy(t, g.url)
	p.loseN = 2
	c, logs := newKeyedClient(t, g.key, p.url())
	var keys []string
	for i := 0; i < 20; i++ {
		keys = append(keys, trackKeyed(t, c, AddToCart{ProductID: "p", Quantity: int64(i + 1)}.Event()))
	}
	flush(t, c, 10*time.Second)
	// the gateway stored the batch at the first attempt; the two retries were duplicates
	if s := c.Stats(); s.Delivered != 0 || s.Duplicates != 20 || s.Retries != 2 || s.Requests != 3 {
		t.Fatalf("%+v\n%s", s, logs)
	}
	g.report(t, map[string]any{"keys": keys})
}

func TestIntegrationValidationErrorsAreDroppedWithTheirReason(t *testing.T) {
	g := needGateway(t)
	c, logs := newKeyedClient(t, g.key, g.url)
	good := trackKeyed(t, c, ScreenView{ScreenName: "ok"}.Event())
	badCurrency := trackKeyed(t, c, AddToCart{ProductID: "p", Currency: "eur"}.Event())
	trackKeyed(t, c, Event{Type: "no_such_type"})
	flush(t, c, 10*time.Second)
	if s := c.Stats(); s.Delivered != 1 || s.Rejected != 2 || s.Retries != 0 || s.Requests != 1 {
		t.Fatalf("%+v\n%s", s, logs)
	}
	for _, want := range []string{"idempotency_key=" + badCurrency, "field=properties.currency",
		"type=no_such_type", "field=type"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs)
		}
	}

	// every event invalid: a 400, refused and not retried
	trackKeyed(t, c, Event{Type: "no_such_type"})
	trackKeyed(t, c, Event{Type: "add_to_cart", Properties: map[string]any{"product_id": 5}})
	flush(t, c, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // time for a retry (backoff <= 50 ms), were there one
	if s := c.Stats(); s.Rejected != 4 || s.Retries != 0 || s.Requests != 2 {
		t.Fatalf("%+v\n%s", s, logs)
	}
	if !strings.Contains(logs.String(), "batch refused, not retried") || !strings.Contains(logs.String(), "HTTP 400") {
		t.Fatalf("log lacks the 400:\n%s", logs)
	}

	// an unknown key: a 401, once
	stranger, strangerLogs := newKeyedClient(t, "ck_not_a_real_key", g.url)
	must(t, stranger.Track(context.Background(), Custom("lost", nil)))
	flush(t, stranger, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if s := stranger.Stats(); s.Rejected != 1 || s.Retries != 0 || s.Requests != 1 {
		t.Fatalf("%+v", s)
	}
	if !strings.Contains(strangerLogs.String(), "HTTP 401") {
		t.Fatalf("log lacks the 401:\n%s", strangerLogs)
	}
	g.report(t, map[string]any{"keys": []string{good}})
}

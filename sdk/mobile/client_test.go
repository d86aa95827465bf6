package mobile

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injectable clock the session tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

type envelope struct {
	Type           string         `json:"type"`
	DeviceID       string         `json:"device_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	SessionID      string         `json:"session_id"`
	UserID         string         `json:"user_id"`
	TimestampMs    int64          `json:"timestamp_ms"`
	DeviceContext  map[string]any `json:"device_context"`
	Properties     map[string]any `json:"properties"`
}

func (e envelope) name() string {
	if n, ok := e.Properties["event_name"].(string); ok {
		return n
	}
	return e.Type
}

// recorder is an httptest server standing in for the network in unit tests: it answers
// with the scripted statuses in turn (then 202) and keeps every batch it accepted.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	batches  [][]envelope
	requests int
	srv      *httptest.Server
}

func newRecorder(t *testing.T, statuses ...int) *recorder {
	r := &recorder{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if req.Header.Get("X-API-Key") != "ck_test" || req.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("headers: %v", req.Header)
		}
		if len(r.statuses) > 0 {
			status := r.statuses[0]
			r.statuses = r.statuses[1:]
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error":{"code":"scripted"},"errors":[]}`)
			return
		}
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			t.Errorf("gzip: %v", err)
			return
		}
		var body struct{ Events []envelope }
		if err := json.NewDecoder(zr).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		r.batches = append(r.batches, body.Events)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":%d,"duplicates":0,"rejected":0,"errors":[]}`, len(body.Events))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) events() []envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []envelope
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func testConfig(db, host string) config {
	cfg, err := parseConfig(fmt.Sprintf(`{"apiKey":"ck_test","host":%q,"dbPath":%q,
		"flushIntervalMs":3600000,"batchSize":1000,"retryBaseMs":10,"retryMaxMs":50,
		"deviceContext":{"platform":"android","os_version":"14"}}`, host, db))
	if err != nil {
		panic(err)
	}
	return cfg
}

func start(t *testing.T, cfg config, clock *fakeClock, l *logs) *client {
	t.Helper()
	now := time.Now
	if clock != nil {
		now = clock.now
	}
	if l == nil {
		l = &logs{}
	}
	c, err := newClient(cfg, now, &http.Client{Timeout: 5 * time.Second}, l.logf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func track(t *testing.T, c *client, i int) {
	t.Helper()
	if err := c.track(fmt.Sprintf(`{"type":"custom","event_name":"e","properties":{"i":%d}}`, i)); err != nil {
		t.Fatal(err)
	}
}

func indexes(evs []envelope) []int {
	var out []int
	for _, e := range evs {
		if e.name() == "e" {
			out = append(out, int(e.Properties["i"].(float64)))
		}
	}
	return out
}

func TestQueueSurvivesReinitWithSameDBPath(t *testing.T) {
	db := filepath.Join(t.TempDir(), "q.db")
	rec := newRecorder(t)
	cfg := testConfig(db, rec.srv.URL)

	first := start(t, cfg, nil, nil)
	first.setNetworkAvailable(false) // nothing may leave before the restart
	for i := range 5 {
		track(t, first, i)
	}
	device, session := first.deviceID, first.sessionID
	if err := first.close(); err != nil {
		t.Fatal(err)
	}
	if rec.requests != 0 {
		t.Fatalf("sent while offline: %d requests", rec.requests)
	}

	second := start(t, cfg, nil, nil)
	defer second.close()
	if n, _ := second.q.pending(); n != 6 { // session_start + 5
		t.Fatalf("pending after re-Init = %d, want 6", n)
	}
	if second.deviceID != device || second.sessionID != session {
		t.Fatalf("identity changed across re-Init: %s/%s -> %s/%s", device, session, second.deviceID, second.sessionID)
	}
	if err := second.flush(); err != nil {
		t.Fatal(err)
	}
	evs := rec.events()
	if got := indexes(evs); fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Fatalf("delivered %v", got)
	}
	if evs[0].name() != "session_start" || evs[1].DeviceID != device || evs[1].DeviceContext["platform"] != "android" ||
		evs[1].DeviceContext["sdk_version"] != SDKVersion || evs[1].SessionID != session {
		t.Fatalf("envelope: %+v", evs[:2])
	}
	if n, _ := second.q.pending(); n != 0 {
		t.Fatalf("pending after flush = %d", n)
	}
}

func TestFIFOInBatches(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(filepath.Join(t.TempDir(), "q.db"), rec.srv.URL)
	cfg.BatchSize = 4
	c := start(t, cfg, nil, nil)
	defer c.close()
	c.setNetworkAvailable(false)
	for i := range 11 {
		track(t, c, i)
	}
	c.setNetworkAvailable(true)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if got := indexes(rec.events()); fmt.Sprint(got) != "[0 1 2 3 4 5 6 7 8 9 10]" {
		t.Fatalf("order %v", got)
	}
	for _, b := range rec.batches {
		if len(b) > 4 {
			t.Fatalf("batch of %d > batchSize 4", len(b))
		}
	}
	if len(rec.batches) != 3 { // 12 events incl. session_start
		t.Fatalf("%d batches, want 3", len(rec.batches))
	}
}

func TestSizeTriggerSendsWithoutFlush(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(filepath.Join(t.TempDir(), "q.db"), rec.srv.URL)
	cfg.BatchSize = 5
	c := start(t, cfg, nil, nil)
	defer c.close()
	for i := range 4 {
		track(t, c, i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.events()) < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(rec.events()) != 5 {
		t.Fatalf("size trigger: %d events sent", len(rec.events()))
	}
}

func TestOldestEvictedBeyondCap(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(filepath.Join(t.TempDir(), "q.db"), rec.srv.URL)
	cfg.MaxQueue = 5
	l := &logs{}
	c := start(t, cfg, nil, l)
	defer c.close()
	c.setNetworkAvailable(false)
	for i := range 10 {
		track(t, c, i)
	}
	if n, _ := c.q.pending(); n != 5 {
		t.Fatalf("pending %d, want the cap 5", n)
	}
	if !strings.Contains(l.text(), "evicted 1 oldest") {
		t.Fatalf("eviction not logged: %s", l.text())
	}
	c.setNetworkAvailable(true)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if got := indexes(rec.events()); fmt.Sprint(got) != "[5 6 7 8 9]" {
		t.Fatalf("kept %v, want the newest five", got)
	}
}

func TestSessionsWithInjectedClock(t *testing.T) {
	rec := newRecorder(t)
	db := filepath.Join(t.TempDir(), "q.db")
	cfg := testConfig(db, rec.srv.URL)
	clock := &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
	c := start(t, cfg, clock, nil)
	c.setNetworkAvailable(false)
	s1 := c.sessionID
	track(t, c, 0)

	c.onBackground()
	clock.advance(29 * time.Second) // under the 30 s default: same session
	c.onForeground()
	track(t, c, 1)
	if c.sessionID != s1 {
		t.Fatal("new session after 29 s in background")
	}

	clock.advance(time.Second)
	c.onBackground()
	bg := clock.now().UnixMilli()
	clock.advance(31 * time.Second)
	c.onForeground()
	track(t, c, 2)
	s2 := c.sessionID
	if s2 == s1 {
		t.Fatal("same session after 31 s in background")
	}

	// killed in the background, launched again much later: the old session ends at its
	// last activity, in the restarted process
	c.onBackground()
	c.close()
	clock.advance(time.Hour)
	c = start(t, cfg, clock, nil)
	defer c.close()
	s3 := c.sessionID
	if s3 == s2 {
		t.Fatal("same session after a restart an hour later")
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rec.events() {
		got = append(got, e.name())
		if e.name() == "session_end" && e.SessionID == s1 && e.TimestampMs != bg {
			t.Fatalf("session_end at %d, want the background time %d", e.TimestampMs, bg)
		}
	}
	want := "[session_start e e session_end session_start e session_end session_start]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	sessions := []string{s1, s1, s1, s1, s2, s2, s2, s3}
	for i, e := range rec.events() {
		if e.SessionID != sessions[i] {
			t.Fatalf("event %d (%s) in session %s, want %s", i, e.name(), e.SessionID, sessions[i])
		}
	}
}

func TestUserResetAndScreen(t *testing.T) {
	rec := newRecorder(t)
	c := start(t, testConfig(filepath.Join(t.TempDir(), "q.db"), rec.srv.URL), nil, nil)
	defer c.close()
	if err := c.setUser(`{"user_id":"u-1"}`); err != nil {
		t.Fatal(err)
	}
	if err := c.screen("home", `{"tab":"a"}`); err != nil {
		t.Fatal(err)
	}
	if err := c.screen("cart", ""); err != nil {
		t.Fatal(err)
	}
	s1 := c.sessionID
	if err := c.reset(); err != nil {
		t.Fatal(err)
	}
	track(t, c, 0)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	evs := rec.events()
	var names []string
	for _, e := range evs {
		names = append(names, e.name())
	}
	if fmt.Sprint(names) != "[session_start screen_view screen_view session_end session_start e]" {
		t.Fatalf("events %v", names)
	}
	if evs[1].UserID != "u-1" || evs[1].Properties["screen_name"] != "home" || evs[2].Properties["previous_screen"] != "home" {
		t.Fatalf("screens %+v", evs[1:3])
	}
	if evs[5].UserID != "" || evs[5].SessionID == s1 || evs[3].SessionID != s1 {
		t.Fatalf("after reset %+v", evs[3:])
	}
}

func TestRetriesOn5xxAnd429DropsOn4xx(t *testing.T) {
	rec := newRecorder(t, 503, 429, 500)
	l := &logs{}
	c := start(t, testConfig(filepath.Join(t.TempDir(), "q.db"), rec.srv.URL), nil, l)
	defer c.close()
	track(t, c, 0)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if rec.requests != 4 || len(indexes(rec.events())) != 1 {
		t.Fatalf("requests %d, events %v", rec.requests, rec.events())
	}

	rec.mu.Lock()
	rec.statuses = []int{400}
	rec.mu.Unlock()
	track(t, c, 1)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.q.pending(); n != 0 || rec.requests != 5 {
		t.Fatalf("a 400 was kept or retried: pending %d, requests %d", n, rec.requests)
	}
	if !strings.Contains(l.text(), "refused, not retried: HTTP 400") {
		t.Fatalf("no logged reason: %s", l.text())
	}
}

func TestOfflineFlushKeepsEvents(t *testing.T) {
	db := filepath.Join(t.TempDir(), "q.db")
	c := start(t, testConfig(db, "http://127.0.0.1:1"), nil, nil) // nothing listens there
	defer c.close()
	track(t, c, 0)
	c.setNetworkAvailable(false)
	if err := c.flush(); err == nil {
		t.Fatal("flush offline succeeded")
	}
	c.setNetworkAvailable(true)
	c.flushTimeout = 300 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- c.flush() }()
	if err := <-done; err == nil {
		t.Fatal("flush to a closed port succeeded")
	}
	if n, _ := c.q.pending(); n != 2 {
		t.Fatalf("pending %d after failed sends, want 2", n)
	}
}

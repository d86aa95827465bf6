package mobile

import (
	"bytes"
	"compress/gzip"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SDKVersion is attached to every event's device_context.sdk_version.
const SDKVersion = "0.1.0"

const (
	maxBatchEvents = 1000             // the gateway's per-request cap
	flushTimeout   = 30 * time.Second // Flush's default bound; tests shorten it
)

// config is Init's JSON. Durations are milliseconds because JSON has no duration type and
// Kotlin/Swift callers think in ms.
type config struct {
	APIKey           string          `json:"apiKey"`
	Host             string          `json:"host"`
	BatchSize        int             `json:"batchSize"`
	FlushIntervalMs  int64           `json:"flushIntervalMs"`
	MaxQueue         int             `json:"maxQueue"`
	SessionTimeoutMs int64           `json:"sessionTimeoutMs"`
	DBPath           string          `json:"dbPath"`
	DeviceContext    json.RawMessage `json:"deviceContext"`
	RetryBaseMs      int64           `json:"retryBaseMs"`
	RetryMaxMs       int64           `json:"retryMaxMs"`
}

func parseConfig(s string) (config, error) {
	var c config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if c.APIKey == "" || c.Host == "" || c.DBPath == "" {
		return c, errors.New("config: apiKey, host and dbPath are required")
	}
	c.Host = strings.TrimRight(c.Host, "/")
	if c.BatchSize <= 0 {
		c.BatchSize = 50
	}
	c.BatchSize = min(c.BatchSize, maxBatchEvents)
	if c.FlushIntervalMs <= 0 {
		c.FlushIntervalMs = 10_000
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 10_000
	}
	if c.SessionTimeoutMs <= 0 {
		c.SessionTimeoutMs = 30_000
	}
	if c.RetryBaseMs <= 0 {
		c.RetryBaseMs = 1_000
	}
	if c.RetryMaxMs <= 0 {
		c.RetryMaxMs = 60_000
	}
	return c, nil
}

// client is the SDK instance behind the package-level functions; tests build their own with
// an injected clock and HTTP client.
type client struct {
	cfg    config
	q      *queue
	http   *http.Client
	now    func() time.Time
	logf   func(format string, args ...any)
	devCtx map[string]any

	mu           sync.Mutex // guards the session and identity fields below
	deviceID     string
	userID       string
	sessionID    string
	sessionStart int64 // ms
	lastSeen     int64 // ms: last event or background; a session ends sessionTimeout after it
	background   int64 // ms when OnBackground was called, 0 when in foreground
	curScreen    string

	sendMu    sync.Mutex // one send at a time: the loop and Flush never send the same rows twice
	online    bool
	onlineMu  sync.Mutex
	failures  int
	notBefore time.Time // backoff / Retry-After: the loop sends nothing earlier

	flushTimeout time.Duration

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newClient(cfg config, now func() time.Time, hc *http.Client, logf func(string, ...any)) (*client, error) {
	q, err := openQueue(cfg.DBPath, cfg.MaxQueue)
	if err != nil {
		return nil, err
	}
	c := &client{cfg: cfg, q: q, http: hc, now: now, logf: logf, online: true, flushTimeout: flushTimeout,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if len(cfg.DeviceContext) > 0 && string(cfg.DeviceContext) != "null" {
		if err := json.Unmarshal(cfg.DeviceContext, &c.devCtx); err != nil {
			q.close()
			return nil, fmt.Errorf("config.deviceContext: %w", err)
		}
	}
	if c.devCtx == nil {
		c.devCtx = map[string]any{}
	}
	c.devCtx["sdk_version"] = SDKVersion
	if err := c.restore(); err != nil {
		q.close()
		return nil, err
	}
	go c.loop()
	return c, nil
}

// restore loads the persisted identity and session; a session idle for longer than the
// timeout (the app was killed in the background, say) is ended and a new one started.
func (c *client) restore() error {
	var err error
	if c.deviceID, err = c.q.get("device_id"); err != nil {
		return err
	}
	if c.deviceID == "" {
		c.deviceID = newUUID()
		if err := c.q.set("device_id", c.deviceID); err != nil {
			return err
		}
	}
	if c.userID, err = c.q.get("user_id"); err != nil {
		return err
	}
	c.sessionID, _ = c.q.get("session_id")
	start, _ := c.q.get("session_start")
	seen, _ := c.q.get("last_seen")
	c.sessionStart, _ = strconv.ParseInt(start, 10, 64)
	c.lastSeen, _ = strconv.ParseInt(seen, 10, 64)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.touchLocked(c.nowMs())
}

func (c *client) nowMs() int64 { return c.now().UnixMilli() }

// touchLocked starts a new session when there is none or the last one timed out, and
// records activity. Caller holds c.mu.
func (c *client) touchLocked(now int64) error {
	if c.sessionID != "" && now-c.lastSeen < c.cfg.SessionTimeoutMs {
		c.lastSeen = now
		return c.q.set("last_seen", strconv.FormatInt(now, 10))
	}
	if c.sessionID != "" {
		end := c.lastSeen
		if err := c.enqueueLocked("custom", map[string]any{
			"event_name":  "session_end",
			"duration_ms": max(0, end-c.sessionStart),
		}, end); err != nil {
			return err
		}
	}
	c.sessionID, c.sessionStart, c.lastSeen = newUUID(), now, now
	for k, v := range map[string]string{"session_id": c.sessionID,
		"session_start": strconv.FormatInt(now, 10), "last_seen": strconv.FormatInt(now, 10)} {
		if err := c.q.set(k, v); err != nil {
			return err
		}
	}
	return c.enqueueLocked("custom", map[string]any{"event_name": "session_start"}, now)
}

// trackEvent is Track's input: the SDK fills identity, session, time and device context.
type trackEvent struct {
	Type          string         `json:"type"`
	EventName     string         `json:"event_name"`
	Properties    map[string]any `json:"properties"`
	TimestampMs   int64          `json:"timestamp_ms"`
	CorrelationID string         `json:"correlation_id"`
}

func (c *client) track(eventJSON string) error {
	var e trackEvent
	if err := json.Unmarshal([]byte(eventJSON), &e); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if e.Type == "" {
		return errors.New("event: type is required")
	}
	if e.Properties == nil {
		e.Properties = map[string]any{}
	}
	if e.EventName != "" {
		e.Properties["event_name"] = e.EventName
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowMs()
	if err := c.touchLocked(now); err != nil {
		return err
	}
	ts := e.TimestampMs
	if ts == 0 {
		ts = now
	}
	return c.enqueueWith(e.Type, e.Properties, ts, e.CorrelationID)
}

func (c *client) screen(name, paramsJSON string) error {
	params := map[string]any{}
	if paramsJSON != "" {
		if err := json.Unmarshal([]byte(paramsJSON), &params); err != nil {
			return fmt.Errorf("params: %w", err)
		}
	}
	props := map[string]any{"screen_name": name, "params": params}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.curScreen != "" {
		props["previous_screen"] = c.curScreen
	}
	c.curScreen = name
	now := c.nowMs()
	if err := c.touchLocked(now); err != nil {
		return err
	}
	return c.enqueueLocked("screen_view", props, now)
}

func (c *client) enqueueLocked(typ string, props map[string]any, ts int64) error {
	return c.enqueueWith(typ, props, ts, "")
}

// enqueueWith builds the envelope and commits it to the queue. Caller holds c.mu.
func (c *client) enqueueWith(typ string, props map[string]any, ts int64, corr string) error {
	env := map[string]any{
		"type":            typ,
		"device_id":       c.deviceID,
		"idempotency_key": newUUID(),
		"session_id":      c.sessionID,
		"timestamp_ms":    ts,
		"device_context":  c.devCtx,
		"properties":      props,
	}
	if c.userID != "" {
		env["user_id"] = c.userID
	}
	if corr != "" {
		env["correlation_id"] = corr
	}
	body, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	evicted, err := c.q.push(body)
	if err != nil {
		return err
	}
	if evicted > 0 {
		c.logf("causality: queue full (maxQueue %d): evicted %d oldest event(s)", c.cfg.MaxQueue, evicted)
	}
	if n, err := c.q.pending(); err == nil && n >= c.cfg.BatchSize {
		c.kick()
	}
	return nil
}

func (c *client) setUser(userJSON string) error {
	var u struct {
		UserID string `json:"user_id"`
		Alt    string `json:"userId"`
	}
	if err := json.Unmarshal([]byte(userJSON), &u); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	id := u.UserID
	if id == "" {
		id = u.Alt
	}
	if id == "" {
		return errors.New("user: user_id is required")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userID = id
	return c.q.set("user_id", id)
}

// reset forgets the user (logout) and starts a new session; the device id stays, because
// it names the device, not the person.
func (c *client) reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowMs()
	if c.sessionID != "" {
		if err := c.enqueueLocked("custom", map[string]any{
			"event_name": "session_end", "duration_ms": max(0, now-c.sessionStart)}, now); err != nil {
			return err
		}
		c.sessionID = ""
	}
	c.userID, c.curScreen = "", ""
	if err := c.q.set("user_id", ""); err != nil {
		return err
	}
	return c.touchLocked(now)
}

func (c *client) onBackground() {
	c.mu.Lock()
	now := c.nowMs()
	if c.background == 0 {
		c.background = now
		c.lastSeen = now
		_ = c.q.set("last_seen", strconv.FormatInt(now, 10))
	}
	c.mu.Unlock()
	c.kick() // flush on background: the OS may suspend or kill us next
}

func (c *client) onForeground() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.background = 0
	if err := c.touchLocked(c.nowMs()); err != nil {
		c.logf("causality: session on foreground: %v", err)
	}
}

func (c *client) setNetworkAvailable(ok bool) {
	c.onlineMu.Lock()
	was := c.online
	c.online = ok
	if ok && !was {
		c.failures, c.notBefore = 0, time.Time{} // the network is back: retry now
	}
	c.onlineMu.Unlock()
	if ok {
		c.kick()
	}
}

func (c *client) isOnline() bool {
	c.onlineMu.Lock()
	defer c.onlineMu.Unlock()
	return c.online
}

func (c *client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// loop sends on the size trigger (kick), every flush interval, and after each backoff.
func (c *client) loop() {
	defer close(c.done)
	interval := time.Duration(c.cfg.FlushIntervalMs) * time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-timer.C:
		}
		wait := interval
		if c.isOnline() {
			c.onlineMu.Lock()
			until := time.Until(c.notBefore)
			c.onlineMu.Unlock()
			if until > 0 {
				wait = min(until, interval)
			} else if retryIn, err := c.drain(); err != nil {
				c.logf("causality: %v; next try in %v", err, retryIn.Round(time.Millisecond))
				wait = retryIn
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// drain sends batches until the queue is empty; on a retryable failure it returns the
// backoff to wait and the error, leaving the events queued.
func (c *client) drain() (time.Duration, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for {
		batch, err := c.q.peek(c.cfg.BatchSize)
		if err != nil || len(batch) == 0 {
			return 0, err
		}
		if retryAfter, err := c.send(batch); err != nil {
			return c.backoff(retryAfter), err
		}
	}
}

// backoff records a failure: exponential with full jitter, at least Retry-After.
func (c *client) backoff(retryAfter time.Duration) time.Duration {
	c.onlineMu.Lock()
	defer c.onlineMu.Unlock()
	c.failures++
	ceil := float64(c.cfg.RetryBaseMs) * float64(uint64(1)<<min(c.failures-1, 20))
	ceil = min(ceil, float64(c.cfg.RetryMaxMs))
	wait := time.Duration(ceil/2+rand.Float64()*ceil/2) * time.Millisecond
	wait = max(wait, retryAfter)
	c.notBefore = time.Now().Add(wait)
	return wait
}

type retryable struct{ msg string }

func (e retryable) Error() string { return e.msg }

// send posts one batch. Accepted, duplicate and rejected events all leave the queue (a
// rejected one would be rejected again); network errors, 429 and 5xx keep the batch.
func (c *client) send(batch []queued) (time.Duration, error) {
	var raw bytes.Buffer
	raw.WriteString(`{"events":[`)
	for i, e := range batch {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(e.body)
	}
	raw.WriteString(`]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	req, err := http.NewRequest(http.MethodPost, c.cfg.Host+"/api/v1/events/batch", &gz)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-API-Key", c.cfg.APIKey)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, retryable{fmt.Sprintf("send failed, will retry: %v", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		c.logf("causality: HTTP %d, will retry (Retry-After %ds)", resp.StatusCode, ra)
		return time.Duration(ra) * time.Second, retryable{fmt.Sprintf("HTTP %d", resp.StatusCode)}
	case resp.StatusCode >= 400:
		c.logf("causality: batch of %d refused, not retried: HTTP %d %s", len(batch), resp.StatusCode, strings.TrimSpace(string(body)))
		c.logRejected(batch, body)
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		c.logRejected(batch, body)
	default:
		return 0, retryable{fmt.Sprintf("unexpected HTTP %d", resp.StatusCode)}
	}
	c.onlineMu.Lock()
	c.failures, c.notBefore = 0, time.Time{}
	c.onlineMu.Unlock()
	return 0, c.q.remove(batch)
}

func (c *client) logRejected(batch []queued, body []byte) {
	var r struct {
		Errors []struct {
			Index  int    `json:"index"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &r) != nil {
		return
	}
	for _, e := range r.Errors {
		var ev struct {
			Type string `json:"type"`
			Key  string `json:"idempotency_key"`
		}
		if e.Index >= 0 && e.Index < len(batch) {
			_ = json.Unmarshal(batch[e.Index].body, &ev)
		}
		c.logf("causality: event %d rejected (type %q, idempotency_key %s): field %s: %s",
			e.Index, ev.Type, ev.Key, e.Field, e.Reason)
	}
}

// flush sends everything queued now, ignoring backoff; an error means some events are
// still queued and will be retried by the background loop.
func (c *client) flush() error {
	if !c.isOnline() {
		return errors.New("causality: network unavailable; events stay queued")
	}
	deadline := time.Now().Add(c.flushTimeout)
	for {
		_, err := c.drain()
		if err == nil {
			return nil
		}
		var r retryable
		if !errors.As(err, &r) || time.Now().After(deadline) {
			return err
		}
		c.onlineMu.Lock()
		wait := time.Until(c.notBefore)
		c.onlineMu.Unlock()
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

func (c *client) close() error {
	close(c.stop)
	<-c.done
	c.sendMu.Lock() // wait for a Flush in progress
	defer c.sendMu.Unlock()
	return c.q.close()
}

func newUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

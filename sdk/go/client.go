// Package causality is the Go SDK for Causality, a self-hosted behavioral analytics platform.
//
// A Client queues events in memory and a background goroutine sends them to the gateway's
// batch endpoint in gzip-compressed batches, by size and by time. Track never waits for the
// network: when the bounded queue is full the event is dropped and counted (Dropped), so a
// slow or absent gateway can never stall the application. Failed sends are retried with
// exponential backoff and jitter (network errors, 5xx, 408, 429 with Retry-After honoured);
// 4xx validation errors are logged with the gateway's reason and dropped, never retried.
package causality

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the SDK version, sent as device_context.sdk_version "causality-go/<Version>".
const Version = "0.1.0"

// Gateway limits (README "Ingestion API"): at most 1000 events and 5 MB per batch.
const (
	maxBatchEvents = 1000
	maxBatchBytes  = 4 << 20 // below 5 MB, leaving room for the envelope of the batch
)

var (
	// ErrQueueFull is returned by Track when the queue is full; the event is dropped.
	ErrQueueFull = errors.New("causality: queue full, event dropped")
	// ErrClosed is returned by Track after Close.
	ErrClosed = errors.New("causality: client closed")
)

// Option configures a Client.
type Option func(*config)

type config struct {
	host          string
	batchSize     int
	maxBatch      int
	flushInterval time.Duration
	queueSize     int
	httpClient    *http.Client
	logger        *slog.Logger
	deviceID      string
	deviceContext DeviceContext
	serverContext bool
	gzip          bool
	retryBase     time.Duration
	retryMax      time.Duration
}

// WithHost sets the gateway's base URL (default http://127.0.0.1:8000).
func WithHost(url string) Option { return func(c *config) { c.host = strings.TrimRight(url, "/") } }

// WithBatchSize sets how many queued events trigger a send (default 100). The send takes
// whatever else is queued by then, up to WithMaxBatchEvents.
func WithBatchSize(n int) Option { return func(c *config) { c.batchSize = n } }

// WithMaxBatchEvents caps the events of one request (default and gateway limit 1000). Under
// load a bigger request costs the gateway far less per event than several small ones.
func WithMaxBatchEvents(n int) Option { return func(c *config) { c.maxBatch = n } }

// WithFlushInterval sets how long an event may wait for its batch to fill (default 1 s).
func WithFlushInterval(d time.Duration) Option { return func(c *config) { c.flushInterval = d } }

// WithQueueSize bounds the events waiting to be sent (default 10000); beyond it Track drops.
func WithQueueSize(n int) Option { return func(c *config) { c.queueSize = n } }

// WithHTTPClient sets the HTTP client (default: one with a 10 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *config) { c.httpClient = h } }

// WithLogger sets where refusals, rejections and outages are logged (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDeviceID sets the device_id of events that carry none (default: a random UUID per
// Client). A backend usually passes the end user's device or browser id per event instead.
func WithDeviceID(id string) Option { return func(c *config) { c.deviceID = id } }

// WithDeviceContext sets fields of the device_context sent with every event; empty fields
// keep the defaults (platform "server", os_version GOOS/GOARCH, sdk_version).
func WithDeviceContext(d DeviceContext) Option { return func(c *config) { c.deviceContext = d } }

// WithServerContext turns off (false) the server_hostname and server_go_version properties
// that are otherwise added to every event.
func WithServerContext(on bool) Option { return func(c *config) { c.serverContext = on } }

// WithGzip turns request compression off (false) or on (default on, for bodies >= 1 KiB).
func WithGzip(on bool) Option { return func(c *config) { c.gzip = on } }

// WithRetryBackoff sets the first retry delay and the cap of the exponential backoff
// (defaults 500 ms and 30 s).
func WithRetryBackoff(base, max time.Duration) Option {
	return func(c *config) { c.retryBase, c.retryMax = base, max }
}

// Stats counts what a Client did with the events it was given.
type Stats struct {
	Tracked    uint64 // accepted by Track into the queue
	Dropped    uint64 // lost without an answer: queue full, or still queued when Close gave up
	Delivered  uint64 // accepted by the gateway
	Duplicates uint64 // the gateway already had them (a retry after a lost answer)
	Rejected   uint64 // refused by the gateway (validation errors, 4xx); logged, not retried
	Requests   uint64 // HTTP attempts
	Retries    uint64 // attempts that failed and were retried
}

type queued struct {
	body []byte
	typ  string
	key  string
}

// Client sends events to one gateway with one API key. It is safe for concurrent use.
type Client struct {
	cfg       config
	log       *slog.Logger
	transport *transport
	queue     chan queued
	flushReq  chan chan struct{}
	stopReq   chan struct{}
	stopped   chan struct{}
	ctx       context.Context // the sender's lifetime; cancelled when Close gives up
	cancel    context.CancelFunc

	mu     sync.RWMutex // Track holds it shared, Close exclusively: no send after Close
	closed bool

	baseContext DeviceContext
	serverProps []byte // `,"server_hostname":...,"server_go_version":...` or nil

	tracked, dropped, delivered, duplicates, rejected, requests, retries atomic.Uint64
}

// New starts a Client and its sender goroutine; call Close to deliver what is queued.
func New(apiKey string, opts ...Option) *Client {
	cfg := config{
		host:          "http://127.0.0.1:8000",
		batchSize:     100,
		maxBatch:      maxBatchEvents,
		flushInterval: time.Second,
		queueSize:     10_000,
		serverContext: true,
		gzip:          true,
		retryBase:     500 * time.Millisecond,
		retryMax:      30 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.maxBatch = max(1, min(cfg.maxBatch, maxBatchEvents))
	cfg.batchSize = max(1, min(cfg.batchSize, cfg.maxBatch))
	cfg.queueSize = max(1, cfg.queueSize)
	if cfg.flushInterval <= 0 {
		cfg.flushInterval = time.Second
	}
	if cfg.httpClient == nil {
		cfg.httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.deviceID == "" {
		cfg.deviceID = newUUIDv4()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:         cfg,
		log:         cfg.logger,
		transport:   newTransport(cfg.host, apiKey, cfg.httpClient, cfg.gzip),
		queue:       make(chan queued, cfg.queueSize),
		flushReq:    make(chan chan struct{}),
		stopReq:     make(chan struct{}),
		stopped:     make(chan struct{}),
		ctx:         ctx,
		cancel:      cancel,
		baseContext: serverDeviceContext(cfg.deviceContext),
	}
	if cfg.serverContext {
		c.serverProps = serverProperties()
	}
	go c.run()
	return c
}

// serverDeviceContext is what a backend can honestly report as its device: that it is a
// server, its OS and architecture, and the SDK version; the caller's fields override these.
func serverDeviceContext(d DeviceContext) DeviceContext {
	if d.Platform == "" {
		d.Platform = "server"
	}
	if d.OSVersion == "" {
		d.OSVersion = runtime.GOOS + "/" + runtime.GOARCH
	}
	if d.SDKVersion == "" {
		d.SDKVersion = "causality-go/" + Version
	}
	return d
}

// serverProperties encodes the hostname and Go version once. They are properties, not
// device_context, because device_context only admits the contract's fields.
func serverProperties() []byte {
	host, _ := os.Hostname()
	b, _ := json.Marshal(map[string]string{
		"server_hostname": host, "server_go_version": runtime.Version(),
	})
	return append([]byte{','}, b[1:len(b)-1]...)
}

type wireEvent struct {
	Type           string          `json:"type"`
	DeviceID       string          `json:"device_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	UserID         string          `json:"user_id,omitempty"`
	SessionID      string          `json:"session_id,omitempty"`
	CorrelationID  string          `json:"correlation_id,omitempty"`
	TimestampMs    int64           `json:"timestamp_ms"`
	DeviceContext  *DeviceContext  `json:"device_context,omitempty"`
	Properties     json.RawMessage `json:"properties"`
}

// encode fills the envelope's defaults and encodes the event now, on the caller's
// goroutine, so later changes to the caller's maps cannot race with the sender.
func (c *Client) encode(ev Event) (queued, error) {
	if ev.Type == "" {
		return queued{}, errors.New("causality: event type is required")
	}
	w := wireEvent{
		Type: ev.Type, DeviceID: ev.DeviceID, IdempotencyKey: ev.IdempotencyKey,
		UserID: ev.UserID, SessionID: ev.SessionID, CorrelationID: ev.CorrelationID,
		DeviceContext: ev.DeviceContext,
	}
	if w.DeviceID == "" {
		w.DeviceID = c.cfg.deviceID
	}
	if w.IdempotencyKey == "" {
		w.IdempotencyKey = newUUIDv4()
	}
	if ev.Timestamp.IsZero() {
		w.TimestampMs = time.Now().UnixMilli()
	} else {
		w.TimestampMs = ev.Timestamp.UnixMilli()
	}
	if w.DeviceContext == nil {
		w.DeviceContext = &c.baseContext
	}
	props, err := json.Marshal(ev.Properties)
	if err != nil {
		return queued{}, err
	}
	if string(props) == "null" {
		props = []byte("{}")
	}
	if c.serverProps != nil && !hasServerKeys(ev.Properties) {
		// splice the server context in before the closing brace, without copying the map
		extra := c.serverProps
		if len(props) == 2 {
			extra = extra[1:]
		}
		props = append(props[:len(props)-1:len(props)-1], append(extra, '}')...)
	}
	w.Properties = props
	body, err := json.Marshal(&w)
	if err != nil {
		return queued{}, err
	}
	return queued{body: body, typ: w.Type, key: w.IdempotencyKey}, nil
}

func hasServerKeys(p map[string]any) bool {
	_, a := p["server_hostname"]
	_, b := p["server_go_version"]
	return a || b
}

// Track queues an event and returns at once; it never waits for the network. It returns
// ErrQueueFull (the event is dropped and counted) when the queue is full, ErrClosed after
// Close, or an encoding error. ctx is accepted for symmetry and tracing; a cancelled ctx
// drops the event.
func (c *Client) Track(ctx context.Context, ev Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q, err := c.encode(ev)
	if err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.queue <- q:
		c.tracked.Add(1)
		return nil
	default:
		if n := c.dropped.Add(1); n&(n-1) == 0 { // log at 1, 2, 4, 8, ... drops
			c.log.Warn("causality: queue full, dropping events", "dropped", n)
		}
		return ErrQueueFull
	}
}

// Dropped is the number of events lost without an answer from the gateway.
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Tracked: c.tracked.Load(), Dropped: c.dropped.Load(), Delivered: c.delivered.Load(),
		Duplicates: c.duplicates.Load(), Rejected: c.rejected.Load(),
		Requests: c.requests.Load(), Retries: c.retries.Load(),
	}
}

// Flush sends everything queued before the call and waits until the gateway has answered
// for it (retrying as needed) or ctx is done, whichever comes first. A Flush that gives up
// leaves the events queued: the sender keeps retrying them.
func (c *Client) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.flushReq <- done:
	case <-c.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, delivers what is queued within ctx's deadline, then stops the
// sender. Events still unsent when ctx is done are dropped (counted in Dropped) and ctx's
// error is returned. Close is idempotent.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	c.mu.Unlock()
	if first {
		close(c.stopReq)
	}
	select {
	case <-c.stopped:
		return nil
	case <-ctx.Done():
		c.cancel() // aborts the request in flight and any backoff sleep
		<-c.stopped
		return ctx.Err()
	}
}

// run is the sender goroutine: it batches by size and by time, and owns the transport.
func (c *Client) run() {
	defer close(c.stopped)
	defer c.cancel()
	ticker := time.NewTicker(c.cfg.flushInterval)
	defer ticker.Stop()
	batch := make([]queued, 0, c.cfg.maxBatch)
	size := 0
	add := func(q queued) {
		if len(batch) > 0 && size+len(q.body) > maxBatchBytes {
			c.deliver(batch)
			batch, size = batch[:0], 0
		}
		batch = append(batch, q)
		size += len(q.body) + 1
		if len(batch) < c.cfg.batchSize {
			return
		}
		// the trigger is reached: take what else waits, up to the request's limits
		for len(batch) < c.cfg.maxBatch && size < maxBatchBytes {
			select {
			case more := <-c.queue:
				batch = append(batch, more)
				size += len(more.body) + 1
				continue
			default:
			}
			break
		}
		c.deliver(batch)
		batch, size = batch[:0], 0
	}
	drain := func() {
		for {
			select {
			case q := <-c.queue:
				add(q)
			default:
				if len(batch) > 0 {
					c.deliver(batch)
					batch, size = batch[:0], 0
				}
				return
			}
		}
	}
	for {
		select {
		case q := <-c.queue:
			add(q)
		case <-ticker.C:
			if len(batch) > 0 {
				c.deliver(batch)
				batch, size = batch[:0], 0
			}
		case done := <-c.flushReq:
			drain()
			close(done)
		case <-c.stopReq:
			drain()
			if n := len(c.queue); n > 0 { // only when Close gave up mid-drain
				c.dropped.Add(uint64(n))
			}
			return
		}
	}
}

// deliver sends one batch until the gateway settles it (accepted, rejected or refused) or
// the client is stopped. It retries forever otherwise: the bounded queue, not a retry
// limit, is what keeps an outage from growing memory, and Close's deadline ends the wait.
func (c *Client) deliver(batch []queued) {
	for attempt := 1; ; attempt++ {
		if c.ctx.Err() != nil {
			c.dropped.Add(uint64(len(batch)))
			c.log.Error("causality: client closed before delivery, events dropped",
				"events", len(batch))
			return
		}
		c.requests.Add(1)
		out := c.transport.send(c.ctx, batch)
		switch out.verdict {
		case delivered:
			c.delivered.Add(uint64(out.accepted))
			c.duplicates.Add(uint64(out.duplicates))
			c.rejected.Add(uint64(out.rejected))
			c.logRejections(out, batch)
			return
		case refused:
			c.rejected.Add(uint64(len(batch)))
			c.logRejections(out, batch)
			c.log.Error("causality: batch refused, not retried", "events", len(batch),
				"reason", out.reason)
			return
		case tooLarge:
			if len(batch) == 1 {
				c.rejected.Add(1)
				c.log.Error("causality: event too large, dropped", "type", batch[0].typ,
					"idempotency_key", batch[0].key, "reason", out.reason)
				return
			}
			half := len(batch) / 2
			c.deliver(batch[:half])
			c.deliver(batch[half:])
			return
		case retry:
			if c.ctx.Err() != nil {
				continue // the request was aborted by Close: count the batch as dropped
			}
			c.retries.Add(1)
			delay := backoff(attempt, c.cfg.retryBase, c.cfg.retryMax, out.retryAfter)
			level := slog.LevelDebug
			if attempt == 1 || attempt%10 == 0 {
				level = slog.LevelWarn // when an outage starts, and every tenth attempt
			}
			c.log.Log(context.Background(), level, "causality: send failed, retrying",
				"events", len(batch), "reason", out.reason, "attempt", attempt, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
			}
		}
	}
}

const maxLoggedRejections = 10 // per batch: a systematic misuse must not flood the log

func (c *Client) logRejections(out outcome, batch []queued) {
	for i, e := range out.errors {
		if i == maxLoggedRejections {
			c.log.Warn("causality: more events of the batch rejected",
				"count", len(out.errors)-maxLoggedRejections)
			break
		}
		var typ, key string
		if e.Index >= 0 && e.Index < len(batch) {
			typ, key = batch[e.Index].typ, batch[e.Index].key
		}
		c.log.Warn("causality: event rejected", "index", e.Index, "type", typ,
			"idempotency_key", key, "field", e.Field, "reason", e.Reason)
	}
}

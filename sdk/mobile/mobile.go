// Package mobile is the Causality core for iOS and Android apps, bound with `gomobile bind`.
//
// Its exported API uses only types gomobile can bind (string, bool, integers, floats,
// []byte, error, and interfaces of those); structured data travels as JSON strings. A
// test (api_test.go) inspects this package and fails on any other type.
//
// Events are committed to a SQLite file (pure-Go driver) before any send, so they survive
// the app being killed; they are sent oldest first in batches to the gateway's
// POST /api/v1/events/batch, retried with backoff while offline or on 429/5xx, and dropped
// with a logged reason on other 4xx answers.
package mobile

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"
)

// Logger receives the SDK's diagnostics (rejected events, evictions, retries). Implement it
// in Kotlin or Swift to route them to Logcat / os_log; by default they go to the Go log.
type Logger interface {
	Log(message string)
}

var (
	mu       sync.Mutex
	instance *client
	logMu    sync.Mutex // not mu: Init and Shutdown hold mu while the client may log
	logger   Logger
)

var errNotInitialized = errors.New("causality: Init has not been called")

func logf(format string, args ...any) {
	logMu.Lock()
	l := logger
	logMu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if l != nil {
		l.Log(msg)
		return
	}
	log.Print(msg)
}

// SetLogger routes diagnostics to l (nil restores the Go log).
func SetLogger(l Logger) {
	logMu.Lock()
	defer logMu.Unlock()
	logger = l
}

// Init opens (or creates) the queue at dbPath and starts sending. configJSON:
// {"apiKey", "host", "batchSize" (50), "flushIntervalMs" (10000), "maxQueue" (10000),
// "sessionTimeoutMs" (30000), "dbPath", "deviceContext": {platform, os_version, ...},
// "retryBaseMs" (1000), "retryMaxMs" (60000)}. Calling Init again closes the previous
// instance first; what it had queued stays in its file.
func Init(configJSON string) error {
	cfg, err := parseConfig(configJSON)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if instance != nil {
		_ = instance.close()
		instance = nil
	}
	c, err := newClient(cfg, time.Now, &http.Client{Timeout: 30 * time.Second}, logf)
	if err != nil {
		return err
	}
	instance = c
	return nil
}

func current() (*client, error) {
	mu.Lock()
	defer mu.Unlock()
	if instance == nil {
		return nil, errNotInitialized
	}
	return instance, nil
}

// Track queues one event: {"type": "button_tap", "properties": {...}} (custom events:
// "type": "custom" and "event_name"). It returns once the event is on disk; identity,
// session, time and device context are filled in.
func Track(eventJSON string) error {
	c, err := current()
	if err != nil {
		return err
	}
	return c.track(eventJSON)
}

// Screen queues a screen_view for name with params (a JSON object, or "").
func Screen(name, paramsJSON string) error {
	c, err := current()
	if err != nil {
		return err
	}
	return c.screen(name, paramsJSON)
}

// SetUser identifies the user ({"user_id": "..."}); later events carry it, across restarts.
func SetUser(userJSON string) error {
	c, err := current()
	if err != nil {
		return err
	}
	return c.setUser(userJSON)
}

// Reset forgets the user and starts a new session (call it on logout).
func Reset() error {
	c, err := current()
	if err != nil {
		return err
	}
	return c.reset()
}

// Flush sends everything queued and blocks until done (at most 30 s); call it off the main
// thread. An error means events are still queued and will be retried.
func Flush() error {
	c, err := current()
	if err != nil {
		return err
	}
	return c.flush()
}

// GetDeviceId returns the persisted device id ("" before Init).
func GetDeviceId() string {
	c, err := current()
	if err != nil {
		return ""
	}
	return c.deviceID
}

// PendingCount is how many events wait in the queue (-1 before Init or on error).
func PendingCount() int {
	c, err := current()
	if err != nil {
		return -1
	}
	n, err := c.q.pending()
	if err != nil {
		return -1
	}
	return n
}

// OnBackground: call when the app goes to the background; starts a flush.
func OnBackground() {
	if c, err := current(); err == nil {
		c.onBackground()
	}
}

// OnForeground: call when the app returns; a new session starts after sessionTimeoutMs away.
func OnForeground() {
	if c, err := current(); err == nil {
		c.onForeground()
	}
}

// SetNetworkAvailable pauses sending while false; true retries at once.
func SetNetworkAvailable(available bool) {
	if c, err := current(); err == nil {
		c.setNetworkAvailable(available)
	}
}

// Shutdown stops sending and closes the queue file; queued events stay for the next Init.
func Shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if instance == nil {
		return nil
	}
	err := instance.close()
	instance = nil
	return err
}

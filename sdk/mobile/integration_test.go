package mobile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// These tests talk to a real gateway that tests/integration/test_sdk_mobile.py starts; it
// then checks what reached the gateway's NATS stream. Without the variables they skip, so
// `go test ./...` runs offline.
func gatewayEnv(t *testing.T) (string, string) {
	url, key := os.Getenv("CAUSALITY_TEST_GATEWAY_URL"), os.Getenv("CAUSALITY_TEST_API_KEY")
	if url == "" || key == "" {
		t.Skip("CAUSALITY_TEST_GATEWAY_URL / CAUSALITY_TEST_API_KEY unset: no gateway")
	}
	return url, key
}

type collectLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *collectLogger) Log(m string) { l.mu.Lock(); l.lines = append(l.lines, m); l.mu.Unlock() }

func TestGatewayReceivesEventsAndRefusesInvalidOnes(t *testing.T) {
	url, key := gatewayEnv(t)
	logs := &collectLogger{}
	SetLogger(logs)
	defer SetLogger(nil)
	cfg, _ := json.Marshal(map[string]any{
		"apiKey": key, "host": url, "dbPath": filepath.Join(t.TempDir(), "q.db"),
		"flushIntervalMs": 3600000, "batchSize": 100,
		"deviceContext": map[string]any{"platform": "ios", "os_version": "17.4",
			"app_version": "2.0.0", "device_model": "iPhone15,2", "locale": "en_GB"},
	})
	if err := Init(string(cfg)); err != nil {
		t.Fatal(err)
	}
	defer Shutdown()
	if err := SetUser(`{"user_id":"user-42"}`); err != nil {
		t.Fatal(err)
	}
	steps := []error{
		Screen("home", `{"tab":"feed"}`),
		Track(`{"type":"button_tap","properties":{"button_id":"buy","screen_name":"home"}}`),
		Track(`{"type":"add_to_cart","properties":{"product_id":"p-1","currency":"eur"}}`), // invalid
		Track(`{"type":"custom","event_name":"level_up","properties":{"level":3}}`),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := Flush(); err != nil {
		t.Fatal(err)
	}
	if n := PendingCount(); n != 0 {
		t.Fatalf("pending %d after flush", n)
	}
	text := strings.Join(logs.lines, "\n")
	if !strings.Contains(text, `rejected (type "add_to_cart"`) || !strings.Contains(text, "properties.currency") {
		t.Fatalf("the rejected event's reason was not logged:\n%s", text)
	}
	b, _ := json.Marshal(map[string]any{"device_id": GetDeviceId()})
	fmt.Println("MOBILE_REPORT " + string(b))
}

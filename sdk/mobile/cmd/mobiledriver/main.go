// Command mobiledriver drives the mobile core from a separate process so a test can kill it
// with SIGKILL and start it again on the same SQLite file, as an OS does to an app.
//
//	mobiledriver queue <host> <apiKey> <dbPath> <n>   track n events, print a line, wait forever
//	mobiledriver drain <host> <apiKey> <dbPath>       flush what is queued, print a line, exit
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	mobile "github.com/causality-dev/causality/sdk/mobile"
)

type stderrLogger struct{}

func (stderrLogger) Log(m string) { fmt.Fprintln(os.Stderr, m) }

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: mobiledriver queue|drain host apiKey dbPath [n]")
		os.Exit(2)
	}
	mode, host, key, db := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	mobile.SetLogger(stderrLogger{})
	cfg, _ := json.Marshal(map[string]any{
		"apiKey": key, "host": host, "dbPath": db, "batchSize": 10, "flushIntervalMs": 200,
		"retryBaseMs": 100, "retryMaxMs": 500,
		"deviceContext": map[string]any{"platform": "android", "os_version": "14",
			"app_version": "1.2.3", "device_model": "Pixel 8", "is_emulator": true},
	})
	must(mobile.Init(string(cfg)))
	report := map[string]any{"device_id": mobile.GetDeviceId()}
	switch mode {
	case "queue":
		n, err := strconv.Atoi(os.Args[5])
		must(err)
		for i := range n {
			must(mobile.Track(fmt.Sprintf(`{"type":"custom","event_name":"queued offline","properties":{"i":%d}}`, i)))
		}
		report["pending"] = mobile.PendingCount()
		emit(report)
		for { // the test kills this process
			time.Sleep(time.Hour)
		}
	case "drain":
		err := mobile.Flush()
		report["flushed"] = err == nil
		if err != nil {
			report["error"] = err.Error()
		}
		report["pending"] = mobile.PendingCount()
		must(mobile.Shutdown())
		emit(report)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(2)
	}
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

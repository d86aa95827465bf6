package causality

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

const (
	batchPath = "/api/v1/events/batch"
	// gzipMinBytes: smaller bodies go as they are; gzip would save a few bytes for CPU.
	gzipMinBytes = 1024
	// maxResponseBytes bounds what is read of an answer; the gateway's are small JSON.
	maxResponseBytes = 1 << 20
)

type verdict int

const (
	delivered verdict = iota // 202 (some events may have been rejected individually)
	refused                  // another 4xx: never retried, the reason is logged
	tooLarge                 // 413: split the batch, or refuse a single event
	retry                    // network error, 5xx, 408 or 429: try again after a delay
)

// rejection is one per-event error of a 202 (or 400) answer.
type rejection struct {
	Index  int    `json:"index"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// outcome is one attempt's result, with the gateway's per-event counts when it answered.
type outcome struct {
	verdict    verdict
	status     int
	reason     string
	retryAfter time.Duration
	accepted   int
	duplicates int
	rejected   int
	errors     []rejection
}

type answer struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   int         `json:"rejected"`
	Errors     []rejection `json:"errors"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// interpret is the one place where HTTP statuses become decisions (README "Ingestion API").
// Any 4xx other than 408, 413 and 429 is final: the same events sent again would get the
// same answer, so retrying would only burn the gateway's capacity.
func interpret(status int, header http.Header, body []byte, now time.Time) outcome {
	var a answer
	_ = json.Unmarshal(body, &a) // a proxy's HTML error page leaves a zero answer
	reason := fmt.Sprintf("HTTP %d", status)
	if a.Error != nil {
		reason = fmt.Sprintf("HTTP %d %s: %s", status, a.Error.Code, a.Error.Message)
		if a.Error.Field != "" {
			reason += " (field " + a.Error.Field + ")"
		}
	}
	switch {
	case status >= 200 && status < 300:
		return outcome{verdict: delivered, status: status, accepted: a.Accepted,
			duplicates: a.Duplicates, rejected: a.Rejected, errors: a.Errors}
	case status == http.StatusRequestEntityTooLarge:
		return outcome{verdict: tooLarge, status: status, reason: reason}
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		after, _ := parseRetryAfter(header.Get("Retry-After"), now)
		return outcome{verdict: retry, status: status, reason: reason, retryAfter: after}
	default:
		return outcome{verdict: refused, status: status, reason: reason,
			rejected: a.Rejected, errors: a.Errors}
	}
}

// transport POSTs batches; it is used by the sender goroutine only, so its buffers and gzip
// writer are reused without locking.
type transport struct {
	url       string
	apiKey    string
	userAgent string
	http      *http.Client
	compress  bool
	raw       bytes.Buffer
	zipped    bytes.Buffer
	gz        *gzip.Writer
}

func newTransport(host, apiKey string, client *http.Client, compress bool) *transport {
	gz, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	return &transport{url: host + batchPath, apiKey: apiKey, userAgent: "causality-go/" + Version,
		http: client, compress: compress, gz: gz}
}

// encode joins the already encoded envelopes into {"events":[...]}, gzipped above a size.
func (t *transport) encode(bodies []queued) (body []byte, gzipped bool) {
	t.raw.Reset()
	t.raw.WriteString(`{"events":[`)
	for i, q := range bodies {
		if i > 0 {
			t.raw.WriteByte(',')
		}
		t.raw.Write(q.body)
	}
	t.raw.WriteString("]}")
	if !t.compress || t.raw.Len() < gzipMinBytes {
		return t.raw.Bytes(), false
	}
	t.zipped.Reset()
	t.gz.Reset(&t.zipped)
	_, _ = t.gz.Write(t.raw.Bytes())
	_ = t.gz.Close()
	return t.zipped.Bytes(), true
}

// send makes one attempt; network failures come back as a retry outcome, never an error.
func (t *transport) send(ctx context.Context, bodies []queued) outcome {
	body, gzipped := t.encode(bodies)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return outcome{verdict: refused, reason: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", t.apiKey)
	req.Header.Set("User-Agent", t.userAgent)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return outcome{verdict: retry, reason: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The gateway has the batch but its answer was cut: the retry is harmless because
		// the idempotency keys make the gateway report duplicates, not store twice.
		return outcome{verdict: retry, reason: "reading the answer: " + err.Error()}
	}
	return interpret(resp.StatusCode, resp.Header, data, time.Now())
}

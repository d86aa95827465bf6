package causality

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps a Retry-After: a misconfigured proxy must not park the SDK for a day
// while its queue overflows.
const maxRetryAfter = 10 * time.Minute

// parseRetryAfter reads a Retry-After header (RFC 9110: delay-seconds or an HTTP-date).
// ok is false when it is absent or unparseable, so the caller falls back to its backoff; a
// date in the past means "now".
func parseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	d = when.Sub(now)
	if d < 0 {
		d = 0
	}
	return min(d, maxRetryAfter), true
}

// backoff is the delay before retry number attempt (1-based): base * 2^(attempt-1) capped at
// max, then "equal jitter" (a uniform draw from its upper half). SDK instances fail together
// when a gateway restarts; without jitter they would all come back in the same instant. A
// positive Retry-After replaces the backoff (the server knows when it will have room), plus
// up to 10% of itself so a crowd told "1 s" does not return in the same millisecond.
func backoff(attempt int, base, max time.Duration, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter + time.Duration(rand.Int64N(int64(retryAfter)/10+1))
	}
	exp := base
	for i := 1; i < attempt && exp < max; i++ {
		exp *= 2
	}
	if exp > max {
		exp = max
	}
	half := exp / 2
	return half + time.Duration(rand.Int64N(int64(exp-half)+1))
}

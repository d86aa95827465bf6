package causality

import (
	"crypto/rand"
	"sync"
)

// uuidSource hands out random bytes from a buffer refilled 4 KiB at a time, so that Track
// pays for a crypto/rand read once per 256 events rather than once per event.
type uuidSource struct {
	mu  sync.Mutex
	buf [4096]byte
	off int
}

var uuids = &uuidSource{off: 4096}

const hexDigits = "0123456789abcdef"

// newUUIDv4 returns a random (version 4, RFC 9562) UUID in its canonical text form. The
// gateway drops a second event with the same idempotency key, so keys must never collide:
// they come from crypto/rand, never from a seeded generator.
func newUUIDv4() string {
	var b [16]byte
	uuids.mu.Lock()
	if uuids.off+16 > len(uuids.buf) {
		if _, err := rand.Read(uuids.buf[:]); err != nil {
			uuids.mu.Unlock()
			panic("causality: crypto/rand failed: " + err.Error())
		}
		uuids.off = 0
	}
	copy(b[:], uuids.buf[uuids.off:uuids.off+16])
	// Overwrite what was handed out: the bytes of a key must never be reused.
	clear(uuids.buf[uuids.off : uuids.off+16])
	uuids.off += 16
	uuids.mu.Unlock()
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	var out [36]byte
	j := 0
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexDigits[x>>4]
		out[j+1] = hexDigits[x&0x0f]
		j += 2
	}
	return string(out[:])
}

package httpmetrics

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"unsafe"
)

// MaxRequestIDLen is the longest incoming request id that is kept.
const MaxRequestIDLen = 128

// SaneRequestID reports whether id, sent by a client, is kept as the
// request id: 1 to MaxRequestIDLen characters, each an ASCII letter or
// digit or one of - _ . : + / =. Anything else (spaces, quotes, control
// characters, non-ASCII) could forge or break log lines and is replaced by
// a new id.
func SaneRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte[id[i]] {
			return false
		}
	}
	return true
}

var idByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.:+/=" {
		t[c] = true
	}
	return t
}()

// idPrefix is 16 hex digits drawn once per process from crypto/rand, so
// that ids from different processes differ; idCounter numbers the ids of
// this process.
var (
	idPrefix  [16]byte
	idCounter atomic.Uint64
)

func init() {
	var b [8]byte
	rand.Read(b[:]) // never returns an error (Go 1.24 and later)
	hex.Encode(idPrefix[:], b[:])
}

// idCell is the storage of one request id as a one-element header value:
// the id's bytes and the slice that holds it. It lives in the request's
// recorder, so the id costs no allocation of its own; neither is changed
// once the request has started.
type idCell struct {
	hdr [1]string
	buf [32]byte
}

// generate writes a new id into c, 32 hex digits (the process's random
// prefix and the next value of its counter), and returns it as a header
// value.
func (c *idCell) generate() []string {
	copy(c.buf[:16], idPrefix[:])
	n := idCounter.Add(1)
	const digits = "0123456789abcdef"
	for i := 31; i >= 16; i-- {
		c.buf[i] = digits[n&0xf]
		n >>= 4
	}
	c.hdr[0] = unsafe.String(&c.buf[0], len(c.buf))
	return c.hdr[:]
}

// keep returns id, a sane incoming id, as a header value.
func (c *idCell) keep(id string) []string {
	c.hdr[0] = id
	return c.hdr[:]
}

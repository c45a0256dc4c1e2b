package httpmetrics

import (
	"bufio"
	"io"
	"net"
	"sync"

	"github.com/felixge/httpsnoop"
)

// recorder watches one response through httpsnoop hooks: the first final
// status, the body bytes, and whether the connection was hijacked.
//
// Its hooks are built once and the recorder is pooled: httpsnoop calls
// each hook once per Wrap to learn the function to call, and the hooks
// store the original method in the recorder and return the recorder's own
// prebuilt method, so wrapping costs no closure of ours per request.
type recorder struct {
	status   int // first final status written; 0 while none
	bytes    int64
	hijacked bool

	nextWriteHeader httpsnoop.WriteHeaderFunc
	nextWrite       httpsnoop.WriteFunc
	nextWriteString httpsnoop.WriteStringFunc
	nextReadFrom    httpsnoop.ReadFromFunc
	nextFlush       httpsnoop.FlushFunc
	nextFlushError  httpsnoop.FlushErrorFunc
	nextHijack      httpsnoop.HijackFunc

	hooks httpsnoop.Hooks
}

var recorderPool = sync.Pool{New: func() any { return newRecorder() }}

func getRecorder() *recorder { return recorderPool.Get().(*recorder) }

func putRecorder(r *recorder) {
	r.status, r.bytes, r.hijacked = 0, 0, false
	r.nextWriteHeader, r.nextWrite, r.nextWriteString, r.nextReadFrom = nil, nil, nil, nil
	r.nextFlush, r.nextFlushError, r.nextHijack = nil, nil, nil
	recorderPool.Put(r)
}

func newRecorder() *recorder {
	r := &recorder{}
	writeHeader, write, writeString, readFrom := r.writeHeader, r.write, r.writeString, r.readFrom
	flush, flushError, hijack := r.flush, r.flushError, r.hijack
	r.hooks = httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			r.nextWriteHeader = next
			return writeHeader
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			r.nextWrite = next
			return write
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			r.nextWriteString = next
			return writeString
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			r.nextReadFrom = next
			return readFrom
		},
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			r.nextFlush = next
			return flush
		},
		FlushError: func(next httpsnoop.FlushErrorFunc) httpsnoop.FlushErrorFunc {
			r.nextFlushError = next
			return flushError
		},
		Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			r.nextHijack = next
			return hijack
		},
	}
	return r
}

// statusOr200 is the status to record for a handler that returned: what it
// wrote, or 200 as net/http sends when nothing was written.
func (r *recorder) statusOr200() int {
	if r.status == 0 {
		return 200
	}
	return r.status
}

func (r *recorder) writeHeader(code int) {
	// 1xx answers other than 101 are informational (103 Early Hints): the
	// final status comes later. net/http ignores a second final status.
	if r.status == 0 && (code < 100 || code > 199 || code == 101) {
		r.status = code
	}
	r.nextWriteHeader(code)
}

func (r *recorder) write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	n, err := r.nextWrite(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) writeString(s string) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	n, err := r.nextWriteString(s)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) readFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = 200
	}
	n, err := r.nextReadFrom(src)
	r.bytes += n
	return n, err
}

func (r *recorder) flush() {
	if r.status == 0 {
		r.status = 200
	}
	r.nextFlush()
}

func (r *recorder) flushError() error {
	if r.status == 0 {
		r.status = 200
	}
	return r.nextFlushError()
}

func (r *recorder) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := r.nextHijack()
	if err == nil {
		r.hijacked = true
	}
	return c, rw, err
}

package livedash

import (
	"bytes"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/jsonesc"
)

// Bounds of one log query (/api/logs) and of the records one live update
// of the Logs page carries.
const (
	// maxQueryRecords is the default and the most records a query
	// returns (its limit).
	maxQueryRecords = 2000
	// maxQueryParam bounds the q and request_id parameters.
	maxQueryParam = 256
	// maxQueryBytes bounds a query's answer: past it the oldest matches
	// are left out and the answer says "truncated": true.
	maxQueryBytes = 4 << 20
	// queryWriteTimeout bounds the writing of a query's answer.
	queryWriteTimeout = 10 * time.Second
	// batchRecs and batchText bound what a reader copies out of the
	// Ring at a time (at least one record).
	batchRecs = 256
	batchText = 64 << 10
	// flushAt is how much of an answer is encoded before it is written.
	flushAt = 32 << 10
	// maxLogsPerTick and maxLogTextPerTick bound the records one live
	// update carries: the newest ones since the last update.
	maxLogsPerTick    = 500
	maxLogTextPerTick = 128 << 10
)

// startQuery takes a place among Options.MaxQueries for a query's answer
// to w, sets its write deadline and headers, and reports true; the caller
// gives the place back with d.queries.leave. Without a place it refuses
// the query (503) and reports false.
func (d *Dashboard) startQuery(w http.ResponseWriter) bool {
	if !d.queries.enter() {
		d.refuse(w, drop.QueueFull, 1, "too many queries at once: try again in a second")
		return false
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(queryWriteTimeout))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	return true
}

// logFilter is what a log query asks for: records at minLevel or above,
// with request id rid (when set), with a trace_id attribute of value
// traceID (when set), whose message or an attribute's key or value
// contains text, ignoring ASCII case (when set).
type logFilter struct {
	minLevel slog.Level
	rid      string
	traceID  string
	text     []byte // lower-cased
	scratch  []byte
}

// parseLogQuery reads a query's parameters, and returns a message saying
// what is accepted when one is wrong.
func parseLogQuery(qs url.Values, f *logFilter) (limit int, bad string) {
	limit = maxQueryRecords
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, "limit: accepted a number from 1 to 2000"
		}
		limit = min(n, maxQueryRecords)
	}
	f.minLevel = slog.Level(math.MinInt)
	if s := qs.Get("level"); s != "" {
		if err := f.minLevel.UnmarshalText([]byte(s)); err != nil {
			return 0, "level: accepted debug, info, warn, error"
		}
	}
	f.rid, f.traceID = qs.Get("request_id"), qs.Get("trace_id")
	text := qs.Get("q")
	if len(f.rid) > maxQueryParam || len(f.traceID) > maxQueryParam || len(text) > maxQueryParam {
		return 0, "request_id, trace_id, q: accepted at most 256 bytes each"
	}
	f.text = appendLower(f.text[:0], text)
	return limit, ""
}

func (f *logFilter) match(e *entry) bool {
	if e.level < f.minLevel || f.rid != "" && e.rid != f.rid {
		return false
	}
	if f.traceID != "" {
		found := false
		each := func(k, v []byte) {
			found = found || string(k) == TraceIDKey && string(v) == f.traceID
		}
		eachKV(e.pre, each)
		eachKV(e.own, each)
		if !found {
			return false
		}
	}
	if len(f.text) == 0 || f.contains(e.msg) {
		return true
	}
	found := false
	each := func(k, v []byte) { found = found || f.contains(bytesString(k)) || f.contains(bytesString(v)) }
	eachKV(e.pre, each)
	eachKV(e.own, each)
	return found
}

// contains reports whether s holds f.text, ignoring ASCII case. It
// allocates nothing once f.scratch has grown.
func (f *logFilter) contains(s string) bool {
	if len(s) < len(f.text) {
		return false
	}
	f.scratch = appendLower(f.scratch[:0], s)
	return bytes.Contains(f.scratch, f.text)
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// logQuery is one query's working memory, reused through queryPool: a
// batch of records copied out of the Ring, the sequence numbers picked,
// and the answer's next bytes.
type logQuery struct {
	c       copier
	f       logFilter
	picked  []uint64
	out     []byte
	scratch []byte
}

var queryPool = sync.Pool{New: func() any { return new(logQuery) }}

func (q *logQuery) release() {
	// A batch holds at most batchText plus one record; out, flushAt plus
	// one record. What grew past that (a long record) is not kept.
	if cap(q.c.text) > 2*batchText || cap(q.out) > 2*flushAt || cap(q.scratch) > flushAt {
		return
	}
	q.c.slots, q.c.text, q.picked = q.c.slots[:0], q.c.text[:0], q.picked[:0]
	queryPool.Put(q)
}

// serveLogs answers the Logs page's queries: records kept in the Ring
// matching request_id, trace_id (the value of that attribute), level (the
// minimum) and q (a substring of the message or of an attribute's key or
// value, ignoring ASCII case), newest
// last, at most limit (default and maximum 2000) and 4 MiB of JSON. At most
// Options.MaxQueries are answered at once, the others refused with 503.
//
// Whatever the Ring holds, a query holds one batch of it at a time (at
// most 256 records and 64 KiB of their text), the sequence numbers it
// picked and 32 KiB of its answer: it reads the Ring twice, newest first
// to pick the records, then oldest first to write them, and writes the
// answer as it encodes it. Records evicted between the two reads are left
// out of the answer.
func (d *Dashboard) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := queryPool.Get().(*logQuery)
	defer q.release()
	limit, bad := parseLogQuery(r.URL.Query(), &q.f)
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	if !d.startQuery(w) {
		return
	}
	defer d.queries.leave()
	q.out = append(q.out[:0], `{"records":[`...)
	cut := false
	if d.ring != nil {
		cut = q.pick(d.ring.st, limit)
		if !q.write(w, d.ring.st) {
			return
		}
	}
	q.out = append(q.out, ']')
	if cut {
		q.out = append(q.out, `,"truncated":true`...)
	}
	q.out = append(q.out, "}\n"...)
	_, _ = w.Write(q.out)
}

// pick reads the Ring newest first and keeps in q.picked the sequence
// numbers of the newest records that match, at most limit and
// maxQueryBytes of JSON. It reports whether the size bound left matches
// out.
func (q *logQuery) pick(s *ringStore, limit int) (cut bool) {
	size := 0
	for hi := uint64(math.MaxUint64); len(q.picked) < limit; {
		q.c.slots, q.c.text = q.c.slots[:0], q.c.text[:0]
		if s.batch(&q.c, 1, hi, true, batchRecs, batchText) == 0 {
			return false
		}
		es := q.c.entries()
		for i := range es {
			e := &es[i]
			if !q.f.match(e) {
				continue
			}
			q.scratch = appendLog(q.scratch[:0], e)
			if size += len(q.scratch) + 1; size > maxQueryBytes {
				return true
			}
			if q.picked = append(q.picked, e.seq); len(q.picked) == limit {
				return false
			}
		}
		hi = es[len(es)-1].seq - 1
	}
	return false
}

// write reads the Ring oldest first from the oldest record picked, and
// writes the picked records to w as it goes, comma-separated after what
// q.out holds. It reports false when w failed.
func (q *logQuery) write(w http.ResponseWriter, s *ringStore) bool {
	slices.Reverse(q.picked)
	next, wrote := 0, 0 // in q.picked; records written
	for next < len(q.picked) {
		q.c.slots, q.c.text = q.c.slots[:0], q.c.text[:0]
		if s.batch(&q.c, q.picked[next], q.picked[len(q.picked)-1], false, batchRecs, batchText) == 0 {
			break
		}
		es := q.c.entries()
		for i := range es {
			e := &es[i]
			for next < len(q.picked) && q.picked[next] < e.seq {
				next++ // evicted since it was picked
			}
			if next == len(q.picked) || q.picked[next] != e.seq {
				continue
			}
			if wrote > 0 {
				q.out = append(q.out, ',')
			}
			q.out = appendLog(q.out, e)
			next, wrote = next+1, wrote+1
			if len(q.out) >= flushAt {
				if _, err := w.Write(q.out); err != nil {
					return false
				}
				q.out = q.out[:0]
			}
		}
	}
	return true
}

// batch copies into c, under the Ring's lock, kept records whose sequence
// number is in [lo, hi]: the newest first when down is set, the oldest
// first otherwise, until it has copied maxRecs of them or maxText bytes of
// their text (at least one record). It returns how many it copied.
func (s *ringStore) batch(c *copier, lo, hi uint64, down bool, maxRecs, maxText int) int {
	s.lockDrained()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0
	}
	first := s.seq - uint64(s.n) + 1 // the oldest kept
	lo, hi = max(lo, first), min(hi, s.seq)
	copied := 0
	for ; lo <= hi && copied < maxRecs && (copied == 0 || len(c.text) < maxText); copied++ {
		seq := lo
		if down {
			seq = hi
			hi--
		} else {
			lo++
		}
		c.add(s, &s.slots[(s.head+int(seq-first))%s.maxRecs])
	}
	return copied
}

// logRecords are records as the Logs page receives them in a live update.
type logRecords []entry

// MarshalJSON writes the records as appendLog does, in a JSON array.
func (l logRecords) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 64+len(l)*256), '[')
	for i := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLog(b, &l[i])
	}
	return append(b, ']'), nil
}

// appendLog appends e as the Logs page receives it, in a live update or
// an answer to a query:
//
//	{"seq":7,"t":<Unix ms>,"level":"INFO","msg":"…","rid":"…","attrs":[["key","value"],…]}
//
// with "rid" only when the record has a request id, and the attributes
// given with the logger (With) first.
func appendLog(b []byte, e *entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.seq, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, e.time.UnixMilli(), 10)
	b = append(b, `,"level":`...)
	b = jsonesc.AppendString(b, e.level.String())
	b = append(b, `,"msg":`...)
	b = jsonesc.AppendString(b, e.msg)
	if e.rid != "" {
		b = append(b, `,"rid":`...)
		b = jsonesc.AppendString(b, e.rid)
	}
	b = append(b, `,"attrs":[`...)
	n := 0
	each := func(k, v []byte) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '[')
		b = jsonesc.AppendString(b, bytesString(k))
		b = append(b, ',')
		b = jsonesc.AppendString(b, bytesString(v))
		b = append(b, ']')
	}
	eachKV(e.pre, each)
	eachKV(e.own, each)
	return append(b, "]}"...)
}

// bytesString is b as a string without a copy, for the readers above,
// which neither keep it nor let b change while they read it.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

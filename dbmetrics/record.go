package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/realtimeserver/observability/metricsink"
)

// Metric names, as given to the Sink.
const (
	metricDuration = "db.query.duration"
	metricQueries  = "db.queries"
	metricErrors   = "db.query.errors"
)

// Limits on what dynamic SQL can make the instrumentation keep.
const (
	// MaxCachedStatements is how many distinct SQL texts one database keeps
	// the reading of. Past it, statements are read on every call (a few
	// hundred nanoseconds), never forgotten and never an error.
	MaxCachedStatements = 1000
	// MaxCachedSQLLen is the longest SQL text kept in the cache; longer
	// statements (bulk inserts, generated SQL) are read on every call.
	MaxCachedSQLLen = 4096
	// MaxSources is how many distinct source values one database reports,
	// whether read from the SQL or given with WithSource. Later ones are
	// reported as SourceOther.
	MaxSources = 100
)

// stmtInfo is what is known of one SQL text: its operation, its source and
// the tags built from them. It is never changed once built.
type stmtInfo struct {
	sql       string
	operation string
	source    string
	tags      metricsink.Tags
}

var (
	txBegin    = &stmtInfo{sql: "BEGIN", operation: OpBegin, source: SourceNone, tags: metricsink.KV("source", SourceNone, "operation", OpBegin)}
	txCommit   = &stmtInfo{sql: "COMMIT", operation: OpCommit, source: SourceNone, tags: metricsink.KV("source", SourceNone, "operation", OpCommit)}
	txRollback = &stmtInfo{sql: "ROLLBACK", operation: OpRollback, source: SourceNone, tags: metricsink.KV("source", SourceNone, "operation", OpRollback)}
)

// instrument holds everything one instrumented database shares: options,
// the statement cache and the set of sources seen. Safe for concurrent use.
type instrument struct {
	sink   metricsink.Sink
	logger *slog.Logger // nil: slog.Default() at each log call
	slow   time.Duration
	maxSQL int

	cache   sync.Map // SQL text -> *stmtInfo
	cached  atomic.Int64
	byAddr  [addrSlots]atomic.Pointer[addrSlot]
	srcMu   sync.Mutex
	sources sync.Map // source -> string (the admitted value)
	nsrc    int      // guarded by srcMu
}

func newInstrument(opts *Options) *instrument {
	var o Options
	if opts != nil {
		o = *opts
	}
	in := &instrument{sink: o.Sink, logger: o.Logger, slow: o.SlowThreshold, maxSQL: o.MaxSQLLength}
	if in.sink == nil {
		in.sink = metricsink.Discard
	}
	if in.slow == 0 {
		in.slow = DefaultSlowThreshold
	}
	if in.maxSQL == 0 {
		in.maxSQL = DefaultMaxSQLLength
	}
	return in
}

// addrSlots is the size of the cache by address, a power of two.
const addrSlots = 256

// addrSlot remembers the reading of the SQL text at one address. Holding
// the address keeps the bytes alive, and strings are immutable, so the
// same address and length mean the same text.
type addrSlot struct {
	data *byte
	n    int
	info *stmtInfo
}

// info returns the reading of q: first from the cache by address (SQL is
// most often a constant, whose bytes never move; a text is stored there
// when it is first read), then from the cache by text, then by reading q.
func (in *instrument) info(q string) *stmtInfo {
	data := unsafe.StringData(q)
	slot := &in.byAddr[(uintptr(unsafe.Pointer(data))>>3^uintptr(len(q)))&(addrSlots-1)]
	if s := slot.Load(); s != nil && s.data == data && s.n == len(q) {
		return s.info
	}
	if v, ok := in.cache.Load(q); ok {
		// Not stored by address: texts built per call (sqlx's named
		// queries) would allocate a slot each time.
		return v.(*stmtInfo)
	}
	op, src := readSQL(q)
	src = in.admit(src)
	info := &stmtInfo{sql: q, operation: op, source: src, tags: metricsink.KV("source", src, "operation", op)}
	if len(q) <= MaxCachedSQLLen && in.cached.Load() < MaxCachedStatements {
		if _, loaded := in.cache.LoadOrStore(q, info); !loaded {
			in.cached.Add(1)
		}
		slot.Store(&addrSlot{data: data, n: len(q), info: info})
	}
	return info
}

// admit returns src when it is one of the first MaxSources distinct
// sources, and SourceOther after that. The reserved values always pass.
func (in *instrument) admit(src string) string {
	switch src {
	case SourceNone, SourceUnknown, SourceOther:
		return src
	}
	if v, ok := in.sources.Load(src); ok {
		return v.(string)
	}
	in.srcMu.Lock()
	defer in.srcMu.Unlock()
	if v, ok := in.sources.Load(src); ok {
		return v.(string)
	}
	if in.nsrc >= MaxSources {
		return SourceOther
	}
	// Clone: src may be a slice of a long SQL text or of a caller's buffer.
	src = strings.Clone(src)
	in.sources.Store(src, src)
	in.nsrc++
	return src
}

// call is one measured operation on its way: what it runs, the source
// override from the context, its start and its context for the slow log.
type call struct {
	info   *stmtInfo
	source string        // from WithSource; "" for the statement's own
	start  time.Duration // monotonic, from now()
}

// epoch anchors now. time.Since of a time.Time with a monotonic reading
// reads one clock; time.Now reads two (wall and monotonic), twice the cost.
var epoch = time.Now()

// now returns the monotonic time since epoch.
func now() time.Duration { return time.Since(epoch) }

func (in *instrument) begin(ctx context.Context, info *stmtInfo) call {
	c := call{info: info, start: now()}
	if s := sourceFrom(ctx); s != "" {
		c.source = in.admit(s)
	}
	return c
}

// countsAsError reports whether err is a failure of the query: not nil,
// not io.EOF (the end of rows), driver.ErrSkip (database/sql's signal to
// take another path) or sql.ErrNoRows (an empty result).
func countsAsError(err error) bool {
	return err != nil && err != io.EOF && err != driver.ErrSkip && !errors.Is(err, sql.ErrNoRows)
}

// end records c as finished now, with err its outcome.
func (in *instrument) end(ctx context.Context, c *call, err error) {
	d := now() - c.start
	tags := c.info.tags
	source := c.info.source
	if c.source != "" {
		source = c.source
		tags = metricsink.KV("source", source, "operation", c.info.operation)
	}
	in.sink.Duration(metricDuration, d, tags)
	in.sink.Increment(metricQueries, 1, tags)
	if countsAsError(err) {
		in.sink.Increment(metricErrors, 1, tags)
	}
	if in.slow > 0 && d > in.slow {
		in.logSlow(ctx, c.info, source, d)
	}
}

func (in *instrument) logSlow(ctx context.Context, info *stmtInfo, source string, d time.Duration) {
	if ctx == nil {
		ctx = context.Background()
	}
	l := in.logger
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(ctx, slog.LevelWarn) {
		return
	}
	attrs := [4]slog.Attr{
		slog.String("source", source),
		slog.String("operation", info.operation),
		slog.Duration("duration", d),
	}
	n := 3
	if in.maxSQL > 0 {
		attrs[3] = slog.String("sql", shortenSQL(info.sql, in.maxSQL))
		n = 4
	}
	l.LogAttrs(ctx, slog.LevelWarn, "slow query", attrs[:n]...)
}

// shortenSQL collapses runs of white space in q to one space, trims it,
// and cuts it to at most max runes, the last of them "…" when cut.
// Invalid UTF-8 is replaced so that the log line stays valid.
func shortenSQL(q string, max int) string {
	var b strings.Builder
	// At most max runes of up to 4 bytes and the "…", and never more than
	// q: 4*max+4 is computed only when it cannot overflow.
	grow := len(q)
	if 0 <= max && max < grow/4 {
		grow = 4*max + 4
	}
	b.Grow(grow)
	n := 0 // runes written
	space := false
	for _, r := range q {
		switch r {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			space = n > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r) // utf8.RuneError for invalid bytes
		n++
		if n > max {
			break
		}
	}
	s := b.String()
	if n <= max {
		return s
	}
	// Keep max-1 runes and add the ellipsis.
	i, k := 0, 0
	for k < max-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	return strings.TrimRight(s[:i], " ") + "…"
}

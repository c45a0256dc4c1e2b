package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

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
	h         *stmtHandles // nil for the transaction statements, shared by every database
}

// stmtHandles are the handles of one statement's series: resolved once,
// so that recording a query looks nothing up.
type stmtHandles struct {
	duration metricsink.TimerHandle
	queries  metricsink.CounterHandle
	errors   metricsink.CounterHandle
}

func newStmtHandles(sink metricsink.Sink, tags metricsink.Tags) *stmtHandles {
	return &stmtHandles{
		duration: metricsink.NewTimer(sink, metricDuration, tags),
		queries:  metricsink.NewCounter(sink, metricQueries, tags),
		errors:   metricsink.NewCounter(sink, metricErrors, tags),
	}
}

// descs are the declarations of the query metrics, made on the Sink by
// Open and OpenConnector.
var descs = []metricsink.Desc{
	{Name: metricDuration, Kind: metricsink.Histogram, Unit: "seconds",
		Help: "Time database queries, execs, begins, commits and rollbacks took, by source (table) and operation."},
	{Name: metricQueries, Kind: metricsink.Counter,
		Help: "Database queries, execs, begins, commits and rollbacks, by source (table) and operation."},
	{Name: metricErrors, Kind: metricsink.Counter,
		Help: "Database queries, execs, begins, commits and rollbacks that failed, by source (table) and operation."},
	{Name: "db.pool.max_open_connections", Kind: metricsink.Gauge, Help: "Maximum number of open connections to the database (0: unlimited)."},
	{Name: "db.pool.open_connections", Kind: metricsink.Gauge, Help: "Established connections to the database, in use or idle."},
	{Name: "db.pool.in_use_connections", Kind: metricsink.Gauge, Help: "Connections to the database currently in use."},
	{Name: "db.pool.idle_connections", Kind: metricsink.Gauge, Help: "Idle connections to the database."},
	{Name: "db.pool.waits", Kind: metricsink.Counter, Help: "Times a query waited for a free connection."},
	{Name: "db.pool.wait_seconds", Kind: metricsink.Counter, Unit: "seconds", Help: "Total time queries waited for a free connection."},
	{Name: "db.pool.closed_max_idle", Kind: metricsink.Counter, Help: "Connections closed because of SetMaxIdleConns."},
	{Name: "db.pool.closed_max_idle_time", Kind: metricsink.Counter, Help: "Connections closed because of SetConnMaxIdleTime."},
	{Name: "db.pool.closed_max_lifetime", Kind: metricsink.Counter, Help: "Connections closed because of SetConnMaxLifetime."},
}

// Descs returns, as a new slice, the declarations of the query metrics
// that the middleware makes on its sink: for dashboards, alert rules and
// tests that check the names.
func Descs() []metricsink.Desc { return slices.Clone(descs) }

var (
	txBegin    = &stmtInfo{sql: "BEGIN", operation: OpBegin, source: SourceNone, tags: metricsink.KV("source", SourceNone, "operation", OpBegin)}
	txCommit   = &stmtInfo{sql: "COMMIT", operation: OpCommit, source: SourceNone, tags: metricsink.KV("source", SourceNone, "operation", OpCommit)}
	txRollback = &stmtInfo{sql: "ROLLBACK", operation: OpRollback, source: SourceNone, tags: metricsink.KV("source", SourceNone, "operation", OpRollback)}
)

// instrument holds everything one instrumented database shares: options,
// the statement cache and the set of sources seen. Safe for concurrent use.
type instrument struct {
	sink      metricsink.Sink
	logger    *slog.Logger // nil: slog.Default() at each log call
	slow      time.Duration
	maxSQL    int
	tp        trace.TracerProvider // nil: the global one, when installed
	system    string               // db.system.name
	namespace string               // db.namespace: Options.DBName

	// cache maps SQL texts to their reading: an immutable map read
	// without a lock, replaced under cacheMu (at most MaxCachedStatements
	// times).
	cache   atomic.Pointer[map[string]*stmtInfo]
	cacheMu sync.Mutex
	tx      [3]*stmtHandles // begin, commit, rollback
	srcMu   sync.Mutex
	sources sync.Map // source -> string (the admitted value)
	nsrc    int      // guarded by srcMu
}

func newInstrument(opts *Options) *instrument {
	var o Options
	if opts != nil {
		o = *opts
	}
	in := &instrument{sink: o.Sink, logger: o.Logger, slow: o.SlowThreshold, maxSQL: o.MaxSQLLength,
		tp: o.TracerProvider, system: o.System, namespace: o.DBName}
	if in.system == "" {
		in.system = "other_sql"
	}
	if in.sink == nil {
		in.sink = metricsink.Discard
	}
	if in.slow == 0 {
		in.slow = DefaultSlowThreshold
	}
	if in.maxSQL == 0 {
		in.maxSQL = DefaultMaxSQLLength
	}
	for _, d := range descs {
		_ = metricsink.Declare(in.sink, d) // fixed, valid declarations
	}
	for i, info := range []*stmtInfo{txBegin, txCommit, txRollback} {
		in.tx[i] = newStmtHandles(in.sink, info.tags)
	}
	empty := map[string]*stmtInfo{}
	in.cache.Store(&empty)
	return in
}

// info returns the reading of q, from the cache or by reading q (and
// caching it while there is room).
func (in *instrument) info(q string) *stmtInfo {
	if info := (*in.cache.Load())[q]; info != nil {
		return info
	}
	op, src := readSQL(q)
	src = in.admit(src)
	tags := metricsink.KV("source", src, "operation", op)
	if len(q) > MaxCachedSQLLen {
		return &stmtInfo{sql: q, operation: op, source: src, tags: tags}
	}
	in.cacheMu.Lock()
	defer in.cacheMu.Unlock()
	old := *in.cache.Load()
	if info := old[q]; info != nil {
		return info
	}
	info := &stmtInfo{sql: q, operation: op, source: src, tags: tags}
	if len(old) >= MaxCachedStatements {
		return info
	}
	// Handles resolve the series on the sink: done outside the sink's
	// own locks, and only for statements that are kept.
	info.sql = strings.Clone(q)
	info.h = newStmtHandles(in.sink, tags)
	next := make(map[string]*stmtInfo, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[info.sql] = info
	in.cache.Store(&next)
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
	span   trace.Span    // the statement's span, or nil when not traced
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
	if tr := in.tracer(); tr != nil && ctx != nil {
		src := c.source
		if src == "" {
			src = info.source
		}
		c.span = in.startSpan(ctx, tr, info, src)
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
	source := c.info.source
	// The duration's exemplar is the statement's span, or the caller's
	// when the statement is not traced, when it is sampled.
	var ex metricsink.Exemplar
	if c.span != nil {
		ex, _ = metricsink.ExemplarFromSpanContext(c.span.SpanContext())
	} else {
		ex, _ = metricsink.ExemplarFromContext(ctx)
	}
	switch h := in.handles(c.info); {
	case c.source != "":
		source = c.source
		tags := metricsink.KV("source", source, "operation", c.info.operation)
		metricsink.DurationWith(in.sink, metricDuration, d, tags, ex)
		in.sink.Increment(metricQueries, 1, tags)
		if countsAsError(err) {
			in.sink.Increment(metricErrors, 1, tags)
		}
	case h != nil:
		h.duration.ObserveWith(d, ex)
		h.queries.Inc()
		if countsAsError(err) {
			h.errors.Inc()
		}
	default:
		metricsink.DurationWith(in.sink, metricDuration, d, c.info.tags, ex)
		in.sink.Increment(metricQueries, 1, c.info.tags)
		if countsAsError(err) {
			in.sink.Increment(metricErrors, 1, c.info.tags)
		}
	}
	if in.slow > 0 && d > in.slow {
		in.logSlow(ctx, c.info, source, d)
	}
	if c.span != nil {
		endSpan(c.span, err)
	}
}

// handles returns the handles of info's series, or nil when it has none
// (a statement not cached).
func (in *instrument) handles(info *stmtInfo) *stmtHandles {
	switch info {
	case txBegin:
		return in.tx[0]
	case txCommit:
		return in.tx[1]
	case txRollback:
		return in.tx[2]
	}
	return info.h
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

package metricsink

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/budget"
)

// MaxWarnings bounds the distinct warnings a Drops logs; past it, one
// last warning says so and the counts go on alone.
const MaxWarnings = 1024

// Drops counts what a backend could not record, by drop.Reason, and logs
// why: once per reason, kind and metric (and once per key for other
// warnings), at most MaxWarnings distinct warnings, and never while a lock
// of the backend is held, so that a logger that records metrics into the
// same backend is safe. Its methods are safe for concurrent use. Build it
// with NewDrops.
type Drops struct {
	backend string
	logger  *slog.Logger
	counts  drop.Counter

	mu      sync.Mutex
	seen    map[string]struct{}
	full    bool
	pending []warning
}

type warning struct {
	msg   string
	attrs []slog.Attr
}

// NewDrops returns the Drops of a backend: backend prefixes its warnings
// ("prometheus: sample dropped"); logger receives them (nil:
// slog.Default() at the time of each warning).
func NewDrops(backend string, logger *slog.Logger) *Drops {
	return &Drops{backend: backend, logger: logger, seen: make(map[string]struct{})}
}

// Add counts n drops for r, without a warning. It never blocks and never
// allocates.
func (d *Drops) Add(r drop.Reason, n uint64) { d.counts.Add(r, n) }

// Load returns the count for r.
func (d *Drops) Load(r drop.Reason) uint64 { return d.counts.Load(r) }

// Counts returns every count.
func (d *Drops) Counts() drop.Counts { return d.counts.Snapshot() }

// Drop counts one sample of the metric name (of kind k, 0 when unknown)
// dropped for r and logs why (detail) the first time for this reason,
// kind and name. It must be called without any lock of the backend held;
// under one, use Queue and call Emit once the lock is released.
func (d *Drops) Drop(r drop.Reason, k Kind, name, detail string) {
	d.Queue(r, k, name, detail)
	d.Emit()
}

// Queue is Drop without the logging: the warning waits for Emit. It takes
// only the Drops' own lock, so it may be called under a backend's.
func (d *Drops) Queue(r drop.Reason, k Kind, name, detail string) {
	d.counts.Add(r, 1)
	d.Note(r, k, name, detail)
}

// Note queues the warning of Queue without counting a drop: for a
// rejected handle, whose samples are counted one by one when they come.
func (d *Drops) Note(r drop.Reason, k Kind, name, detail string) {
	d.Warn(r.String()+"\x00"+k.String()+"\x00"+name, "sample dropped",
		slog.String("reason", r.String()), slog.String("metric", cutName(name)),
		slog.String("type", k.String()), slog.String("detail", detail))
}

// Warn queues the warning msg, prefixed with the backend's name, the
// first time key is seen; Emit logs it. It counts nothing.
func (d *Drops) Warn(key, msg string, attrs ...slog.Attr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full {
		return
	}
	if _, ok := d.seen[key]; ok {
		return
	}
	if len(d.seen) >= MaxWarnings {
		d.full = true
		d.pending = append(d.pending, warning{msg: "too many distinct warnings; further ones are not logged (the drop counts go on)"})
		return
	}
	d.seen[strings.Clone(key)] = struct{}{}
	d.pending = append(d.pending, warning{msg: msg, attrs: attrs})
}

// Emit logs the queued warnings. It must be called without any lock of
// the backend held: the logger may record metrics into the backend.
func (d *Drops) Emit() {
	d.mu.Lock()
	w := d.pending
	d.pending = nil
	d.mu.Unlock()
	if len(w) == 0 {
		return
	}
	l := d.logger
	if l == nil {
		l = slog.Default()
	}
	for _, x := range w {
		l.LogAttrs(context.Background(), slog.LevelWarn, d.backend+": "+x.msg, x.attrs...)
	}
}

// cutName bounds a metric name in a warning.
func cutName(s string) string {
	if len(s) > MaxNameLen {
		return budget.Cut(strings.ToValidUTF8(s[:MaxNameLen], "\uFFFD"), MaxNameLen) + "…"
	}
	return s
}

package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// Defaults of StormOptions.
const (
	// DefaultStormRate is the default number of records per second that
	// pass from one call site at one level.
	DefaultStormRate = 100
	// DefaultStormSites is the default bound on the (call site, level)
	// pairs tracked one by one.
	DefaultStormSites = 4096
)

// StormSummaryMessage is the message of the summary records a Storm
// writes, and the keys of their attributes.
const (
	StormSummaryMessage = "log records suppressed"
	// StormSuppressedKey holds how many records of the site were
	// suppressed since its last summary (an uint64).
	StormSuppressedKey = "suppressed"
	// StormMessageKey holds the message of the first of them.
	StormMessageKey = "suppressed_message"
	// StormSourceKey holds their call site, "dir/file.go:line", when the
	// record's PC resolves to one.
	StormSourceKey = "suppressed_source"
)

// stormInterval is the time between two summaries of one site.
const stormInterval = time.Second

// untrackedSource is the StormSourceKey of the summaries of the records
// from sites past StormOptions.MaxSites.
const untrackedSource = "untracked call sites (past StormOptions.MaxSites)"

// StormOptions configure a Storm. A nil or zero StormOptions consists
// entirely of default values; NewStorm never writes to it. Negative values
// are an error.
type StormOptions struct {
	// Rate is how many records per second pass from one call site at one
	// level once its Burst is spent. Default: DefaultStormRate (100).
	Rate int
	// Burst is how many records from one call site at one level may
	// pass at once after a quiet spell: in any interval of t seconds at
	// most Burst + Rate*t pass. Default: twice Rate (200 with the
	// default Rate).
	Burst int
	// MaxSites bounds the (call site, level) pairs that get a limit of
	// their own. Records from pairs seen after it is reached share one
	// limit per level (debug, info, warn, error) and are counted in
	// StormStats.Untracked; they are suppressed, summarized and counted
	// like the others. Default: DefaultStormSites (4096); a site costs
	// about 150 bytes.
	MaxSites int

	// interval replaces stormInterval in tests, when not zero.
	interval time.Duration
}

// StormCounts counts records by level. A level between two of the named
// ones counts towards the lower one (INFO+2 is Info), one below DEBUG
// towards Debug, as log_records_total counts them.
type StormCounts struct {
	Debug, Info, Warn, Error uint64
}

// Get returns the count of the level l counts towards.
func (c StormCounts) Get(l slog.Level) uint64 {
	return [...]uint64{c.Debug, c.Info, c.Warn, c.Error}[levelClass(l)]
}

// Total returns the sum over the levels.
func (c StormCounts) Total() uint64 { return c.Debug + c.Info + c.Warn + c.Error }

// StormStats are a Storm's counts since NewStorm.
type StormStats struct {
	// Suppressed counts the records not passed on, by level, from the
	// moment each is suppressed: export it as
	// log_records_suppressed_total{level}. Once every summary is
	// written (after Flush or Close), it equals the sum of their
	// StormSuppressedKey values by level.
	Suppressed StormCounts
	// Summaries counts the summary records handed to the next handler.
	Summaries uint64
	// Sites is the number of (call site, level) pairs tracked, at most
	// StormOptions.MaxSites.
	Sites int
	// Untracked counts the records, passed or not, from pairs past
	// StormOptions.MaxSites.
	Untracked uint64
	// Dropped counts summaries that were not written: drop.Panic when
	// the next handler panicked on one, drop.Closed for those Close
	// could not write before its context ended (the suppressed records
	// stay counted in Suppressed).
	Dropped drop.Counts
}

// Storm is a slog.Handler that limits log storms: records pass to the next
// handler at most at StormOptions.Rate per second (after a burst of
// StormOptions.Burst) from each call site at each level, a site being the
// record's PC. Past the limit a record is suppressed and counted; once a
// second while a site's records are being suppressed, and once more after
// the storm stops, one summary record per site goes to the next handler:
// at the site's level, with the site's PC (so AddSource shows the site),
// the message StormSummaryMessage and the attributes StormSuppressedKey
// (how many since the site's last summary), StormMessageKey (the message
// of the first of them) and StormSourceKey (the site as "dir/file.go:line"
// when the PC resolves). The counts are exact: for every site, the records
// passed plus the suppressed counts of its summaries equal the records
// handled, once Flush or Close has returned (a summary is written only
// when the next handler is enabled at its level); Stats counts them by
// level at once. A storm from one site never hides a record from another: each
// site has a limit of its own. Records with no PC (0) form one site per
// level.
//
// The record's time is the limiter's clock (time.Now when it is zero), so
// records handled out of order are judged by when they were made.
//
// The hot path is one lookup in a table of sites (lock-free, no
// allocation) and a few atomic operations on the site's own state: a load
// and a compare-and-swap for a record that passes, two loads and an add
// for one that is suppressed. A site's first record takes a mutex once to
// enter the table. Memory is bounded by StormOptions.MaxSites; past it,
// new sites share one limit per level.
//
// Summaries are written by a goroutine that runs only while some site has
// suppressed records not yet summarized: it starts at the first
// suppression, writes the summaries a second later, and ends one second
// after a storm with nothing left to write. No lock is held while the next
// handler runs, so the next handler may log through the same Storm.
// Summaries are written with context.Background(), through the handler
// given to NewStorm (without the attributes and groups of derived
// handlers), when it is Enabled at the site's level.
//
// Close stops the goroutine and writes the last summaries; records
// handled after Close pass on unlimited. Storm passes testing/slogtest, is
// safe for concurrent use, and so are the handlers derived from it with
// WithAttrs and WithGroup, which share its limits and counts.
type Storm struct {
	st   *stormState
	next slog.Handler
}

var _ slog.Handler = (*Storm)(nil)

type stormKey struct {
	pc    uintptr
	level slog.Level
}

// site is the state of one (call site, level) pair.
type site struct {
	key   stormKey
	first string // the message of the record that made the site

	tat        atomic.Int64           // GCRA: theoretical arrival time, ns
	suppressed atomic.Uint64          // records suppressed since NewStorm
	reported   atomic.Uint64          // how many of them are in summaries
	msg        atomic.Pointer[string] // message of the first suppressed since the last summary

	srcOnce sync.Once
	src     string
}

// siteTable is an open-addressing hash table of sites, at most half full,
// read without a lock; sites are added (never removed) under
// stormState.tmu, which publishes a larger table when it must grow.
type siteTable struct {
	slots []atomic.Pointer[site]
	mask  uint64
	shift uint
}

type stormState struct {
	root     slog.Handler // the next handler given to NewStorm
	period   int64        // ns between two records at Rate
	tau      int64        // (Burst-1)*period
	interval time.Duration

	table    atomic.Pointer[siteTable]
	full     atomic.Bool // MaxSites reached: new sites go to overflow
	tmu      sync.Mutex  // adding sites
	nsites   int         // under tmu
	maxSites int
	overflow [4]site // by level class, for sites past maxSites

	untracked atomic.Uint64
	summaries atomic.Uint64
	dropped   drop.Counter
	closed    atomic.Bool

	mu      sync.Mutex // running, closing; wg.Add (the loop, a Flush) against Close's Wait
	running bool
	closing bool
	quit    chan struct{} // closed by Close
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// NewStorm returns a Storm in front of next. It returns an error if next
// is nil or an option is negative.
func NewStorm(next slog.Handler, opts *StormOptions) (*Storm, error) {
	if next == nil {
		return nil, errors.New("handler.NewStorm: nil next handler")
	}
	var o StormOptions
	if opts != nil {
		o = *opts
	}
	if o.Rate < 0 || o.Burst < 0 || o.MaxSites < 0 || o.interval < 0 {
		return nil, fmt.Errorf("handler.NewStorm: StormOptions{Rate: %d, Burst: %d, MaxSites: %d} has a negative value; accepted: 0 (the default) or more",
			o.Rate, o.Burst, o.MaxSites)
	}
	if o.Rate == 0 {
		o.Rate = DefaultStormRate
	}
	if o.Burst == 0 {
		o.Burst = 2 * min(o.Rate, math.MaxInt32)
	}
	if o.MaxSites == 0 {
		o.MaxSites = DefaultStormSites
	}
	if o.interval == 0 {
		o.interval = stormInterval
	}
	period := int64(time.Second) / int64(o.Rate)
	if int64(time.Second)%int64(o.Rate) != 0 {
		period++ // rounded up: never more than Rate
	}
	st := &stormState{root: next, period: period, interval: o.interval,
		maxSites: o.MaxSites, quit: make(chan struct{})}
	st.tau = int64(min(o.Burst-1, math.MaxInt64/int(period))) * period
	for i := range st.overflow {
		st.overflow[i].key = stormKey{level: classLevel(i)}
	}
	st.table.Store(newSiteTable(64))
	return &Storm{st: st, next: next}, nil
}

// Enabled reports whether the next handler is enabled at l.
func (h *Storm) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle passes r to the next handler unless its site is over its limit;
// a suppressed record is counted and Handle returns nil.
func (h *Storm) Handle(ctx context.Context, r slog.Record) error {
	st := h.st
	if st.closed.Load() {
		return h.next.Handle(ctx, r)
	}
	k := stormKey{pc: r.PC, level: r.Level}
	s := st.table.Load().get(k)
	if s == nil {
		s = st.add(k, r.Message)
	}
	var now int64
	if r.Time.IsZero() {
		now = time.Now().UnixNano()
	} else {
		now = r.Time.UnixNano()
	}
	if s.allow(now, st.period, st.tau) {
		return h.next.Handle(ctx, r)
	}
	if n := s.suppressed.Add(1); n-1 == s.reported.Load() {
		// The first since the site's last summary: say what it was, and
		// make sure a summary will come.
		msg := r.Message
		s.msg.Store(&msg)
		st.arm()
	}
	return nil
}

// WithAttrs returns a Storm over next.WithAttrs(attrs) that shares h's
// limits and counts.
func (h *Storm) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &Storm{st: h.st, next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a Storm over next.WithGroup(name) that shares h's
// limits and counts.
func (h *Storm) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Storm{st: h.st, next: h.next.WithGroup(name)}
}

// Stats returns the counts since NewStorm. It reads every tracked site, so
// it costs about a nanosecond per site; call it at scrape time, not per
// record.
func (h *Storm) Stats() StormStats {
	st := h.st
	var out StormStats
	counts := [4]*uint64{&out.Suppressed.Debug, &out.Suppressed.Info, &out.Suppressed.Warn, &out.Suppressed.Error}
	st.each(func(s *site) {
		*counts[levelClass(s.key.level)] += s.suppressed.Load()
	})
	st.tmu.Lock()
	out.Sites = st.nsites
	st.tmu.Unlock()
	out.Summaries = st.summaries.Load()
	out.Untracked = st.untracked.Load()
	out.Dropped = st.dropped.Snapshot()
	return out
}

// Flush writes a summary now for every site with records suppressed since
// its last summary, and returns nil: it does not wait for summaries being
// written by the Storm's goroutine at the same moment. ctx is not
// consulted; the next handler's Handle is what bounds it. Once Close has
// begun, Flush returns at once: Close writes the last summaries, and
// waits for those a Flush is writing.
func (h *Storm) Flush(ctx context.Context) error {
	st := h.st
	st.mu.Lock()
	if st.closing {
		st.mu.Unlock()
		return nil
	}
	st.wg.Add(1) // Close waits for this sweep's summaries
	st.mu.Unlock()
	defer st.wg.Done()
	st.sweep()
	return nil
}

// Close stops the goroutine that writes summaries, waiting for it and for
// the summaries of Flush calls in progress at most until ctx ends, then
// writes the last summaries; from then on records pass on unlimited.
// When ctx ends first, it returns an error that says how many suppressed
// records were left out of summaries (counted in Stats.Dropped as
// drop.Closed). The summaries cover every record whose Handle returned
// before Close was called. Calling it again returns the first call's
// result, once that call has returned.
func (h *Storm) Close(ctx context.Context) error {
	st := h.st
	st.closeOnce.Do(func() { st.closeErr = st.close(ctx) })
	return st.closeErr
}

func (st *stormState) close(ctx context.Context) error {
	st.mu.Lock()
	st.closing = true
	close(st.quit)
	st.mu.Unlock()

	stopped := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		st.closed.Store(true)
		st.sweep()
		return nil
	case <-ctx.Done():
		st.closed.Store(true)
		var left uint64
		st.each(func(s *site) {
			left += s.suppressed.Load() - s.reported.Load()
		})
		st.dropped.Add(drop.Closed, left)
		return fmt.Errorf("handler: storm control: %w before the last summaries were written: %d suppressed records left out of them", ctx.Err(), left)
	}
}

// get returns the site of k, or nil.
func (t *siteTable) get(k stormKey) *site {
	for i := t.hash(k); ; i = (i + 1) & t.mask {
		s := t.slots[i].Load()
		if s == nil || s.key == k {
			return s
		}
	}
}

func (t *siteTable) hash(k stormKey) uint64 {
	h := uint64(k.pc) ^ uint64(int64(k.level))*0xff51afd7ed558ccd
	return (h * 0x9e3779b97f4a7c15) >> t.shift
}

func newSiteTable(n int) *siteTable {
	bits := uint(6)
	for 1<<bits < n {
		bits++
	}
	return &siteTable{slots: make([]atomic.Pointer[site], 1<<bits), mask: 1<<bits - 1, shift: 64 - bits}
}

// put adds s, which must not be in t; t must have a free slot.
func (t *siteTable) put(s *site) {
	i := t.hash(s.key)
	for t.slots[i].Load() != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i].Store(s)
}

// add returns the site of k, adding it to the table, or the overflow site
// of k's level once MaxSites sites are tracked.
func (st *stormState) add(k stormKey, msg string) *site {
	if !st.full.Load() {
		st.tmu.Lock()
		t := st.table.Load()
		if s := t.get(k); s != nil {
			st.tmu.Unlock()
			return s
		}
		if st.nsites < st.maxSites {
			if 2*(st.nsites+1) > len(t.slots) {
				bigger := newSiteTable(2 * len(t.slots))
				for i := range t.slots {
					if s := t.slots[i].Load(); s != nil {
						bigger.put(s)
					}
				}
				st.table.Store(bigger)
				t = bigger
			}
			s := &site{key: k, first: msg}
			t.put(s)
			st.nsites++
			st.tmu.Unlock()
			return s
		}
		st.full.Store(true)
		st.tmu.Unlock()
	} else if s := st.table.Load().get(k); s != nil {
		return s // added to the last table after the caller read an older one
	}
	st.untracked.Add(1)
	return &st.overflow[levelClass(k.level)]
}

// allow reports whether a record at now (ns) conforms to the site's limit
// and, if so, takes its place: the generic cell rate algorithm, one
// compare-and-swap per record that passes.
func (s *site) allow(now, period, tau int64) bool {
	for {
		tat := s.tat.Load()
		t := max(tat, now)
		if t-now > tau {
			return false
		}
		if s.tat.CompareAndSwap(tat, t+period) {
			return true
		}
	}
}

// each calls f for every tracked site and every overflow site.
func (st *stormState) each(f func(*site)) {
	t := st.table.Load()
	for i := range t.slots {
		if s := t.slots[i].Load(); s != nil {
			f(s)
		}
	}
	for i := range st.overflow {
		f(&st.overflow[i])
	}
}

// arm makes sure the goroutine that writes summaries runs.
func (st *stormState) arm() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.running || st.closing {
		return
	}
	st.running = true
	st.wg.Add(1)
	go st.loop()
}

// loop writes the summaries once an interval, until an interval passes
// with none to write or Close.
func (st *stormState) loop() {
	defer st.wg.Done()
	t := time.NewTimer(st.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-st.quit:
			return
		}
		if st.sweep() == 0 {
			st.mu.Lock()
			st.running = false
			st.mu.Unlock()
			// A site may have had its first suppressed record after
			// the sweep saw it and before running was false: its arm
			// found the loop running. Carry on for it.
			if !st.pending() || !st.resume() {
				return
			}
		}
		t.Reset(st.interval)
	}
}

// resume sets running again, unless another loop or Close came first.
func (st *stormState) resume() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.running || st.closing {
		return false
	}
	st.running = true
	return true
}

// pending reports whether a site has suppressed records not summarized.
func (st *stormState) pending() bool {
	found := false
	st.each(func(s *site) {
		if s.suppressed.Load() != s.reported.Load() {
			found = true
		}
	})
	return found
}

// sweep writes a summary for every site with suppressed records not
// summarized yet, and returns how many it wrote. Concurrent sweeps share
// the work: each count goes into exactly one summary.
func (st *stormState) sweep() int {
	n := 0
	st.each(func(s *site) {
		for {
			reported := s.reported.Load()
			total := s.suppressed.Load()
			if total == reported {
				return
			}
			if s.reported.CompareAndSwap(reported, total) {
				st.summarize(s, total-reported)
				n++
				return
			}
		}
	})
	return n
}

// summarize writes the summary of count records suppressed at s.
func (st *stormState) summarize(s *site, count uint64) {
	ctx := context.Background()
	if !st.root.Enabled(ctx, s.key.level) {
		return
	}
	msg := s.first
	if p := s.msg.Load(); p != nil {
		msg = *p
	}
	r := slog.NewRecord(time.Now(), s.key.level, StormSummaryMessage, s.key.pc)
	r.AddAttrs(slog.Uint64(StormSuppressedKey, count), slog.String(StormMessageKey, msg))
	if src := st.source(s); src != "" {
		r.AddAttrs(slog.String(StormSourceKey, src))
	}
	st.summaries.Add(1)
	defer func() {
		if recover() != nil {
			st.dropped.Add(drop.Panic, 1)
		}
	}()
	_ = st.root.Handle(ctx, r) // nowhere to report an error but the handler itself
}

// source returns the site's "dir/file.go:line", resolved once.
func (st *stormState) source(s *site) string {
	if s.key.pc == 0 {
		if s == &st.overflow[levelClass(s.key.level)] {
			return untrackedSource
		}
		return ""
	}
	s.srcOnce.Do(func() {
		f, _ := runtime.CallersFrames([]uintptr{s.key.pc}).Next()
		if f.File != "" {
			dir, file := filepath.Split(f.File)
			s.src = filepath.Join(filepath.Base(dir), file) + ":" + strconv.Itoa(f.Line)
		}
	})
	return s.src
}

// levelClass is 0 for debug, 1 for info, 2 for warn, 3 for error.
func levelClass(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 0
	case l < slog.LevelWarn:
		return 1
	case l < slog.LevelError:
		return 2
	}
	return 3
}

func classLevel(i int) slog.Level {
	return [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}[i]
}

// ParseStormLimit parses the LOG_RATE_LIMIT words: "off" (no storm
// control: on is false), "N" (Rate N records per second per call site and
// level, Burst 2N) or "N:B" (Rate N, Burst B), with N and B whole numbers
// from 1 to 1,000,000,000 and white space around them ignored. Anything
// else is an error that quotes s and says what is accepted.
func ParseStormLimit(s string) (opts StormOptions, on bool, err error) {
	bad := func() (StormOptions, bool, error) {
		return StormOptions{}, false, fmt.Errorf("log rate limit %q: accepted values are off, N (records per second per call site, burst 2N) or N:B (burst B), N and B from 1 to 1000000000", s)
	}
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "off") {
		return StormOptions{}, false, nil
	}
	rate, burst, hasBurst := strings.Cut(t, ":")
	num := func(x string) (int, bool) {
		n, err := strconv.ParseUint(strings.TrimSpace(x), 10, 32)
		return int(n), err == nil && n >= 1 && n <= 1e9
	}
	r, ok := num(rate)
	if !ok {
		return bad()
	}
	opts.Rate = r
	if hasBurst {
		if opts.Burst, ok = num(burst); !ok {
			return bad()
		}
	}
	return opts, true, nil
}

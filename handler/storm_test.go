package handler

import (
	"bytes"
	"context"
	"encoding/json"
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
	"testing"
	"testing/slogtest"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/drop"
)

// stormSink keeps the records it is given, for concurrent use.
type stormSink struct {
	mu      sync.Mutex
	recs    []slog.Record
	onStore func(slog.Record) // called without the lock, before storing
}

func (h *stormSink) Enabled(context.Context, slog.Level) bool { return true }
func (h *stormSink) Handle(_ context.Context, r slog.Record) error {
	if h.onStore != nil {
		h.onStore(r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *stormSink) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *stormSink) WithGroup(string) slog.Handler      { return h }

func (h *stormSink) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.recs)
}

func (h *stormSink) all() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.recs...)
}

// summaries returns the summary records among recs, and the others.
func splitSummaries(recs []slog.Record) (summaries, others []slog.Record) {
	for _, r := range recs {
		if r.Message == StormSummaryMessage {
			summaries = append(summaries, r)
		} else {
			others = append(others, r)
		}
	}
	return summaries, others
}

// suppressedOf returns the StormSuppressedKey of a summary.
func suppressedOf(t testing.TB, r slog.Record) uint64 {
	t.Helper()
	var n uint64
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == StormSuppressedKey {
			n, found = a.Value.Uint64(), true
		}
		return true
	})
	if !found {
		t.Fatalf("summary without %q: %v", StormSuppressedKey, r)
	}
	return n
}

func stringAttr(r slog.Record, key string) string {
	var s string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			s = a.Value.String()
		}
		return true
	})
	return s
}

// stormNop is an enabled handler that does nothing, for benchmarks and
// allocation counts.
type stormNop struct{}

func (stormNop) Enabled(context.Context, slog.Level) bool  { return true }
func (stormNop) Handle(context.Context, slog.Record) error { return nil }
func (h stormNop) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h stormNop) WithGroup(string) slog.Handler           { return h }

// stormHere returns the PC of its caller's call site.
//
//go:noinline
func stormHere() uintptr {
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:])
	return pcs[0]
}

// sourceOf is the StormSourceKey for pc.
func sourceOf(pc uintptr) string {
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return filepath.Base(filepath.Dir(f.File)) + "/" + filepath.Base(f.File) + ":" + strconv.Itoa(f.Line)
}

func newStorm(t testing.TB, next slog.Handler, o *StormOptions) *Storm {
	t.Helper()
	s, err := NewStorm(next, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func closeStorm(t testing.TB, s *Storm) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStormSlogtest(t *testing.T) {
	var buf bytes.Buffer
	newHandler := func(t *testing.T) slog.Handler {
		buf.Reset()
		return newStorm(t, slog.NewJSONHandler(&buf, nil), nil)
	}
	result := func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		return m
	}
	slogtest.Run(t, newHandler, result)
}

// TestStormTwoSitesMillion is the storm of the issue: 1,000,000 identical
// ERROR records from each of two call sites over 10 s, and one WARN from a
// third. At most Rate+1 records per second pass from a storming site
// (Burst 1), the WARN passes, and passed records plus the summaries'
// counts are exactly the records handled, site by site, as Stats says.
func TestStormTwoSitesMillion(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const rate = 100
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	out := &stormSink{}
	s, err := NewStorm(out, &StormOptions{Rate: rate, Burst: 1, interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pcA, pcB, pcC := stormHere(), stormHere(), stormHere()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 10 * time.Second / time.Duration(n)
	var wg sync.WaitGroup
	for _, pc := range []uintptr{pcA, pcB} {
		wg.Go(func() {
			ctx := context.Background()
			msg := "storm " + sourceOf(pc)
			for i := range n {
				r := slog.NewRecord(base.Add(time.Duration(i)*step), slog.LevelError, msg, pc)
				s.Handle(ctx, r)
				if pc == pcA && i == n/2 {
					s.Handle(ctx, slog.NewRecord(r.Time, slog.LevelWarn, "the rare one", pcC))
				}
			}
		})
	}
	wg.Wait()
	closeStorm(t, s)

	summaries, passed := splitSummaries(out.all())
	for _, pc := range []uintptr{pcA, pcB} {
		perSecond := map[int64]int{}
		npassed := 0
		for _, r := range passed {
			if r.PC == pc {
				npassed++
				perSecond[int64(r.Time.Sub(base)/time.Second)]++
			}
		}
		for sec, k := range perSecond {
			if k > rate+1 {
				t.Errorf("site %s: %d records passed in second %d, want at most %d", sourceOf(pc), k, sec, rate+1)
			}
		}
		if npassed != 10*rate {
			t.Errorf("site %s: %d passed, want %d (one every 1/%d s over 10 s)", sourceOf(pc), npassed, 10*rate, rate)
		}
		var nsum uint64
		for _, r := range summaries {
			if r.PC == pc {
				nsum += suppressedOf(t, r)
				if r.Level != slog.LevelError || stringAttr(r, StormMessageKey) != "storm "+sourceOf(pc) || stringAttr(r, StormSourceKey) != sourceOf(pc) {
					t.Errorf("summary %v: want level ERROR, the site's message and source %s", r, sourceOf(pc))
				}
			}
		}
		if got := uint64(npassed) + nsum; got != uint64(n) {
			t.Errorf("site %s: %d passed + %d in summaries = %d, want exactly %d", sourceOf(pc), npassed, nsum, got, n)
		}
	}
	rare := 0
	for _, r := range passed {
		if r.PC == pcC && r.Message == "the rare one" {
			rare++
		}
	}
	if rare != 1 {
		t.Errorf("the WARN from a third site passed %d times, want 1", rare)
	}
	var total uint64
	for _, r := range summaries {
		total += suppressedOf(t, r)
	}
	st := s.Stats()
	if st.Suppressed.Error != total || st.Suppressed.Total() != total {
		t.Errorf("Stats.Suppressed %+v, want Error = %d (the summaries' sum) and nothing else", st.Suppressed, total)
	}
	if want := uint64(2*n - 2*10*rate); total != want {
		t.Errorf("%d suppressed, want %d", total, want)
	}
	if st.Summaries != uint64(len(summaries)) || st.Sites != 3 || st.Untracked != 0 || st.Dropped.Total() != 0 {
		t.Errorf("Stats %+v, want %d summaries, 3 sites, nothing untracked or dropped", st, len(summaries))
	}
}

// TestStormBurst: with the default options, in any second at most Burst +
// Rate records of a site pass, and a site that was quiet has its burst
// again.
func TestStormBurst(t *testing.T) {
	out := &stormSink{}
	s := newStorm(t, out, nil)
	pc := stormHere()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Duration // of the records that passed
	send := func(from, to, every time.Duration) {
		for d := from; d < to; d += every {
			before := out.len()
			s.Handle(context.Background(), slog.NewRecord(base.Add(d), slog.LevelInfo, "m", pc))
			if out.len() > before {
				times = append(times, d)
			}
		}
	}
	send(0, 5*time.Second, time.Millisecond)
	if got, want := len(times), 200+5*100; got < want-1 || got > want+1 {
		t.Errorf("%d passed in 5 s at 1000/s, want about %d (burst 200, then 100/s)", got, want)
	}
	for i := range times {
		j := i
		for j < len(times) && times[j] <= times[i]+time.Second {
			j++
		}
		if j-i > DefaultStormRate*3+1 {
			t.Fatalf("%d passed within 1 s from %v, want at most Burst + Rate + 1 = %d", j-i, times[i], DefaultStormRate*3+1)
		}
	}
	times = nil
	send(10*time.Second, 10*time.Second+time.Millisecond, time.Microsecond) // after 5 s quiet: a burst again
	if len(times) != 2*DefaultStormRate {
		t.Errorf("%d passed at once after a quiet spell, want the burst of %d", len(times), 2*DefaultStormRate)
	}
}

// TestStormSummaryWhenStormStops: the summary comes from the timer, with
// no record after the storm, and the goroutine ends by itself.
func TestStormSummaryWhenStormStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &stormSink{}
	s, err := NewStorm(out, &StormOptions{Rate: 1, Burst: 1, interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(s)
	var pc uintptr
	for i := range 50 {
		if i == 0 {
			pc = stormHere() // the line of the next call is another
		}
		logger.Warn("disk full", "i", i)
	}
	var sums []slog.Record
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if sums, _ = splitSummaries(out.all()); len(sums) > 0 {
			break
		}
	}
	if len(sums) != 1 {
		t.Fatalf("%d summaries 10 s after the storm, want 1", len(sums))
	}
	r := sums[0]
	_, passed := splitSummaries(out.all())
	if len(passed) != 1 {
		t.Errorf("%d records passed, want 1", len(passed))
	}
	if got := suppressedOf(t, r); got != 49 {
		t.Errorf("summary says %d suppressed, want 49", got)
	}
	if r.Level != slog.LevelWarn || r.PC != passed[0].PC || stringAttr(r, StormMessageKey) != "disk full" {
		t.Errorf("summary %v: want WARN, the site's PC and message", r)
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	if src, want := stringAttr(r, StormSourceKey), fmt.Sprintf("handler/storm_test.go:%d", f.Line+2); src != want {
		t.Errorf("source %q, want %q", src, want)
	}
	// The goroutine ends by itself once an interval passes with nothing
	// to write, without Close.
	stopped := make(chan struct{})
	go func() {
		s.st.wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the summary goroutine still runs 10 s after the storm")
	}
	closeStorm(t, s)
	if st := s.Stats(); st.Suppressed.Warn != 49 || st.Summaries != 1 {
		t.Errorf("Stats %+v, want 49 WARN suppressed in 1 summary", st)
	}
}

// TestStormOnceASecond: while a storm lasts, one summary per site per
// second, with the real interval.
func TestStormOnceASecond(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 2.5 s")
	}
	out := &stormSink{}
	s := newStorm(t, out, &StormOptions{Rate: 10, Burst: 1})
	logger := slog.New(s)
	handled := 0
	for start := time.Now(); time.Since(start) < 2500*time.Millisecond; time.Sleep(time.Millisecond) {
		logger.Error("loop failed")
		handled++
	}
	closeStorm(t, s)
	sums, passed := splitSummaries(out.all())
	if len(sums) < 2 {
		t.Fatalf("%d summaries over 2.5 s, want 2 or 3", len(sums))
	}
	for i := 1; i < len(sums)-1; i++ { // the last may be Close's
		if gap := sums[i].Time.Sub(sums[i-1].Time); gap < stormInterval-50*time.Millisecond {
			t.Errorf("summaries %d and %d %v apart, want a second", i-1, i, gap)
		}
	}
	var total uint64
	for _, r := range sums {
		total += suppressedOf(t, r)
	}
	if got := uint64(len(passed)) + total; got != uint64(handled) {
		t.Errorf("%d passed + %d summarized = %d, want %d", len(passed), total, got, handled)
	}
}

// TestStormDerivedShareLimits: handlers derived with WithAttrs and
// WithGroup share the site's limit, and pass their attributes on.
func TestStormDerivedShareLimits(t *testing.T) {
	var buf bytes.Buffer
	s := newStorm(t, slog.NewJSONHandler(&buf, nil), &StormOptions{Rate: 1, Burst: 2})
	l1 := slog.New(s)
	l2 := l1.With("req", 7).WithGroup("g")
	logAt := stormLogAt
	logAt(l2, 0)
	logAt(l1, 1)
	logAt(l2, 2)
	if got := strings.Count(buf.String(), "same site"); got != 2 {
		t.Errorf("%d records passed from one site through two derived loggers, want the burst of 2", got)
	}
	if !strings.Contains(buf.String(), `"req":7,"g":{"i":0}`) {
		t.Errorf("derived attributes lost: %s", buf.String())
	}
	if s.WithAttrs(nil) != s || s.WithGroup("") != s {
		t.Error("empty WithAttrs or WithGroup did not return the receiver")
	}
	if st := s.Stats(); st.Suppressed.Info != 1 || st.Sites != 1 {
		t.Errorf("Stats %+v, want 1 INFO suppressed at 1 site", st)
	}
}

// stormLogAt logs from one call site through l.
//
//go:noinline
func stormLogAt(l *slog.Logger, i int) { l.Info("same site", "i", i) }

// TestStormMaxSites: past MaxSites new sites share one limit per level,
// still counted and summarized.
func TestStormMaxSites(t *testing.T) {
	out := &stormSink{}
	s := newStorm(t, out, &StormOptions{Rate: 1, Burst: 1, MaxSites: 2})
	now := time.Now()
	pcs := []uintptr{stormHere(), stormHere(), stormHere(), stormHere()}
	for _, pc := range pcs {
		for range 3 {
			s.Handle(context.Background(), slog.NewRecord(now, slog.LevelError, "m", pc))
		}
	}
	s.Handle(context.Background(), slog.NewRecord(now, slog.LevelInfo, "info past the bound", pcs[3]))
	st := s.Stats()
	if st.Sites != 2 || st.Untracked != 7 {
		t.Errorf("Stats %+v, want 2 sites and 7 untracked records", st)
	}
	if st.Suppressed.Error != 2+2+5 || st.Suppressed.Info != 0 {
		t.Errorf("Suppressed %+v, want 9 ERROR (2 + 2 tracked, 5 untracked), no INFO", st.Suppressed)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	sums, passed := splitSummaries(out.all())
	if len(passed) != 4 {
		t.Errorf("%d passed, want 4 (one per tracked site, one ERROR and one INFO untracked)", len(passed))
	}
	var total uint64
	untracked := 0
	for _, r := range sums {
		total += suppressedOf(t, r)
		if stringAttr(r, StormSourceKey) == untrackedSource {
			untracked++
			if r.PC != 0 || suppressedOf(t, r) != 5 {
				t.Errorf("untracked summary %v, want PC 0 and 5 suppressed", r)
			}
		}
	}
	if total != 9 || untracked != 1 || len(sums) != 3 {
		t.Errorf("%d summaries (%d untracked) of %d records, want 3 (1) of 9", len(sums), untracked, total)
	}
}

// TestStormManySites: the table grows past its first size and every site
// keeps its own limit.
func TestStormManySites(t *testing.T) {
	out := &stormSink{}
	s := newStorm(t, out, &StormOptions{Rate: 1, Burst: 1})
	now := time.Now()
	const sites = 1000
	for round := range 2 {
		for pc := uintptr(1); pc <= sites; pc++ {
			s.Handle(context.Background(), slog.NewRecord(now, slog.LevelInfo, "m", pc*16))
		}
		if got := len(out.all()); got != sites {
			t.Fatalf("round %d: %d passed, want %d (the first of each site)", round, got, sites)
		}
	}
	if st := s.Stats(); st.Sites != sites || st.Suppressed.Info != sites {
		t.Errorf("Stats %+v, want %d sites and %d suppressed", st, sites, sites)
	}
}

// TestStormNoPC: records with no PC are one site per level.
func TestStormNoPC(t *testing.T) {
	out := &stormSink{}
	s := newStorm(t, out, &StormOptions{Rate: 1, Burst: 1})
	now := time.Now()
	for _, l := range []slog.Level{slog.LevelInfo, slog.LevelInfo, slog.LevelError, slog.LevelError} {
		s.Handle(context.Background(), slog.NewRecord(now, l, "no pc", 0))
	}
	s.Flush(context.Background())
	sums, passed := splitSummaries(out.all())
	if len(passed) != 2 || len(sums) != 2 {
		t.Fatalf("%d passed, %d summaries; want 2 and 2", len(passed), len(sums))
	}
	for _, r := range sums {
		if _, ok := attrValue(r, StormSourceKey); ok {
			t.Errorf("summary of records with no PC has a source: %v", r)
		}
	}
}

func attrValue(r slog.Record, key string) (slog.Value, bool) {
	var v slog.Value
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value, true
		}
		return true
	})
	return v, found
}

// TestStormReentrant: the next handler may log through the same Storm
// while it writes a summary: no lock is held.
func TestStormReentrant(t *testing.T) {
	out := &stormSink{}
	var s *Storm
	var once sync.Once
	out.onStore = func(r slog.Record) {
		if r.Message == StormSummaryMessage {
			once.Do(func() { slog.New(s).Warn("seen a summary") })
		}
	}
	s = newStorm(t, out, &StormOptions{Rate: 1, Burst: 1})
	for range 3 {
		slog.New(s).Error("again")
	}
	done := make(chan struct{})
	go func() {
		s.Flush(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Flush did not return: a lock held while calling the next handler?")
	}
	var seen bool
	for _, r := range out.all() {
		seen = seen || r.Message == "seen a summary"
	}
	if !seen {
		t.Error("the record logged from within the next handler is missing")
	}
}

// TestStormCloseStuck: Close gives up when ctx ends while the next handler
// blocks a summary, and counts what it could not summarize.
func TestStormCloseStuck(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	release := make(chan struct{})
	blocked := make(chan struct{})
	var once sync.Once
	out := &stormSink{onStore: func(r slog.Record) {
		if r.Message == StormSummaryMessage {
			once.Do(func() { close(blocked) })
			<-release
		}
	}}
	s, err := NewStorm(out, &StormOptions{Rate: 1, Burst: 1, interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pc := stormHere()
	for range 3 { // 1 passes, 2 suppressed: the loop starts
		s.Handle(context.Background(), slog.NewRecord(now, slog.LevelError, "m", pc))
	}
	select {
	case <-blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("no summary 10 s after the storm")
	}
	for range 5 {
		s.Handle(context.Background(), slog.NewRecord(now, slog.LevelError, "m", pc))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = s.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "5 suppressed records") {
		t.Errorf("Close: %v, want the deadline and 5 records", err)
	}
	if got := s.Stats().Dropped.Get(drop.Closed); got != 5 {
		t.Errorf("Dropped closed %d, want 5", got)
	}
	if err2 := s.Close(context.Background()); err2 != err {
		t.Errorf("second Close: %v, want the first's %v", err2, err)
	}
	// After Close, records pass on unlimited.
	before := len(out.all())
	for range 10 {
		s.Handle(context.Background(), slog.NewRecord(now, slog.LevelError, "after close", pc))
	}
	if got := len(out.all()) - before; got != 10 {
		t.Errorf("%d of 10 records passed after Close, want all", got)
	}
	close(release)
}

// TestStormPanickingNext: a next handler that panics on a summary is
// counted, and the Storm goes on.
func TestStormPanickingNext(t *testing.T) {
	out := &stormSink{onStore: func(r slog.Record) {
		if r.Message == StormSummaryMessage {
			panic("boom")
		}
	}}
	s := newStorm(t, out, &StormOptions{Rate: 1, Burst: 1})
	for range 3 {
		slog.New(s).Error("x")
	}
	s.Flush(context.Background())
	if st := s.Stats(); st.Dropped.Get(drop.Panic) != 1 || st.Suppressed.Error != 2 {
		t.Errorf("Stats %+v, want 1 summary dropped (panic), 2 suppressed", st)
	}
}

// TestStormConcurrent: many goroutines and sites, with Stats and Flush at
// the same time; every record is accounted for exactly.
func TestStormConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var passed atomic.Uint64
	var summarized atomic.Uint64
	count := &countingHandler{f: func(r slog.Record) {
		if r.Message != StormSummaryMessage {
			passed.Add(1)
			return
		}
		if v, ok := attrValue(r, StormSuppressedKey); ok {
			summarized.Add(v.Uint64())
		}
	}}
	s, err := NewStorm(count, &StormOptions{Rate: 1000, Burst: 10, interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pcs := []uintptr{stormHere(), stormHere(), stormHere()}
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.Stats()
				s.Flush(context.Background())
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			l := slog.New(s).With("w", w)
			for i := range each {
				pc := pcs[(w+i)%len(pcs)]
				r := slog.NewRecord(time.Now(), slog.Level(4*((w+i)%4)-4), "m", pc)
				l.Handler().Handle(context.Background(), r)
			}
		})
	}
	wg.Wait()
	close(stop)
	closeStorm(t, s)
	st := s.Stats()
	if got := passed.Load() + summarized.Load(); got != workers*each {
		t.Errorf("%d passed + %d summarized = %d, want %d", passed.Load(), summarized.Load(), got, workers*each)
	}
	if st.Suppressed.Total() != summarized.Load() {
		t.Errorf("Stats.Suppressed %d, summaries %d", st.Suppressed.Total(), summarized.Load())
	}
}

// countingHandler calls f for every record, without keeping it.
type countingHandler struct{ f func(slog.Record) }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.f(r)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// TestStormDisabledNext: no summary goes to a next handler that is not
// enabled at the level; Enabled asks the next handler.
func TestStormDisabledNext(t *testing.T) {
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	s := newStorm(t, slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: lv}), &StormOptions{Rate: 1, Burst: 1})
	for range 3 {
		slog.New(s).Info("x")
	}
	if !s.Enabled(context.Background(), slog.LevelInfo) || s.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("Enabled does not follow the next handler")
	}
	lv.Set(slog.LevelError)
	s.Flush(context.Background())
	if strings.Contains(buf.String(), StormSummaryMessage) {
		t.Errorf("a summary went to a handler not enabled at its level: %s", buf.String())
	}
	if st := s.Stats(); st.Suppressed.Info != 2 {
		t.Errorf("Stats %+v, want 2 INFO suppressed", st)
	}
}

func TestNewStormErrors(t *testing.T) {
	if _, err := NewStorm(nil, nil); err == nil {
		t.Error("NewStorm(nil) returned no error")
	}
	for _, o := range []StormOptions{{Rate: -1}, {Burst: -1}, {MaxSites: -1}} {
		if _, err := NewStorm(stormNop{}, &o); err == nil {
			t.Errorf("NewStorm(%+v) returned no error", o)
		}
	}
	o := StormOptions{}
	s, err := NewStorm(stormNop{}, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if o != (StormOptions{}) {
		t.Errorf("NewStorm wrote to the options: %+v", o)
	}
	if s.st.period != int64(time.Second)/DefaultStormRate || s.st.tau != (2*DefaultStormRate-1)*s.st.period || s.st.maxSites != DefaultStormSites {
		t.Errorf("defaults: period %d, tau %d, max sites %d", s.st.period, s.st.tau, s.st.maxSites)
	}
	huge, err := NewStorm(stormNop{}, &StormOptions{Rate: math.MaxInt, Burst: math.MaxInt})
	if err != nil {
		t.Fatal(err)
	}
	defer huge.Close(context.Background())
	if huge.st.period != 1 || huge.st.tau <= 0 {
		t.Errorf("huge options: period %d, tau %d", huge.st.period, huge.st.tau)
	}
}

func TestStormCounts(t *testing.T) {
	c := StormCounts{Debug: 1, Info: 2, Warn: 3, Error: 4}
	for _, x := range []struct {
		l    slog.Level
		want uint64
	}{{slog.LevelDebug - 4, 1}, {slog.LevelDebug, 1}, {slog.LevelInfo, 2}, {slog.LevelInfo + 2, 2}, {slog.LevelWarn, 3}, {slog.LevelError, 4}, {slog.LevelError + 8, 4}} {
		if got := c.Get(x.l); got != x.want {
			t.Errorf("Get(%v) = %d, want %d", x.l, got, x.want)
		}
	}
	if c.Total() != 10 {
		t.Errorf("Total = %d", c.Total())
	}
}

func TestParseStormLimit(t *testing.T) {
	for _, c := range []struct {
		in          string
		rate, burst int
		on, ok      bool
	}{
		{"off", 0, 0, false, true},
		{" OFF ", 0, 0, false, true},
		{"100", 100, 0, true, true},
		{" 50 : 500 ", 50, 500, true, true},
		{"1:1", 1, 1, true, true},
		{"1000000000", 1e9, 0, true, true},
		{"", 0, 0, false, false},
		{"0", 0, 0, false, false},
		{"-1", 0, 0, false, false},
		{"+5", 0, 0, false, false},
		{"1e3", 0, 0, false, false},
		{"1000000001", 0, 0, false, false},
		{"10:0", 0, 0, false, false},
		{"10:", 0, 0, false, false},
		{":10", 0, 0, false, false},
		{"10:20:30", 0, 0, false, false},
		{"on", 0, 0, false, false},
		{"100/s", 0, 0, false, false},
	} {
		o, on, err := ParseStormLimit(c.in)
		if (err == nil) != c.ok || on != c.on || o.Rate != c.rate || o.Burst != c.burst {
			t.Errorf("ParseStormLimit(%q) = %+v, %v, %v; want rate %d burst %d on %v ok %v", c.in, o, on, err, c.rate, c.burst, c.on, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(c.in)) {
			t.Errorf("error %q does not quote the value", err)
		}
	}
}

func FuzzParseStormLimit(f *testing.F) {
	for _, s := range []string{"off", "100", "100:200", " 1 : 1 ", "x", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, on, err := ParseStormLimit(s)
		if err != nil {
			if on || o != (StormOptions{}) {
				t.Fatalf("error with options %+v on %v", o, on)
			}
			return
		}
		if !on {
			return
		}
		if o.Rate < 1 || o.Rate > 1e9 || o.Burst < 0 || o.Burst > 1e9 {
			t.Fatalf("ParseStormLimit(%q) = %+v", s, o)
		}
		h, err := NewStorm(stormNop{}, &o)
		if err != nil {
			t.Fatalf("NewStorm refused parsed options %+v: %v", o, err)
		}
		h.Close(context.Background())
	})
}

// TestStormAllocs: neither a record that passes nor one suppressed
// allocates (a suppressed record stores its message once per summary
// interval, not per record).
func TestStormAllocs(t *testing.T) {
	for _, c := range []struct {
		name string
		opts StormOptions
	}{
		{"passed", StormOptions{Rate: math.MaxInt, Burst: math.MaxInt}},
		{"suppressed", StormOptions{Rate: 1, Burst: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStorm(t, stormNop{}, &c.opts)
			r := slog.NewRecord(time.Now(), slog.LevelError, "m", stormHere())
			s.Handle(context.Background(), r)
			s.Handle(context.Background(), r)
			if n := testing.AllocsPerRun(1000, func() { s.Handle(context.Background(), r) }); n != 0 {
				t.Errorf("%v allocations per record, want 0", n)
			}
		})
	}
}

// BenchmarkStorm measures a record through Storm.Handle to a handler that
// does nothing, beside the same record handed to that handler directly
// (baseline), and the same through slog.Logger (logger-*).
func BenchmarkStorm(b *testing.B) {
	pass := StormOptions{Rate: math.MaxInt, Burst: math.MaxInt}
	refuse := StormOptions{Rate: 1, Burst: 1}
	r := slog.NewRecord(time.Now(), slog.LevelError, "message", stormHere())
	r.AddAttrs(slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three"))
	handle := func(h slog.Handler) func(b *testing.B) {
		return func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h.Handle(ctx, r)
			}
		}
	}
	logger := func(h slog.Handler) func(b *testing.B) {
		return func(b *testing.B) {
			l := slog.New(h)
			b.ReportAllocs()
			for b.Loop() {
				l.Error("message", "a", 1, "b", 2, "c", "three")
			}
		}
	}
	b.Run("baseline", handle(stormNop{}))
	b.Run("passed", handle(newStorm(b, stormNop{}, &pass)))
	b.Run("suppressed", handle(newStorm(b, stormNop{}, &refuse)))
	b.Run("suppressed-parallel", func(b *testing.B) {
		s := newStorm(b, stormNop{}, &refuse)
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Handle(ctx, r)
			}
		})
	})
	b.Run("logger-baseline", logger(stormNop{}))
	b.Run("logger-suppressed", logger(newStorm(b, stormNop{}, &refuse)))
}

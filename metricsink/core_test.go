package metricsink

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// Keys that differ only in where a string ends and the next begins, or by
// a tag more, are different keys.
func TestLookupKeysAreUnambiguous(t *testing.T) {
	pairs := [][2]struct {
		name string
		tags Tags
	}{
		{{"ab", KV("c", "d")}, {"a", KV("bc", "d")}},
		{{"a", KV("b", "cd")}, {"a", KV("bc", "d")}},
		{{"a", KV("b", "")}, {"a", Tags{}}},
		{{"a", KV("b", "c", "d", "e")}, {"a", KV("b", "c\x01d\x01e")}},
	}
	for _, p := range pairs {
		l := NewLookup[int](100, 1024)
		l0, _ := View(&p[0].tags)
		l1, _ := View(&p[1].tags)
		l.Put(OpIncrement, p[0].name, l0, 1)
		if _, ok := l.Get(OpIncrement, p[1].name, l1); ok {
			t.Errorf("%v found under the key of %v", p[1], p[0])
		}
		if _, ok := l.Get(OpGauge, p[0].name, l0); ok {
			t.Errorf("%v found for another op", p[0])
		}
	}
}

// Keys alike in every byte the index looks at share a bucket: each still
// finds its own value, and past LookupBucketLen keys are not remembered,
// while keys of other buckets are.
func TestLookupSharedBucket(t *testing.T) {
	l := NewLookup[int](10000, 1024)
	const n = 3 * LookupBucketLen
	put := 0
	for i := range n {
		// One length, first and last eight bytes: one index.
		tags := KV("user", fmt.Sprintf("u-%02d-z-%02d-z", i, n-i))
		list, _ := View(&tags)
		if l.Put(OpIncrement, "logins", list, i) {
			put++
		}
	}
	if put != LookupBucketLen {
		t.Errorf("%d keys of one bucket remembered, want %d", put, LookupBucketLen)
	}
	for i := range n {
		tags := KV("user", fmt.Sprintf("u-%02d-z-%02d-z", i, n-i))
		list, _ := View(&tags)
		v, ok := l.Get(OpIncrement, strings.Clone("logins"), list)
		if ok != (i < LookupBucketLen) || (ok && v != i) {
			t.Errorf("key %d: %v, %v", i, v, ok)
		}
	}
	for i := range 1000 { // other buckets, past growths
		tags := KV("route", fmt.Sprintf("/r/%d", i))
		list, _ := View(&tags)
		if !l.Put(OpIncrement, "requests", list, i) {
			t.Fatalf("key %d of another bucket not remembered", i)
		}
	}
	for i := range 1000 {
		tags := KV("route", fmt.Sprintf("/r/%d", i))
		list, _ := View(&tags)
		if v, ok := l.Get(OpIncrement, "requests", list); !ok || v != i {
			t.Fatalf("key %d: %v, %v after growing", i, v, ok)
		}
	}
	if got := l.DeleteFunc(func(v int) bool { return v < 10 }); got != 20 {
		t.Errorf("DeleteFunc forgot %d keys, want 20", got)
	}
	if got, want := l.Len(), LookupBucketLen+1000-20; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
}

// Put keeps the first value, and refuses keys past its bounds.
func TestLookupBounds(t *testing.T) {
	l := NewLookup[int](2, 16)
	tags := KV("k", "v")
	list, _ := View(&tags)
	if !l.Put(OpGauge, "a", list, 1) || l.Put(OpGauge, "a", list, 2) {
		t.Fatal("a second Put of one key was accepted")
	}
	if v, _ := l.Get(OpGauge, "a", list); v != 1 {
		t.Errorf("value = %d, want the first, 1", v)
	}
	if l.Put(OpGauge, strings.Repeat("x", 20), nil, 3) {
		t.Error("a key longer than the bound was remembered")
	}
	l.Put(OpGauge, "b", nil, 3)
	if l.Put(OpGauge, "c", nil, 4) {
		t.Error("a key past the count bound was remembered")
	}
}

// Get finds what concurrent Puts published, under the race detector.
func TestLookupConcurrent(t *testing.T) {
	l := NewLookup[int](100000, 1024)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				tags := KV("g", fmt.Sprint(g), "i", fmt.Sprint(i))
				list, _ := View(&tags)
				l.Put(OpIncrement, "c", list, i)
				if v, ok := l.Get(OpIncrement, "c", list); !ok || v != i {
					t.Errorf("g%d i%d: %v %v", g, i, v, ok)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestGuard(t *testing.T) {
	g := NewGuard(16, "le")
	tests := []struct {
		name   string
		tags   Tags
		reason drop.Reason
		want   string // key=value,... when accepted
	}{
		{"plain", KV("Route", "/x", "method", "GET"), 0, "route=/x,method=GET"},
		{"odd", KV("a"), drop.InvalidTags, ""},
		{"no letter", KV("..", "x"), drop.InvalidTags, ""},
		{"digit first", KV("9k", "x"), drop.InvalidTags, ""},
		{"dunder", KV("__name__", "x"), drop.ReservedLabel, ""},
		{"reserved", KV("le", "1"), drop.ReservedLabel, ""},
		{"collide", KV("a.b", "1", "a_b", "2"), drop.InvalidTags, ""},
		{"long key", KV(strings.Repeat("k", MaxKeyLen+1), "v"), drop.InvalidTags, ""},
		{"invalid UTF-8", KV("k", "\xff\xfeok"), 0, "k=\uFFFDok"},
		{"cut", KV("k", strings.Repeat("é", 10)), 0, "k=" + strings.Repeat("é", 6) + TruncationMarker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, r, detail := g.Tags(nil, &tt.tags, true)
			if r != tt.reason {
				t.Fatalf("reason = %v (%s), want %v", r, detail, tt.reason)
			}
			if r != 0 {
				if detail == "" {
					t.Error("no detail")
				}
				return
			}
			var parts []string
			for _, x := range out {
				if len(x.Value) > 16 {
					t.Errorf("value of %d bytes, more than 16", len(x.Value))
				}
				parts = append(parts, x.Key+"="+x.Value)
			}
			if got := strings.Join(parts, ","); got != tt.want {
				t.Errorf("tags = %q, want %q", got, tt.want)
			}
		})
	}
	if got := g.Value(strings.Repeat("x", 100)); len(got) > 16 || !strings.HasSuffix(got, TruncationMarker) {
		t.Errorf("Value cut to %q", got)
	}
}

func TestKinds(t *testing.T) {
	var logs bytes.Buffer
	drops := NewDrops("test", slog.New(slog.NewTextHandler(&logs, nil)))
	k := NewKinds("test", drops, "Options.MaxNames", 3, 2, 3)
	m, r, _ := k.Use(OpIncrement, "comments.created", nil)
	if m == nil || r != 0 {
		t.Fatalf("first use refused: %v", r)
	}
	for _, tt := range []struct {
		op   Op
		name string
		want drop.Reason
	}{
		{OpGauge, "commentsCreated", drop.TypeClash},
		{OpIncrement, "comments_created", 0},
		{OpHistogram, "size", 0},
		{OpDuration, "size", drop.TypeClash}, // a histogram without unit
		{OpDuration, "wait", 0},
		{OpHistogram, "wait", 0},
		{OpIncrement, "", drop.InvalidName},
		{OpIncrement, "fourth", drop.Overflow},
	} {
		if _, r, detail := k.Use(tt.op, tt.name, nil); r != tt.want {
			t.Errorf("Use(%v, %q) = %v (%s), want %v", tt.op, tt.name, r, detail, tt.want)
		}
	}
	if _, _, err := k.Declare(Desc{Name: "size", Kind: Gauge}, nil); err == nil {
		t.Error("Declare of another kind: no error")
	}
	if _, existed, err := k.Declare(Desc{Name: "size", Kind: Histogram, Help: "Sizes."}, nil); err != nil || !existed {
		t.Errorf("Declare of the same kind = %v, %v", existed, err)
	}
	if got := [...]Room{k.AddSeries(m, false), k.AddSeries(m, false), k.AddSeries(m, false)}; got != [...]Room{RoomOK, RoomOK, RoomMetricFull} {
		t.Errorf("AddSeries = %v", got)
	}
	if got := k.AddSeries(m, true); got != RoomOK {
		t.Errorf("overflow series = %v, want RoomOK", got)
	}
	if got := k.AddSeries(m, true); got != RoomFull {
		t.Errorf("past the total = %v, want RoomFull", got)
	}
	drops.Emit()
	if n := strings.Count(logs.String(), "Options.MaxNames"); n != 1 || drops.Load(drop.Overflow) != 1 {
		t.Errorf("names past the bound: %d warnings, %d drops; want 1 and 1:\n%s", n, drops.Load(drop.Overflow), &logs)
	}
}

// A callback that blocks costs each read at most the timeout and is not
// called again while it runs; one that panics is counted; counters keep
// their last good value.
func TestFuncs(t *testing.T) {
	drops := NewDrops("test", slog.New(slog.NewTextHandler(new(bytes.Buffer), nil)))
	fs := NewFuncs(50*time.Millisecond, drops, false)
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	_, undoBlock := fs.Add("block", Gauge, func() float64 { calls.Done(); <-release; return 1 }, "block")
	fs.Add("panic", Gauge, func() float64 { panic("boom") }, "panic")
	total := 5.0
	fs.Add("total", Counter, func() float64 { return total }, "total")
	read := func() map[string]Reading {
		out := map[string]Reading{}
		for _, r := range fs.Read() {
			out[r.F.Data.(string)] = r
		}
		return out
	}
	start := time.Now()
	got := read()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read took %v with a blocked callback", d)
	}
	if _, ok := got["block"]; ok {
		t.Error("the blocked callback gave a reading")
	}
	if r := got["panic"]; r.OK {
		t.Errorf("the panicking gauge gave %+v", r)
	}
	if r := got["total"]; !r.OK || r.Value != 5 {
		t.Errorf("counter = %+v, want 5", r)
	}
	calls.Wait()
	total = 3 // backwards: refused
	got = read()
	if r := got["total"]; r.Value != 5 {
		t.Errorf("counter after going backwards = %v, want 5 kept", r.Value)
	}
	total = math.NaN()
	if r := read()["total"]; r.Value != 5 {
		t.Errorf("counter after NaN = %v, want 5 kept", r.Value)
	}
	if drops.Load(drop.Timeout) != 3 || drops.Load(drop.Panic) != 3 || drops.Load(drop.InvalidValue) != 2 {
		t.Errorf("drops = %v", drops.Counts())
	}
	undoBlock()
	undoBlock()
	close(release)
	if fs.Len() != 2 {
		t.Errorf("Len = %d after unregistering, want 2", fs.Len())
	}
}

// Warnings are logged once per reason and metric, at most MaxWarnings of
// them, and the counts go on.
func TestDropsWarnOnce(t *testing.T) {
	var logs bytes.Buffer
	d := NewDrops("test", slog.New(slog.NewTextHandler(&logs, nil)))
	for range 3 {
		d.Drop(drop.InvalidName, Counter, "x", "why")
	}
	for i := range MaxWarnings + 10 {
		d.Drop(drop.TypeClash, Gauge, fmt.Sprint("n", i), "why")
	}
	if got := strings.Count(logs.String(), "\n"); got != MaxWarnings+1 {
		t.Errorf("%d lines logged, want %d", got, MaxWarnings+1)
	}
	if d.Load(drop.InvalidName) != 3 || d.Load(drop.TypeClash) != MaxWarnings+10 {
		t.Errorf("counts = %v", d.Counts())
	}
}

func TestLimit(t *testing.T) {
	if v, err := Limit("Options.X", 0, 5); v != 5 || err != nil {
		t.Errorf("zero: %v, %v", v, err)
	}
	if v, err := Limit("Options.X", 3, 5); v != 3 || err != nil {
		t.Errorf("three: %v, %v", v, err)
	}
	if _, err := Limit("Options.X", -time.Second, time.Second); err == nil || !strings.Contains(err.Error(), "Options.X -1s") {
		t.Errorf("negative: %v", err)
	}
}

package livedash

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
	"unicode/utf8"
)

// records returns what r holds as slogtest reads it: groups, flattened
// with dots by the Ring, are nested again.
func records(r *Ring) []map[string]any {
	var out []map[string]any
	for _, e := range r.st.entries(0, 0) {
		m := map[string]any{slog.MessageKey: e.msg, slog.LevelKey: e.level}
		if !e.time.IsZero() {
			m[slog.TimeKey] = e.time
		}
		put := func(k, v []byte) {
			parts := strings.Split(string(k), ".")
			cur := m
			for _, p := range parts[:len(parts)-1] {
				next, ok := cur[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					cur[p] = next
				}
				cur = next
			}
			cur[parts[len(parts)-1]] = string(v)
		}
		eachKV(e.pre, put)
		eachKV(e.own, put)
		out = append(out, m)
	}
	return out
}

func TestRingSlogtest(t *testing.T) {
	var r *Ring
	slogtest.Run(t, func(*testing.T) slog.Handler {
		r = NewRing(keepAll(nil))
		return r
	}, func(t *testing.T) map[string]any {
		rs := records(r)
		if len(rs) != 1 {
			t.Fatalf("ring holds %d records, want 1", len(rs))
		}
		return rs[0]
	})
}

func TestRingBounds(t *testing.T) {
	tests := []struct {
		name      string
		opts      RingOptions
		records   int
		attr      string
		wantMax   int
		wantBytes int
	}{
		{"by records", RingOptions{MaxRecords: 10}, 100, "x", 10, 0},
		{"by bytes", RingOptions{MaxRecords: 1000, MaxBytes: 10 << 10}, 1000, strings.Repeat("v", 500), 1000, 10 << 10},
		{"default", RingOptions{}, DefaultRingRecords + 100, "x", DefaultRingRecords, DefaultRingBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(keepAll(&tt.opts))
			l := slog.New(r)
			for i := range tt.records {
				l.Info("m", "i", i, "v", tt.attr)
			}
			st := r.Stats()
			if st.Records > tt.wantMax || (tt.wantBytes > 0 && st.Bytes > tt.wantBytes) {
				t.Errorf("stats = %+v, want at most %d records and %d bytes", st, tt.wantMax, tt.wantBytes)
			}
			if st.Handled != uint64(tt.records) || st.Evicted != st.Handled-uint64(st.Records) {
				t.Errorf("stats = %+v, want handled %d and evicted = handled - records", st, tt.records)
			}
			es := r.st.entries(0, 0)
			if got := records(r)[len(es)-1]["i"]; got != fmt.Sprint(tt.records-1) {
				t.Errorf("newest kept i = %v, want %d", got, tt.records-1)
			}
			for i := 1; i < len(es); i++ {
				if es[i].seq != es[i-1].seq+1 {
					t.Fatalf("entries not consecutive at %d: %d then %d", i, es[i-1].seq, es[i].seq)
				}
			}
		})
	}
}

func TestRingEntriesAfter(t *testing.T) {
	r := NewRing(keepAll(&RingOptions{MaxRecords: 5}))
	l := slog.New(r)
	for i := range 8 {
		l.Info(fmt.Sprint(i))
	}
	// Kept: seq 4..8 (messages 3..7).
	tests := []struct {
		after uint64
		max   int
		want  string
	}{
		{0, 0, "34567"}, {5, 0, "567"}, {8, 0, ""}, {100, 0, ""}, {0, 2, "67"}, {6, 1, "7"},
	}
	for _, tt := range tests {
		var got strings.Builder
		for _, e := range r.st.entries(tt.after, tt.max) {
			got.WriteString(e.msg)
		}
		if got.String() != tt.want {
			t.Errorf("entries(%d, %d) = %q, want %q", tt.after, tt.max, got.String(), tt.want)
		}
	}
}

type panicky struct{}

func (panicky) String() string { panic("boom") }

type panicValuer struct{}

func (panicValuer) LogValue() slog.Value { panic("boom") }

type node struct {
	Name string
	Next *node
}

func TestRingBudgets(t *testing.T) {
	cyc := map[string]any{"a": 1}
	cyc["self"] = cyc
	loop := &node{Name: "n"}
	loop.Next = loop
	var nilStringer *node
	deep := slog.Int("leaf", 1)
	for i := range 20 {
		deep = slog.Group(fmt.Sprint("g", i), deep)
	}
	many := make([]any, 0, 200)
	for i := range 100 {
		many = append(many, fmt.Sprint("k", i), i)
	}
	tests := []struct {
		name    string
		args    []any
		msg     string
		check   func(m map[string]any) string
		wantCut bool
	}{
		{"long value", []any{"v", strings.Repeat("é", 5000)}, "m", func(m map[string]any) string {
			if v := m["v"].(string); len(v) > maxValueBytes+4 || !utf8.ValidString(v) {
				return fmt.Sprintf("v has %d bytes (valid %v)", len(v), utf8.ValidString(v))
			}
			return ""
		}, true},
		{"long message", nil, strings.Repeat("m", 10000), func(m map[string]any) string {
			if n := len(m[slog.MessageKey].(string)); n > maxMsgBytes {
				return fmt.Sprintf("message has %d bytes", n)
			}
			return ""
		}, false},
		{"invalid utf-8", []any{"v", "a\xffb"}, "m", func(m map[string]any) string {
			if m["v"] != "a\uFFFDb" {
				return fmt.Sprintf("v = %q", m["v"])
			}
			return ""
		}, false},
		{"cyclic map", []any{"v", cyc}, "m", nil, false},
		{"cyclic pointer", []any{"v", loop}, "m", func(m map[string]any) string {
			if !strings.Contains(fmt.Sprint(m["v"]), "!CYCLE") {
				return fmt.Sprintf("v = %q, want a !CYCLE marker", m["v"])
			}
			return ""
		}, false},
		{"panicking String", []any{"v", panicky{}}, "m", func(m map[string]any) string {
			if !strings.Contains(m["v"].(string), "PANIC") {
				return fmt.Sprintf("v = %q", m["v"])
			}
			return ""
		}, false},
		{"panicking LogValue", []any{"v", panicValuer{}}, "m", nil, false},
		{"nil pointer", []any{"v", nilStringer, "e", (*myErr)(nil)}, "m", nil, false},
		{"deep groups", []any{deep}, "m", nil, true},
		{"many attributes", many, "m", func(m map[string]any) string {
			// The budget's attributes, its count of those left out, the
			// Ring's marker, and time, level and message.
			if len(m) > maxRecordAttrs+5 {
				return fmt.Sprintf("%d keys kept", len(m))
			}
			return ""
		}, true},
		{"huge slice", []any{"v", make([]int, 1e6)}, "m", func(m map[string]any) string {
			if len(m["v"].(string)) > maxValueBytes+4 {
				return "slice not cut"
			}
			return ""
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(keepAll(nil))
			done := make(chan struct{})
			go func() {
				defer close(done)
				slog.New(r).Info(tt.msg, tt.args...)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Handle did not return")
			}
			rs := records(r)
			if len(rs) != 1 {
				t.Fatalf("kept %d records", len(rs))
			}
			_, cut := rs[0][TruncatedKey]
			if cut != tt.wantCut {
				t.Errorf("truncated marker = %v, want %v (%v)", cut, tt.wantCut, rs[0])
			}
			if tt.check != nil {
				if msg := tt.check(rs[0]); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

type myErr struct{}

func (*myErr) Error() string { return "my error" }

// selfLogger logs to the ring while the ring renders it: a ring that held
// its lock while rendering would deadlock.
type selfLogger struct{ l *slog.Logger }

func (s selfLogger) LogValue() slog.Value {
	s.l.Info("from inside LogValue")
	return slog.StringValue("ok")
}

func TestRingHoldsNoLockWhileRendering(t *testing.T) {
	r := NewRing(keepAll(nil))
	l := slog.New(r)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Info("outer", "v", selfLogger{l}, "e", errors.New("x"))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the ring held its lock while resolving a LogValuer")
	}
	if n := r.Stats().Records; n != 2 {
		t.Errorf("kept %d records, want 2", n)
	}
}

func TestRingRequestIDAndClones(t *testing.T) {
	r := NewRing(keepAll(&RingOptions{Level: slog.LevelDebug}))
	base := slog.New(r).With("service", "svc")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := base.With("worker", g).WithGroup("req")
			for i := range 200 {
				l.Debug("handled", "request_id", fmt.Sprintf("r%d-%d", g, i), "n", i)
			}
		}()
	}
	wg.Wait()
	es := r.st.entries(0, 0)
	if len(es) != 1600 {
		t.Fatalf("kept %d, want 1600", len(es))
	}
	for _, e := range es {
		if !strings.HasPrefix(e.rid, "r") {
			t.Fatalf("entry without its request id: %+v", toJSON(&e))
		}
		j := toJSON(&e)
		if j.Attrs[0] != [2]string{"service", "svc"} || j.Attrs[2][0] != "req.request_id" {
			t.Fatalf("attrs = %v", j.Attrs)
		}
	}
	// The level is read on every call.
	lv := new(slog.LevelVar)
	r2 := NewRing(keepAll(&RingOptions{Level: lv}))
	if !r2.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info not enabled at level info")
	}
	lv.Set(slog.LevelError)
	if r2.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("warn enabled at level error")
	}
}

func FuzzRingValue(f *testing.F) {
	f.Add("key", "value", 3)
	f.Add("", "\xff\xfe", 0)
	f.Add("a.b", strings.Repeat("x", 2000), 9)
	f.Fuzz(func(t *testing.T, key, val string, depth int) {
		r := NewRing(keepAll(&RingOptions{MaxRecords: 4}))
		a := slog.String(key, val)
		for range depth % 12 {
			a = slog.Group(key, a, slog.Any("x", []any{val, map[string]string{key: val}}))
		}
		slog.New(r).Info(val, a, "request_id", val)
		es := r.st.entries(0, 0)
		if len(es) != 1 {
			t.Fatalf("kept %d", len(es))
		}
		j := toJSON(&es[0])
		if len(j.Msg) > maxMsgBytes {
			t.Errorf("message of %d bytes", len(j.Msg))
		}
		total := 0
		for _, kv := range j.Attrs {
			if !utf8.ValidString(kv[1]) {
				t.Errorf("invalid UTF-8 value %q", kv[1])
			}
			if len(kv[1]) > maxValueBytes+len("…") {
				t.Errorf("value of %d bytes", len(kv[1]))
			}
			total += len(kv[0]) + len(kv[1])
		}
		if total > maxRecordBytes+2*maxValueBytes {
			t.Errorf("record of %d bytes", total)
		}
	})
}

// keepAll returns o (nil for defaults) with IdleLevel set to Level, so
// that the Ring keeps every record at Level whether watched or not.
func keepAll(o *RingOptions) *RingOptions {
	var c RingOptions
	if o != nil {
		c = *o
	}
	c.IdleLevel = c.Level
	if c.IdleLevel == nil {
		c.IdleLevel = slog.LevelInfo
	}
	return &c
}

// While no page is open the Ring keeps warnings and errors only; from
// the moment one opens, and for IdleAfter after the last one closed,
// every record.
func TestRingIdle(t *testing.T) {
	r := NewRing(&RingOptions{IdleAfter: 50 * time.Millisecond})
	l := slog.New(r)
	ctx := context.Background()
	l.Info("a: idle, not kept")
	l.Warn("b")
	release := r.st.watch()
	l.Info("c")
	release2 := r.st.watch() // a second page
	release()
	release() // again: nothing more
	l.Info("d")
	release2()
	l.Info("e: within IdleAfter of the last page closing")
	deadline := time.Now().Add(5 * time.Second)
	for r.Enabled(ctx, slog.LevelInfo) {
		if time.Now().After(deadline) {
			t.Fatal("still keeping info records 5 s after the last page closed, IdleAfter 50 ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.Info("f: idle again, not kept")
	l.Error("g")
	var got []string
	for _, e := range r.st.entries(0, 0) {
		got = append(got, e.msg[:1])
	}
	if strings.Join(got, "") != "bcdeg" {
		t.Errorf("kept %q, want b c d e g", got)
	}
	if w := r.st.count.Load(); w != 0 {
		t.Errorf("watched = %d after every page closed, want 0", w)
	}
	if k := r.st.keeps(); !strings.Contains(k, "INFO and above are kept while a dashboard page is open and for 50ms") || !strings.Contains(k, "WARN and above") {
		t.Errorf("keeps() = %q", k)
	}
	if k := NewRing(nil).st.keeps(); !strings.Contains(k, " for 15 minutes after") {
		t.Errorf("keeps() by default = %q", k)
	}
	for d, want := range map[time.Duration]string{time.Minute: "1 minute", 90 * time.Second: "90 seconds",
		time.Second: "1 second", 1500 * time.Millisecond: "1.5s", 2 * time.Hour: "120 minutes"} {
		if got := spoken(d); got != want {
			t.Errorf("spoken(%v) = %q, want %q", d, got, want)
		}
	}
	if k := NewRing(keepAll(nil)).st.keeps(); k != "Every record at INFO and above is kept." {
		t.Errorf("keeps() with IdleLevel = Level: %q", k)
	}
}

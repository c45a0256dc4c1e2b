package livedash

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

func newSpans(t *testing.T, o *SpansOptions) *Spans {
	t.Helper()
	s, err := NewSpans(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testSpan is a span of a request as the demo makes them: ten attributes
// and an event.
func testSpan(i int) Span {
	at := time.Unix(1_700_000_000, 0).Add(time.Duration(i) * time.Millisecond)
	attrs := make([]SpanAttr, 10)
	for j := range attrs {
		attrs[j] = SpanAttr{Key: fmt.Sprintf("attribute.number.%d", j), Value: fmt.Sprintf("value %d of span %d", j, i)}
	}
	return Span{TraceID: trace.TraceID{1, byte(i >> 16), byte(i >> 8), byte(i)}, SpanID: trace.SpanID{2, byte(i >> 16), byte(i >> 8), byte(i)},
		Name: "POST /api/videos/{id}/comments", Kind: trace.SpanKindServer, Start: at, End: at.Add(3 * time.Millisecond),
		Service: "demo", Attrs: attrs,
		Events: []SpanEvent{{Time: at.Add(time.Millisecond), Name: "stored", Attrs: []SpanAttr{{Key: "id", Value: "42"}}}}}
}

// 100,000 spans through Spans with the default bounds: what it holds
// stays within them, in its counts and in the heap.
func TestSpansHoldTheirBound(t *testing.T) {
	spans := newSpans(t, &SpansOptions{KeepAllWhenIdle: true})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100_000
	for i := range n {
		spans.Add(testSpan(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := spans.Stats()
	if st.Spans > DefaultMaxSpans || st.Bytes > DefaultSpansBytes || st.Added != n || st.Evicted != uint64(n-st.Spans) {
		t.Errorf("Stats = %+v, want at most %d spans and %d bytes, %d added", st, DefaultMaxSpans, DefaultSpansBytes, n)
	}
	table := DefaultMaxSpans * spanSlot
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d spans kept, %d bytes counted; the table %d bytes; the heap grew by %d bytes", st.Spans, st.Bytes, table, grew)
	if limit := int64(table + DefaultSpansBytes + 1<<20); grew > limit {
		t.Errorf("the heap grew by %d bytes for the spans, want at most the table and MaxBytes and 1 MiB (%d)", grew, limit)
	}
	if spanSlot > 200 {
		t.Errorf("a table entry takes %d bytes, documented as 200", spanSlot)
	}
	runtime.KeepAlive(spans)
}

// A span past its budget is cut and marked, and shares nothing with the
// caller's.
func TestSpanBudget(t *testing.T) {
	spans := newSpans(t, &SpansOptions{KeepAllWhenIdle: true})
	big := strings.Repeat("é", 1000) // 2000 bytes
	s := testSpan(1)
	s.Name = big
	s.Attrs = nil
	for i := range 100 {
		s.Attrs = append(s.Attrs, SpanAttr{Key: fmt.Sprint("k", i), Value: big})
	}
	s.Events = make([]SpanEvent, 40)
	s.StatusMessage = "bad \xff utf-8"
	spans.Add(s)
	s.Attrs[0].Value = "changed by the caller"
	got, _ := spans.trace(s.TraceID, 10)
	if len(got) != 1 {
		t.Fatalf("%d spans kept", len(got))
	}
	k := got[0]
	text := len(k.Name) + len(k.Service) + len(k.StatusMessage)
	for _, a := range k.Attrs {
		text += len(a.Key) + len(a.Value)
	}
	if len(k.Name) > maxSpanName || !strings.HasSuffix(k.Name, "…") || text > maxSpanText+len(TruncatedKey)+8 {
		t.Errorf("name of %d bytes, %d bytes of text: want within %d and %d", len(k.Name), text, maxSpanName, maxSpanText)
	}
	if last := k.Attrs[len(k.Attrs)-1]; last.Key != TruncatedKey || len(k.Attrs) > maxSpanAttrs+1 || len(k.Events) != maxSpanEvents {
		t.Errorf("%d attributes ending %v, %d events: want at most %d, the marker, %d", len(k.Attrs), last, len(k.Events), maxSpanAttrs, maxSpanEvents)
	}
	if k.Attrs[0].Value == "changed by the caller" || k.StatusMessage != "bad \uFFFD utf-8" {
		t.Errorf("kept %q, %q", k.Attrs[0].Value, k.StatusMessage)
	}
}

// While nobody watches, Spans wants errors alone; from the moment a page
// opens, and for IdleAfter after the last one closed, every span.
func TestSpansIdle(t *testing.T) {
	spans := newSpans(t, &SpansOptions{IdleAfter: 50 * time.Millisecond})
	if spans.Wants(StatusOK) || spans.Wants(StatusUnset) || !spans.Wants(StatusError) {
		t.Error("an idle Spans wants more than errors")
	}
	ok, bad := testSpan(1), testSpan(2)
	bad.Status = StatusError
	spans.Add(ok)
	spans.Add(bad)
	release := spans.watch()
	spans.Add(testSpan(3))
	release()
	spans.Add(testSpan(4))
	waitFor(t, 5*time.Second, "idle again", func() bool { return !spans.Wants(StatusOK) })
	spans.Add(testSpan(5))
	if st := spans.Stats(); st.Spans != 3 {
		t.Errorf("kept %d spans, want the error and the two while watched", st.Spans)
	}
	if !strings.Contains(spans.keeps(), "only spans with an error status") {
		t.Errorf("keeps() = %q", spans.keeps())
	}
	none := newSpans(t, &SpansOptions{IdleAfter: 50 * time.Millisecond, NothingWhenIdle: true})
	if none.Wants(StatusError) || !strings.Contains(none.keeps(), "none are made") {
		t.Errorf("NothingWhenIdle: wants an error while idle, or says %q", none.keeps())
	}
	none.Add(bad)
	release = none.watch()
	if !none.Wants(StatusOK) {
		t.Error("NothingWhenIdle: wants nothing while watched")
	}
	none.Add(ok)
	release()
	if st := none.Stats(); st.Spans != 1 {
		t.Errorf("NothingWhenIdle: kept %d spans, want the one while watched", st.Spans)
	}
	if _, err := NewSpans(&SpansOptions{MaxBytes: -1}); err == nil {
		t.Error("NewSpans accepted a negative MaxBytes")
	}
}

// The Traces page: its tab and page only with Options.Spans, its lists in
// the live updates, one trace by its id, and the trace's records in the
// Logs page's query.
func TestTracesPage(t *testing.T) {
	_, none := newTestDashboard(t, nil)
	resp, err := http.Get(none.URL + DefaultPath + "/traces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /traces without Spans = %v, want 404", resp.StatusCode)
	}
	page := func(url string) string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if strings.Contains(page(none.URL+DefaultPath+"/"), "/traces") {
		t.Error("a Traces tab without Spans")
	}

	ring := NewRing(keepAll(nil))
	spans := newSpans(t, nil)
	_, srv := newTestDashboard(t, &Options{Logs: ring, Spans: spans})
	if !strings.Contains(page(srv.URL+DefaultPath+"/"), `href="/dashboard/traces"`) {
		t.Error("no Traces tab with Spans")
	}
	r, stop := openStream(t, srv, "page=traces") // watched from now
	defer stop()
	tk := event(t, r)
	if tk.Traces == nil || len(tk.Traces.Latest) != 0 || !strings.Contains(tk.Traces.Keeps, "while a dashboard page is open") {
		t.Fatalf("first update = %+v, want empty lists and what is kept", tk.Traces)
	}

	at := time.Now()
	mk := func(tid, sid, parent byte, name string, ms int, st StatusCode) Span {
		return Span{TraceID: trace.TraceID{tid}, SpanID: trace.SpanID{sid}, ParentID: trace.SpanID{parent}, Name: name,
			Kind: trace.SpanKindServer, Start: at, End: at.Add(time.Duration(ms) * time.Millisecond), Status: st, Service: "svc"}
	}
	spans.Add(mk(1, 2, 1, "INSERT <b>", 2, StatusUnset)) // a child first
	spans.Add(mk(1, 1, 0, "POST /c", 10, StatusUnset))
	spans.Add(mk(2, 3, 0, "POST /c", 30, StatusError))
	spans.Add(mk(3, 4, 9, "GET /c", 5, StatusUnset)) // under a remote parent
	slog.New(ring).Info("stored", "trace_id", trace.TraceID{1}.String(), "request_id", "r1")
	slog.New(ring).Info("other", "trace_id", trace.TraceID{2}.String())

	tk = event(t, r)
	s := tk.Traces
	if s == nil || len(s.Latest) != 3 || s.Spans != 4 {
		t.Fatalf("traces = %+v, want 3 traces of 4 spans", s)
	}
	if l := s.Latest[len(s.Latest)-1]; l.Trace != (trace.TraceID{1}).String() || l.Spans != 2 || l.Root != "POST /c" || l.Dur != 0.01 {
		t.Errorf("the oldest trace listed = %+v", l)
	}
	if s.Latest[0].Root != "GET /c" {
		t.Errorf("a span under a remote parent is not a root here: %+v", s.Latest[0])
	}
	if len(s.Slowest) != 2 || s.Slowest[0].Route != "POST /c" || s.Slowest[0].Count != 2 || s.Slowest[0].Errors != 1 ||
		s.Slowest[0].Max != 0.03 || s.Slowest[0].Trace != (trace.TraceID{2}).String() {
		t.Errorf("slowest = %+v", s.Slowest)
	}
	if spans.summary() != spans.summary() {
		t.Error("the summary is made again though no span was added")
	}

	var got struct {
		Spans []struct {
			Trace, Span, Parent, Name, Kind, Status, Service string
			Start, End                                       int64
			Attrs                                            [][2]string
		}
		Truncated bool
	}
	resp, err = http.Get(srv.URL + DefaultPath + "/api/trace?id=" + trace.TraceID{1}.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got.Spans) != 2 || got.Spans[0].Name != "INSERT <b>" || got.Spans[0].Parent != (trace.SpanID{1}).String() ||
		got.Spans[1].Parent != "" || got.Spans[1].End-got.Spans[1].Start != 10_000 || got.Spans[1].Kind != "server" {
		t.Errorf("trace 1 = %+v", got)
	}
	for _, q := range []string{"", "xyz", strings.Repeat("0", 32)} {
		resp, err := http.Get(srv.URL + DefaultPath + "/api/trace?id=" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("id=%q: %d, want 400", q, resp.StatusCode)
		}
	}

	logs, code := getLogs(t, srv.URL+DefaultPath+"/api/logs?trace_id="+trace.TraceID{1}.String())
	if code != 200 || len(logs.Records) != 1 || logs.Records[0].Msg != "stored" {
		t.Errorf("records of trace 1 = %d %+v", code, logs.Records)
	}
}

// The table entry's size is what the doc says it is.
func TestSpanSlot(t *testing.T) {
	if spanSlot != int(unsafe.Sizeof(keptSpan{})) || spanSlot < int(unsafe.Sizeof(Span{})) {
		t.Errorf("spanSlot = %d", spanSlot)
	}
	t.Logf("a table entry: %d bytes", spanSlot)
}

package wsmetrics

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"

	"github.com/realtimeserver/observability/metricsink"
)

func TestChannelLabel(t *testing.T) {
	tests := []struct {
		name    string
		opts    *Options
		channel string
		want    string
	}{
		{"topic family", nil, "video:42", "video"},
		{"first colon only", nil, "room:lobby:3", "room"},
		{"no colon", nil, "lobby", "lobby"},
		{"empty", nil, "", None},
		{"empty family", nil, ":42", None},
		{"odd characters", nil, "vid eo:1", Other},
		{"too long", nil, strings.Repeat("v", 65) + ":1", Other},
		{"longest kept", nil, strings.Repeat("v", 64) + ":1", strings.Repeat("v", 64)},
		{"ChannelFunc", &Options{ChannelFunc: func(c string) string { return strings.ToUpper(c) }}, "chat", "CHAT"},
		{"ChannelFunc empty", &Options{ChannelFunc: func(string) string { return "" }}, "chat", None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(newRecorder(), tt.opts)
			c := tr.Open(tt.channel)
			defer c.Close()
			if got := c.Channel(); got != tt.want {
				t.Errorf("Open(%q).Channel() = %q, want %q", tt.channel, got, tt.want)
			}
			if got := tr.Connections(tt.want); got != 1 {
				t.Errorf("Connections(%q) = %d, want 1", tt.want, got)
			}
		})
	}
}

func TestDirectionString(t *testing.T) {
	tests := []struct {
		d    Direction
		want string
	}{{In, "in"}, {Out, "out"}, {0, "unknown"}, {7, "unknown"}}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Direction(%d).String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// sinks runs f against a FuncSink and against a sink that only takes pushed
// gauges.
func sinks(t *testing.T, f func(t *testing.T, rec *recorder, s metricsink.Sink)) {
	t.Run("FuncSink", func(t *testing.T) { r := newRecorder(); f(t, r, r) })
	t.Run("push", func(t *testing.T) { r := newRecorder(); f(t, r, pushSink{r}) })
}

func TestCloseIsIdempotent(t *testing.T) {
	sinks(t, func(t *testing.T, rec *recorder, s metricsink.Sink) {
		tr := NewTracker(s, nil)
		a, b := tr.Open("video:1"), tr.Open("video:2")
		for range 3 {
			a.Close()
		}
		if got := rec.gauge("websocket.connections{channel=video}"); got != 1 {
			t.Errorf("gauge after closing one of two, thrice = %v, want 1", got)
		}
		if got := rec.duration("websocket.connection.duration{channel=video}"); got != 1 {
			t.Errorf("durations recorded = %d, want 1", got)
		}
		b.Close()
		b.Close()
		if got := rec.gauge("websocket.connections{channel=video}"); got != 0 {
			t.Errorf("gauge after closing both = %v, want 0", got)
		}
		if got := rec.duration("websocket.connection.duration{channel=video}"); got != 2 {
			t.Errorf("durations recorded = %d, want 2", got)
		}
	})
}

func TestGaugeNeverDriftsUnderConcurrency(t *testing.T) {
	sinks(t, func(t *testing.T, rec *recorder, s metricsink.Sink) {
		tr := NewTracker(s, nil)
		const workers, rounds = 16, 300
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var negatives int
		var scrapes sync.WaitGroup
		scrapes.Add(1)
		go func() { // a scraper reading the gauge while it moves
			defer scrapes.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if rec.gauge("websocket.connections{channel=video}") < 0 {
					negatives++
				}
				runtime.Gosched()
			}
		}()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					c := tr.Open(fmt.Sprintf("video:%d", w*rounds+i))
					if i%2 == 0 {
						wg.Go(c.Close) // closed from another goroutine too
						c.Close()
					} else {
						c.Close()
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		scrapes.Wait()
		if got := rec.gauge("websocket.connections{channel=video}"); got != 0 {
			t.Errorf("gauge after %d opens and closes = %v, want 0", workers*rounds, got)
		}
		if negatives > 0 {
			t.Errorf("gauge read negative %d times", negatives)
		}
		if got := rec.duration("websocket.connection.duration{channel=video}"); got != workers*rounds {
			t.Errorf("durations = %d, want %d", got, workers*rounds)
		}
	})
}

func TestChannelFamiliesCapped(t *testing.T) {
	sinks(t, func(t *testing.T, rec *recorder, s metricsink.Sink) {
		tr := NewTracker(s, &Options{MaxChannels: 3})
		var conns []*Conn
		for i := range 100 {
			c := tr.Open(fmt.Sprintf("family%d:1", i))
			c.Message(In, "ping", 1)
			conns = append(conns, c)
		}
		got := rec.labelValues("websocket.messages", "channel")
		want := map[string]float64{"family0": 1, "family1": 1, "family2": 1, Other: 97}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("channel labels = %v, want %v", got, want)
		}
		if got := tr.Connections(Other); got != 97 {
			t.Errorf("Connections(other) = %d, want 97", got)
		}
		if got := rec.gauge("websocket.connections{channel=other}"); got != 97 {
			t.Errorf("other gauge = %v, want 97", got)
		}
		for _, c := range conns {
			c.Close()
		}
		if got := rec.gauge("websocket.connections{channel=other}"); got != 0 {
			t.Errorf("other gauge after close = %v, want 0", got)
		}
	})
}

func TestHostileEventNamesCapped(t *testing.T) {
	rec := newRecorder()
	tr := NewTracker(rec, nil)
	c := tr.Open("video:1")
	defer c.Close()
	const n = 10000
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				c.MessageData(In, false, fmt.Appendf(nil, `{"event":"evil_%d","payload":{}}`, i))
			}
		}()
	}
	wg.Wait()
	got := rec.labelValues("websocket.messages", "event")
	if len(got) > DefaultMaxEvents+1 {
		t.Errorf("%d distinct events gave %d label values, want at most %d", n, len(got), DefaultMaxEvents+1)
	}
	if len(got) != DefaultMaxEvents+1 || got[Other] != n-DefaultMaxEvents {
		t.Errorf("events: %d values, other = %v; want %d values, other = %d", len(got), got[Other], DefaultMaxEvents+1, n-DefaultMaxEvents)
	}
	var total float64
	for _, v := range got {
		total += v
	}
	if total != n {
		t.Errorf("messages counted = %v, want %d", total, n)
	}
	// The event names kept with their message counters are bounded.
	if got, limit := c.s.f.msgs.Len(), tr.msgsPerFamily(); got > limit {
		t.Errorf("event names kept: %d, want at most %d", got, limit)
	}
}

func TestEventAllowlist(t *testing.T) {
	rec := newRecorder()
	tr := NewTracker(rec, &Options{Events: []string{"phx_join", "new_comment"}})
	c := tr.Open("video:1")
	defer c.Close()
	for _, msg := range []string{
		`{"event":"phx_join"}`, `{"event":"new_comment"}`, `{"event":"new_comment"}`,
		`{"event":"delete_everything"}`, `{"event":"evil one"}`, `not json`,
	} {
		c.MessageData(In, false, []byte(msg))
	}
	c.MessageData(Out, true, []byte{0, 1, 2})
	c.Message(Out, "phx_reply", 3)
	got := rec.labelValues("websocket.messages", "event")
	want := map[string]float64{"phx_join": 1, "new_comment": 2, Other: 3, Unknown: 1, Binary: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestEventLabels(t *testing.T) {
	tests := []struct {
		name   string
		binary bool
		data   string
		want   string
	}{
		{"phoenix message", false, `{"topic":"video:1","event":"phx_join","payload":{},"ref":"1"}`, "phx_join"},
		{"leading space", false, " \n{ \"event\" : \"new_comment\" }", "new_comment"},
		{"nested key ignored", false, `{"payload":{"event":"inner"},"ref":1}`, Unknown},
		{"nested then top", false, `{"payload":{"event":"inner","x":[1,{"event":"y"}]},"event":"outer"}`, "outer"},
		{"string with braces before", false, `{"body":"}{\"event\":\"x\"","event":"real"}`, "real"},
		{"first key wins", false, `{"event":"a","event":"b"}`, "a"},
		{"not an object", false, `["event","x"]`, Unknown},
		{"not json", false, `hello`, Unknown},
		{"empty", false, ``, Unknown},
		{"number value", false, `{"event":1}`, Unknown},
		{"empty value", false, `{"event":""}`, Unknown},
		{"escaped value", false, `{"event":"a\"b"}`, Other},
		{"space in value", false, `{"event":"new comment"}`, Other},
		{"long value", false, `{"event":"` + strings.Repeat("e", 65) + `"}`, Other},
		{"truncated after value", false, `{"event":"typing","payload":{"a":`, "typing"},
		{"truncated value", false, `{"event":"typ`, Unknown},
		{"binary", true, `{"event":"x"}`, Binary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			c := NewTracker(rec, nil).Open("video:1")
			defer c.Close()
			c.MessageData(In, tt.binary, []byte(tt.data))
			key := "websocket.messages{channel=video,event=" + tt.want + ",direction=in}"
			if got := rec.counter(key); got != 1 {
				t.Errorf("MessageData(%q): %s = %v, want 1; events seen: %v", tt.data, key, got, rec.labelValues("websocket.messages", "event"))
			}
			if got, want := rec.counter("websocket.message.bytes{channel=video,direction=in}"), float64(len(tt.data)); got != want {
				t.Errorf("bytes = %v, want %v", got, want)
			}
		})
	}
}

func TestEventFunc(t *testing.T) {
	rec := newRecorder()
	tr := NewTracker(rec, &Options{EventFunc: func(data []byte) string {
		if len(data) == 0 {
			return ""
		}
		return fmt.Sprintf("op%d", data[0])
	}})
	c := tr.Open("chat")
	defer c.Close()
	c.MessageData(Out, true, []byte{7, 1})
	c.MessageData(Out, false, nil)
	got := rec.labelValues("websocket.messages", "event")
	want := map[string]float64{"op7": 1, Unknown: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestMessageCountsAfterClose(t *testing.T) {
	rec := newRecorder()
	c := NewTracker(rec, nil).Open("video:1")
	c.Close()
	c.Message(Out, "late", 5)
	if got := rec.counter("websocket.messages{channel=video,event=late,direction=out}"); got != 1 {
		t.Errorf("message after Close counted %v times, want 1", got)
	}
	if got := rec.counter("websocket.message.bytes{channel=video,direction=out}"); got != 5 {
		t.Errorf("bytes after Close = %v, want 5", got)
	}
}

func TestNewTrackerRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative MaxChannels", Options{MaxChannels: -1}, "Options.MaxChannels = -1"},
		{"negative MaxEvents", Options{MaxEvents: -2}, "Options.MaxEvents = -2"},
		{"bad allowlist entry", Options{Events: []string{"ok", "not ok"}}, `Options.Events entry "not ok"`},
		{"empty allowlist entry", Options{Events: []string{""}}, `Options.Events entry ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, tt.want) {
					t.Errorf("panic = %q, want it to contain %q", msg, tt.want)
				}
			}()
			NewTracker(nil, &tt.opts)
		})
	}
}

func TestTrackerCloseUnregisters(t *testing.T) {
	rec := newRecorder()
	tr := NewTracker(rec, nil)
	tr.Open("video:1").Close()
	tr.Open("room:1").Close()
	if got := rec.nfuncs(); got != 2 {
		t.Fatalf("gauge funcs registered = %d, want 2 (one per family)", got)
	}
	tr.Close()
	tr.Close()
	if got := rec.nfuncs(); got != 0 {
		t.Errorf("gauge funcs after Close = %d, want 0", got)
	}
	tr.Open("chat:1").Close() // still counts, registers nothing
	if got := rec.nfuncs(); got != 0 {
		t.Errorf("gauge funcs after Close and Open = %d, want 0", got)
	}
}

func TestDroppedConnClosedByCollector(t *testing.T) {
	logs := &testenv.Buffer{}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	rec := newRecorder()
	tr := NewTracker(rec, nil)
	func() { tr.Open("video:1"); tr.Open("video:2") }() // never closed
	deadline := time.Now().Add(5 * time.Second)
	for (tr.Connections("video") != 0 || logs.Len() == 0) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := tr.Connections("video"); got != 0 {
		t.Fatalf("Connections after the handle was dropped and collected = %d, want 0", got)
	}
	if got := rec.duration("websocket.connection.duration{channel=video}"); got != 2 {
		t.Errorf("durations = %d, want 2", got)
	}
	if got := tr.leaked.Load(); got != 2 {
		t.Errorf("leaked = %d, want 2", got)
	}
	if got := strings.Count(logs.String(), "garbage-collected without Close"); got != 1 {
		t.Errorf("warnings logged = %d, want 1 (once per Tracker); log:\n%s", got, logs.String())
	}
}

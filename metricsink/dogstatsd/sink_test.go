package dogstatsd

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

func TestMain(m *testing.M) {
	// Drops are logged once per reason; TestLogOnce looks at them.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	goleak.VerifyTestMain(m)
}

func TestLogOnce(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	l := listen(t)
	s := newTestSink(t, l, nil)
	for range 3 {
		s.Increment("", 1, metricsink.Tags{})
		s.Gauge("g", math.NaN(), metricsink.Tags{})
	}
	got := buf.String()
	if n := strings.Count(got, "\n"); n != 2 {
		t.Errorf("%d lines logged, want 2 (one per reason):\n%s", n, got)
	}
	for _, want := range []string{`reason=invalid_name`, `reason=invalid_value metric=g`} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q does not contain %q", got, want)
		}
	}
}

const wait = 5 * time.Second

func TestSamples(t *testing.T) {
	kv := metricsink.KV
	tests := []struct {
		name string
		opts Options
		send func(s *Sink)
		want []line
	}{
		{
			name: "increment is a count",
			send: func(s *Sink) { s.Increment("comments.created", 1, kv("channel", "video")) },
			want: []line{{Name: "comments.created", Value: "1", Type: "c", Tags: []string{"channel:video"}}},
		},
		{
			name: "increments of one series are aggregated by the client",
			send: func(s *Sink) {
				s.Increment("http.requests", 2, kv("route", "/x", "method", "GET"))
				s.Increment("http.requests", 3, kv("route", "/x", "method", "GET"))
			},
			want: []line{{Name: "http.requests", Value: "5", Type: "c", Tags: []string{"route:/x", "method:get"}}},
		},
		{
			name: "increment without aggregation sends each count",
			opts: Options{ClientOptions: []statsd.Option{statsd.WithoutClientSideAggregation()}},
			send: func(s *Sink) {
				s.Increment("a.b", 2, metricsink.Tags{})
				s.Increment("a.b", 3, metricsink.Tags{})
			},
			want: []line{{Name: "a.b", Value: "2", Type: "c"}, {Name: "a.b", Value: "3", Type: "c"}},
		},
		{
			name: "gauge",
			send: func(s *Sink) { s.Gauge("websocket.connections", 12.5, kv("channel", "video")) },
			want: []line{{Name: "websocket.connections", Value: "12.5", Type: "g", Tags: []string{"channel:video"}}},
		},
		{
			name: "gauge keeps the last value",
			send: func(s *Sink) {
				s.Gauge("queue.length", 3, metricsink.Tags{})
				s.Gauge("queue.length", -1, metricsink.Tags{})
			},
			want: []line{{Name: "queue.length", Value: "-1", Type: "g"}},
		},
		{
			name: "histogram is a distribution",
			send: func(s *Sink) { s.Histogram("message.size", 0.25, metricsink.Tags{}) },
			want: []line{{Name: "message.size", Value: "0.25", Type: "d"}},
		},
		{
			name: "histogram of the Agent",
			opts: Options{AgentHistograms: true},
			send: func(s *Sink) { s.Histogram("message.size", 42, metricsink.Tags{}) },
			want: []line{{Name: "message.size", Value: "42", Type: "h"}},
		},
		{
			name: "duration is a distribution in milliseconds",
			send: func(s *Sink) {
				s.Duration("db.query.duration", 1500*time.Microsecond, kv("source", "comments", "operation", "select"))
			},
			want: []line{{Name: "db.query.duration", Value: "1.5", Type: "d", Tags: []string{"source:comments", "operation:select"}}},
		},
		{
			name: "duration below a millisecond keeps its fraction",
			send: func(s *Sink) { s.Duration("http.request.duration", 420*time.Microsecond, metricsink.Tags{}) },
			want: []line{{Name: "http.request.duration", Value: "0.42", Type: "d"}},
		},
		{
			name: "duration as a timing of the Agent",
			opts: Options{AgentHistograms: true},
			send: func(s *Sink) {
				s.Duration("db.query.duration", 1500*time.Microsecond, kv("source", "comments", "operation", "select"))
			},
			want: []line{{Name: "db.query.duration", Value: "1.5", Type: "ms", Tags: []string{"source:comments", "operation:select"}}},
		},
		{
			name: "zero duration",
			send: func(s *Sink) { s.Duration("d", 0, metricsink.Tags{}) },
			want: []line{{Name: "d", Value: "0", Type: "d"}},
		},
		{
			name: "namespace and global tags",
			opts: Options{Namespace: "realtime", Tags: []string{"env:test", "canary"}},
			send: func(s *Sink) { s.Increment("comments.created", 1, kv("channel", "video")) },
			want: []line{{Name: "realtime.comments.created", Value: "1", Type: "c", Tags: []string{"env:test", "canary", "channel:video"}}},
		},
		{
			name: "namespace with a trailing dot",
			opts: Options{Namespace: "app."},
			send: func(s *Sink) { s.Gauge("g", 1, metricsink.Tags{}) },
			want: []line{{Name: "app.g", Value: "1", Type: "g"}},
		},
		{
			name: "name characters replaced",
			send: func(s *Sink) { s.Gauge("http request/duration:ms|x", 1, metricsink.Tags{}) },
			want: []line{{Name: "http_request_duration_ms_x", Value: "1", Type: "g"}},
		},
		{
			name: "non-ASCII name: one underscore per character",
			send: func(s *Sink) { s.Gauge("café.crème", 1, metricsink.Tags{}) },
			want: []line{{Name: "caf_.cr_me", Value: "1", Type: "g"}},
		},
		{
			name: "name of exactly 200 characters",
			send: func(s *Sink) { s.Gauge("a"+strings.Repeat("b", 199), 1, metricsink.Tags{}) },
			want: []line{{Name: "a" + strings.Repeat("b", 199), Value: "1", Type: "g"}},
		},
		{
			name: "with a namespace a name may start with a digit",
			opts: Options{Namespace: "ns"},
			send: func(s *Sink) { s.Gauge("5xx", 1, metricsink.Tags{}) },
			want: []line{{Name: "ns.5xx", Value: "1", Type: "g"}},
		},
		{
			name: "tag characters replaced",
			send: func(s *Sink) {
				s.Gauge("g", 1, kv("a:b", "c:d", "pipe|key", "v|v", "comma,", ",x", "hash#", "#", "nl\n", "x\r\ny"))
			},
			want: []line{{Name: "g", Value: "1", Type: "g", Tags: []string{"a_b:c:d", "pipe_key:v_v", "comma:_x", "hash:none", "nl:x_y"}}},
		},
		{
			name: "empty tag value",
			send: func(s *Sink) { s.Gauge("g", 1, kv("k", "")) },
			want: []line{{Name: "g", Value: "1", Type: "g", Tags: []string{"k:none"}}},
		},
		{
			name: "eight tags",
			send: func(s *Sink) {
				s.Gauge("g", 1, kv("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8"))
			},
			want: []line{{Name: "g", Value: "1", Type: "g", Tags: []string{"a:1", "b:2", "c:3", "d:4", "e:5", "f:6", "g:7", "h:8"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			s := newTestSink(t, l, &tt.opts)
			tt.send(s)
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			got := l.waitFor(wait, func(got line) bool { return got.String() == tt.want[len(tt.want)-1].String() })
			// Give stragglers a moment: nothing else may arrive.
			time.Sleep(20 * time.Millisecond)
			got = l.received()
			if !slices.EqualFunc(got, tt.want, func(a, b line) bool { return a.String() == b.String() }) {
				t.Errorf("received %v, want %v", got, tt.want)
			}
			if st := s.Stats(); st.Sent == 0 || st.Dropped.Get(drop.InvalidName)+st.Dropped.Get(drop.InvalidTags)+st.Dropped.Get(drop.InvalidValue)+st.Dropped.Get(drop.Closed) != 0 {
				t.Errorf("Stats = %+v, want Sent > 0 and no drops", st)
			}
		})
	}
}

func TestDrops(t *testing.T) {
	tests := []struct {
		name  string
		send  func(s *Sink)
		check func(st Stats) uint64
	}{
		{"empty name", func(s *Sink) { s.Increment("", 1, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidName) }},
		{"name starting with a digit", func(s *Sink) { s.Gauge("9lives", 1, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidName) }},
		{"name starting with an underscore", func(s *Sink) { s.Gauge("_x", 1, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidName) }},
		{"name starting with a replaced character", func(s *Sink) { s.Gauge("é", 1, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidName) }},
		{"name of 201 characters", func(s *Sink) { s.Gauge(strings.Repeat("a", 201), 1, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidName) }},
		{"odd tags", func(s *Sink) { s.Increment("x", 1, metricsink.KV("k")) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidTags) }},
		{"too many tags", func(s *Sink) {
			s.Increment("x", 1, metricsink.KV("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8").With("i", "9"))
		}, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidTags) }},
		{"empty tag key", func(s *Sink) { s.Histogram("x", 1, metricsink.KV("", "v")) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidTags) }},
		{"negative increment", func(s *Sink) { s.Increment("x", -1, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"NaN increment", func(s *Sink) { s.Increment("x", math.NaN(), metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"infinite increment", func(s *Sink) { s.Increment("x", math.Inf(1), metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"NaN gauge", func(s *Sink) { s.Gauge("x", math.NaN(), metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"infinite histogram", func(s *Sink) { s.Histogram("x", math.Inf(-1), metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"negative duration", func(s *Sink) { s.Duration("x", -time.Second, metricsink.Tags{}) }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"nil GaugeFunc", func(s *Sink) { s.GaugeFunc("x", metricsink.Tags{}, nil)() }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidValue) }},
		{"CounterFunc with a bad name", func(s *Sink) { s.CounterFunc("", metricsink.Tags{}, func() float64 { return 1 })() }, func(st Stats) uint64 { return st.Dropped.Get(drop.InvalidName) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			s := newTestSink(t, l, nil)
			tt.send(s)
			tt.send(s) // the second time comes from the cache
			s.Increment("test.marker", 1, metricsink.Tags{})
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			l.waitFor(wait, isMarker)
			time.Sleep(20 * time.Millisecond)
			if got := l.received(); len(got) != 1 {
				t.Errorf("received %v, want only the marker", got)
			}
			st := s.Stats()
			if got := tt.check(st); got != 2 {
				t.Errorf("drop count = %d, want 2 (Stats %+v)", got, st)
			}
			if st.Sent != 1 {
				t.Errorf("Sent = %d, want 1 (the marker)", st.Sent)
			}
		})
	}
}

func TestAfterClose(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v, want nil", err)
	}
	s.Increment("a", 1, metricsink.Tags{})
	s.Gauge("a", 1, metricsink.Tags{})
	s.Histogram("a", 1, metricsink.Tags{})
	s.Duration("a", 1, metricsink.Tags{})
	s.GaugeFunc("a", metricsink.Tags{}, func() float64 { return 1 })()
	if got := s.Stats().Dropped.Get(drop.Closed); got != 5 {
		t.Errorf("DroppedClosed = %d, want 5", got)
	}
}

func TestFractionalIncrements(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, nil)
	const n = 4000
	for range n {
		s.Increment("frac", 0.25, metricsink.Tags{})
	}
	s.Close(context.Background())
	lines := l.waitFor(wait, func(l line) bool { return l.Name == "frac" })
	got, err := strconv.Atoi(lines[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	// Binomial(4000, 0.25): mean 1000, standard deviation about 27.
	if got < 850 || got > 1150 {
		t.Errorf("sum of %d increments of 0.25 = %d, want about 1000", n, got)
	}
}

func TestPoller(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{PollInterval: 10 * time.Millisecond, ClientOptions: []statsd.Option{
		statsd.WithoutClientSideAggregation(), statsd.WithBufferFlushInterval(5 * time.Millisecond),
	}})
	var gauge atomic.Int64
	gauge.Store(7)
	var total atomic.Uint64 // in quarter units
	unregGauge := s.GaugeFunc("pool.open", metricsink.KV("db", "main"), func() float64 { return float64(gauge.Load()) })
	unregCounter := s.CounterFunc("pool.wait_seconds", metricsink.KV("db", "main"), func() float64 {
		return float64(total.Add(3)) / 4 // 0.75 more on every read
	})
	unregPanics := s.GaugeFunc("panics", metricsink.Tags{}, func() float64 { panic("boom") })
	defer unregPanics()

	l.waitFor(wait, func(l line) bool { return l.Name == "pool.open" && l.Value == "7" })
	gauge.Store(9)
	l.waitFor(wait, func(l line) bool { return l.Name == "pool.open" && l.Value == "9" })
	l.waitFor(wait, func(l line) bool { return l.Name == "pool.wait_seconds" })

	unregGauge()
	unregGauge() // harmless
	unregCounter()
	// Nothing of them is sent once unregister returns: flush what the
	// client holds and wait for a marker sent after it (one socket, in
	// order), then count what arrives from then on.
	s.Gauge("test.marker", 1, metricsink.Tags{})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.waitFor(wait, isMarker)
	before := len(l.received())
	readsAfter := total.Load()
	time.Sleep(50 * time.Millisecond)
	if got := total.Load(); got != readsAfter {
		t.Errorf("CounterFunc read after unregister: total %d -> %d", readsAfter, got)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	lines := l.received()
	for _, x := range lines[before:] {
		if x.Name == "pool.open" || x.Name == "pool.wait_seconds" {
			t.Errorf("received %v after unregister", x)
		}
	}
	var sum int64
	for _, x := range lines {
		if x.Name != "pool.wait_seconds" {
			continue
		}
		if x.Type != "c" || !slices.Equal(x.Tags, []string{"db:main"}) {
			t.Errorf("counter line %v, want type c and tag db:main", x)
		}
		n, _ := strconv.ParseInt(x.Value, 10, 64)
		sum += n
	}
	// The counts sent add up to the integer part of the last reading.
	if want := int64(total.Load() / 4); sum != want {
		t.Errorf("sum of counts = %d, want %d (last reading %v)", sum, want, float64(total.Load())/4)
	}
	if st := s.Stats(); st.Dropped.Get(drop.Panic) == 0 {
		t.Errorf("Dropped[panic] = 0, want the panicking GaugeFunc counted")
	}
}

func TestCounterFuncReset(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{PollInterval: time.Hour}) // read only by Close
	vals := []float64{10, 15, 4}
	var i int
	s.CounterFunc("c", metricsink.Tags{}, func() float64 { return vals[i] })
	s.collect() // 10
	i++
	s.collect() // +5
	i++
	s.Close(context.Background()) // went back to 4: a reset, sends 4
	time.Sleep(20 * time.Millisecond)
	l.waitFor(wait, func(l line) bool { return l.Name == "c" })
	var sum int
	for _, x := range l.received() {
		n, _ := strconv.Atoi(x.Value)
		sum += n
	}
	if sum != 19 {
		t.Errorf("sum = %d, want 19 (10, then +5, then 4 after the reset)", sum)
	}
}

func TestCloseFlushesAggregation(t *testing.T) {
	l := listen(t)
	// Aggregated every hour, buffered for an hour: only Close can send.
	s := newTestSink(t, l, &Options{ClientOptions: []statsd.Option{
		statsd.WithAggregationInterval(time.Hour), statsd.WithBufferFlushInterval(time.Hour),
	}})
	s.Increment("flushed", 3, metricsink.Tags{})
	s.Histogram("flushed.h", 3, metricsink.Tags{})
	time.Sleep(50 * time.Millisecond)
	if got := l.received(); len(got) != 0 {
		t.Fatalf("received %v before Close", got)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.waitFor(wait, func(l line) bool { return l.Name == "flushed" && l.Value == "3" })
	l.waitFor(wait, func(l line) bool { return l.Name == "flushed.h" && l.Value == "3" })
}

func TestFlush(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{ClientOptions: []statsd.Option{
		statsd.WithAggregationInterval(time.Hour), statsd.WithBufferFlushInterval(time.Hour),
	}})
	s.Gauge("flushed", 1, metricsink.Tags{})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.waitFor(wait, func(l line) bool { return l.Name == "flushed" })
}

func TestAddressFromEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  func(host, port string) map[string]string
	}{
		{"DD_AGENT_HOST and DD_DOGSTATSD_PORT", func(h, p string) map[string]string {
			return map[string]string{"DD_AGENT_HOST": h, "DD_DOGSTATSD_PORT": p}
		}},
		{"DD_DOGSTATSD_URL", func(h, p string) map[string]string {
			return map[string]string{"DD_DOGSTATSD_URL": "udp://" + h + ":" + p}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			host, port, _ := strings.Cut(l.Addr(), ":")
			for _, k := range []string{"DD_AGENT_HOST", "DD_DOGSTATSD_PORT", "DD_DOGSTATSD_URL", "DD_ENV", "DD_SERVICE", "DD_VERSION", "DD_ENTITY_ID"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env(host, port) {
				t.Setenv(k, v)
			}
			s, err := New(&Options{ClientOptions: testClientOptions})
			if err != nil {
				t.Fatal(err)
			}
			s.Increment("test.marker", 1, metricsink.Tags{})
			s.Close(context.Background())
			l.waitFor(wait, isMarker)
		})
	}
}

func TestBadAddressFromEnvironment(t *testing.T) {
	t.Setenv("DD_AGENT_HOST", "")
	t.Setenv("DD_DOGSTATSD_URL", "tcp://agent:8125")
	s, err := New(&Options{ClientOptions: testClientOptions})
	if err == nil {
		s.Close(context.Background())
		t.Fatal("New with DD_DOGSTATSD_URL=tcp://agent:8125: nil error, want one")
	}
	if !strings.Contains(err.Error(), `DD_DOGSTATSD_URL="tcp://agent:8125"`) {
		t.Errorf("error %q does not name the variable and its value", err)
	}
}

func TestDefaultAddress(t *testing.T) {
	for _, k := range []string{"DD_AGENT_HOST", "DD_DOGSTATSD_URL"} {
		t.Setenv(k, "")
	}
	s, err := New(&Options{ClientOptions: testClientOptions})
	if err != nil {
		t.Fatalf("New with no address anywhere: %v, want %s", err, DefaultAddr)
	}
	defer s.Close(context.Background())
	if got := s.client.GetTransport(); got != "udp" {
		t.Errorf("transport = %q, want udp", got)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // in the error
	}{
		{"negative poll interval", Options{PollInterval: -time.Second}, "Options.PollInterval -1s"},
		{"negative max series", Options{MaxSeries: -1}, "Options.MaxSeries -1"},
		{"namespace with a dash", Options{Namespace: "my-app"}, `Options.Namespace "my-app"`},
		{"namespace with a digit first", Options{Namespace: "1app"}, `Options.Namespace "1app"`},
		{"empty global tag", Options{Tags: []string{""}}, `Options.Tags entry ""`},
		{"global tag with a comma", Options{Tags: []string{"a:b,c"}}, `Options.Tags entry "a:b,c"`},
		{"global tag with a pipe", Options{Tags: []string{"a|b"}}, `Options.Tags entry "a|b"`},
		{"unresolvable address", Options{Addr: "no-such-host.invalid:8125"}, "no-such-host.invalid:8125"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(&tt.opts)
			if err == nil {
				s.Close(context.Background())
				t.Fatalf("New(%+v) = nil error, want one containing %q", tt.opts, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestMaxSeries(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{MaxSeries: 2})
	for i := range 5 {
		s.Increment("c", 1, metricsink.KV("i", strconv.Itoa(i)))
	}
	if got := s.Stats().Series; got != 2 {
		t.Errorf("Series = %d, want 2", got)
	}
	s.Close(context.Background())
	l.waitFor(wait, func(l line) bool { return slices.Equal(l.Tags, []string{"i:4"}) })
}

func TestConcurrentUseAndClose(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{PollInterval: time.Millisecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tags := metricsink.KV("g", strconv.Itoa(g))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Increment("c", 1, tags)
				s.Histogram("h", float64(i), tags)
				s.Duration("d", time.Duration(i), tags)
				unreg := s.GaugeFunc("gf", tags, func() float64 { return 1 })
				unreg()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(context.Background()); err != nil {
		t.Error(err)
	}
	time.Sleep(10 * time.Millisecond)
	close(stop)
	wg.Wait()
	if st := s.Stats(); st.Dropped.Get(drop.Closed) == 0 || st.Sent == 0 {
		t.Errorf("Stats = %+v, want samples both sent and dropped after Close", st)
	}
}

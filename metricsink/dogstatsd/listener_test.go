package dogstatsd

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
)

// TestMain is in main_test.go (goleak).

// line is one parsed DogStatsD metric line: name:value|type[|@rate][|#tags][|…].
type line struct {
	Name, Value, Type string
	Tags              []string
}

func (l line) String() string {
	s := l.Name + ":" + l.Value + "|" + l.Type
	if len(l.Tags) > 0 {
		s += "|#" + strings.Join(l.Tags, ",")
	}
	return s
}

// parseLine parses one DogStatsD metric line as the Agent does, keeping the
// fields the tests check and ignoring the optional ones (rate, container id,
// timestamp, cardinality).
func parseLine(t testing.TB, s string) line {
	t.Helper()
	fields := strings.Split(s, "|")
	if len(fields) < 2 {
		t.Fatalf("malformed line %q: fewer than 2 fields", s)
	}
	name, value, ok := strings.Cut(fields[0], ":")
	if !ok || name == "" || value == "" {
		t.Fatalf("malformed line %q: no name:value", s)
	}
	// Values are compared as numbers: timings come as "1.500000".
	if f, err := strconv.ParseFloat(value, 64); err == nil {
		value = strconv.FormatFloat(f, 'g', -1, 64)
	} else {
		t.Errorf("line %q: value %q is not a number", s, value)
	}
	l := line{Name: name, Value: value, Type: fields[1]}
	for _, f := range fields[2:] {
		if tags, ok := strings.CutPrefix(f, "#"); ok {
			l.Tags = strings.Split(tags, ",")
		}
	}
	return l
}

// listener is a DogStatsD server on a random 127.0.0.1 UDP port that records
// every line it receives.
type listener struct {
	t    testing.TB
	conn net.PacketConn
	done chan struct{}

	mu    sync.Mutex
	lines []line
	cond  *sync.Cond
}

func listen(t testing.TB) *listener {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	l := &listener{t: t, conn: conn, done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	go l.serve()
	t.Cleanup(func() {
		conn.Close()
		<-l.done
	})
	return l
}

func (l *listener) Addr() string { return l.conn.LocalAddr().String() }

func (l *listener) serve() {
	defer close(l.done)
	buf := make([]byte, 65536)
	for {
		n, _, err := l.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		for _, s := range strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n") {
			if strings.HasPrefix(s, "datadog.dogstatsd.client.") {
				continue // the client's own telemetry
			}
			pl := parseLine(l.t, s)
			l.mu.Lock()
			l.lines = append(l.lines, pl)
			l.cond.Broadcast()
			l.mu.Unlock()
		}
	}
}

// waitFor waits until a line satisfies match, and returns all lines
// received so far; it fails the test after timeout.
func (l *listener) waitFor(timeout time.Duration, match func(line) bool) []line {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for !slices.ContainsFunc(l.lines, match) {
		if time.Now().After(deadline) {
			l.t.Fatalf("no matching line within %v; got %v", timeout, l.lines)
		}
		l.cond.Wait()
	}
	return slices.Clone(l.lines)
}

// received returns the lines received so far.
func (l *listener) received() []line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// testClientOptions keep datagrams free of the client's telemetry and of a
// container id, whatever machine the tests run on.
var testClientOptions = []statsd.Option{statsd.WithoutTelemetry(), statsd.WithoutOriginDetection()}

// newTestSink returns a Sink sending to l with opts (nil for defaults).
func newTestSink(t testing.TB, l *listener, opts *Options) *Sink {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Addr = l.Addr()
	o.ClientOptions = append(slices.Clone(testClientOptions), o.ClientOptions...)
	s, err := New(&o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func isMarker(l line) bool { return l.Name == "test.marker" }

package dogstatsd

import (
	"context"
	"fmt"
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
func parseLine(s string) (line, error) {
	fields := strings.Split(s, "|")
	if len(fields) < 2 {
		return line{}, fmt.Errorf("malformed line %q: fewer than 2 fields", s)
	}
	name, value, ok := strings.Cut(fields[0], ":")
	if !ok || name == "" || value == "" {
		return line{}, fmt.Errorf("malformed line %q: no name:value", s)
	}
	// Values are compared as numbers: timings come as "1.500000".
	f, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return line{}, fmt.Errorf("line %q: value %q is not a number", s, value)
	}
	value = strconv.FormatFloat(f, 'g', -1, 64)
	l := line{Name: name, Value: value, Type: fields[1]}
	for _, f := range fields[2:] {
		if tags, ok := strings.CutPrefix(f, "#"); ok {
			l.Tags = strings.Split(tags, ",")
		}
	}
	return l, nil
}

// listener is a DogStatsD server on a random 127.0.0.1 UDP port that records
// every line it receives. Its goroutine never touches the test: it records
// malformed lines, and the test's goroutine reports them (waitFor,
// received, and at cleanup).
type listener struct {
	t    testing.TB
	conn net.PacketConn
	done chan struct{}

	mu    sync.Mutex
	lines []line
	errs  []error
	cond  *sync.Cond
	// datagrams and bytes count what arrived, telemetry included.
	datagrams, bytes uint64
}

// delivery is what a listener received.
type delivery struct {
	datagrams, bytes uint64
	value            uint64 // the sum of the integer values of one metric's lines
}

// delivered returns the datagrams and bytes received so far, and the sum
// of the values of the lines of the metric name.
func (l *listener) delivered(name string) delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := delivery{datagrams: l.datagrams, bytes: l.bytes}
	for _, ln := range l.lines {
		if ln.Name == name {
			v, _ := strconv.ParseUint(ln.Value, 10, 64)
			d.value += v
		}
	}
	return d
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
		l.report()
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
		// One datagram is recorded at once, its lines with its size, so
		// that delivered never sees the bytes without the lines.
		var lines []line
		var errs []error
		for _, s := range strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n") {
			if strings.HasPrefix(s, "datadog.dogstatsd.client.") {
				continue // the client's own telemetry
			}
			pl, err := parseLine(s)
			if err != nil {
				errs = append(errs, err)
			} else {
				lines = append(lines, pl)
			}
		}
		l.mu.Lock()
		l.datagrams++
		l.bytes += uint64(n)
		l.lines = append(l.lines, lines...)
		l.errs = append(l.errs, errs...)
		l.cond.Broadcast()
		l.mu.Unlock()
	}
}

// waitFor waits until a line satisfies match, and returns all lines
// received so far; it fails the test after timeout.
func (l *listener) waitFor(timeout time.Duration, match func(line) bool) []line {
	l.t.Helper()
	defer l.report()
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

// report fails the test, from the calling goroutine, for each malformed
// line received and not yet reported.
func (l *listener) report() {
	l.t.Helper()
	for _, err := range l.takeErrors() {
		l.t.Errorf("listener: %v", err)
	}
}

// takeErrors returns the malformed lines not yet reported, and forgets them.
func (l *listener) takeErrors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := l.errs
	l.errs = nil
	return errs
}

// received returns the lines received so far.
func (l *listener) received() []line {
	l.t.Helper()
	defer l.report()
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
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func isMarker(l line) bool { return l.Name == "test.marker" }

// The listener records a malformed line, for the test goroutine to report,
// instead of failing the test from its own goroutine.
func TestListenerRecordsMalformedLines(t *testing.T) {
	l := listen(t)
	c, err := net.Dial("udp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("garbage\nok.metric:1|c\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		l.mu.Lock()
		got := slices.ContainsFunc(l.lines, func(ln line) bool { return ln.Name == "ok.metric" })
		l.mu.Unlock()
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ok.metric not received within %v", wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	errs := l.takeErrors() // taken: the cleanup has nothing left to report
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `"garbage"`) {
		t.Errorf("recorded errors = %v, want one about \"garbage\"", errs)
	}
}

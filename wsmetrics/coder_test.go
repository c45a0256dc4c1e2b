package wsmetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsServer is a real coder/websocket server on 127.0.0.1 whose handler
// behaviour is chosen per connection by the "mode" query parameter.
type wsServer struct {
	*httptest.Server
	rec      *recorder
	tracker  *Tracker
	handlers sync.WaitGroup // running handlers
	panics   chan any
}

func newWSServer(t *testing.T) *wsServer {
	t.Helper()
	s := &wsServer{rec: newRecorder(), panics: make(chan any, 1000)}
	s.tracker = NewTracker(s.rec, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/{topic}", s.handle)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.handlers.Wait()
		s.Server.Close()
		s.tracker.Close()
	})
	return s
}

func (s *wsServer) handle(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	defer func() {
		if v := recover(); v != nil {
			s.panics <- v
		}
	}()
	wc, err := Accept(w, r, nil, s.tracker, r.PathValue("topic"))
	if err != nil {
		return
	}
	mode := r.URL.Query().Get("mode")
	if mode != "no-defer" && mode != "close-read" {
		defer wc.CloseNow()
	}
	ctx := r.Context()
	echo := func() error {
		typ, p, err := wc.Read(ctx)
		if err != nil {
			return err
		}
		return wc.Write(ctx, typ, p)
	}
	if mode != "stream" {
		if echo() != nil { // phase one: one message each way
			return
		}
	}
	switch mode {
	case "echo", "no-defer":
		for echo() == nil {
		}
	case "stream":
		for {
			typ, rd, err := wc.Reader(ctx)
			if err != nil {
				return
			}
			p, err := io.ReadAll(rd)
			if err != nil {
				return
			}
			wr, err := wc.Writer(ctx, typ)
			if err != nil {
				return
			}
			for chunk := range slices(p, 7) {
				if _, err := wr.Write(chunk); err != nil {
					return
				}
			}
			if wr.Close() != nil {
				return
			}
		}
	case "server-close":
		if _, _, err := wc.Read(ctx); err == nil {
			wc.Close(websocket.StatusNormalClosure, "bye")
		}
	case "server-panic":
		if _, _, err := wc.Read(ctx); err == nil {
			panic("handler bug")
		}
	case "read-deadline":
		if _, _, err := wc.Read(ctx); err == nil {
			dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			wc.Read(dctx)
		}
	case "read-limit":
		wc.SetReadLimit(10)
		if _, rd, err := wc.Reader(ctx); err == nil {
			if _, err := io.ReadAll(rd); err == nil {
				panic("a message over the read limit was read")
			}
		}
	case "close-read":
		<-wc.CloseRead(ctx).Done()
	}
}

// slices yields p in chunks of at most n bytes.
func slices(p []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(p) > 0 {
			k := min(n, len(p))
			if !yield(p[:k]) {
				return
			}
			p = p[k:]
		}
	}
}

// client is a wrapped client connection and the raw TCP connection under it.
type client struct {
	*WrappedConn
	raw       net.Conn
	transport *http.Transport
}

func dial(ctx context.Context, t *testing.T, s *wsServer, tr *Tracker, topic, mode string) *client {
	t.Helper()
	cl := &client{}
	var mu sync.Mutex
	d := &net.Dialer{}
	cl.transport = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		mu.Lock()
		cl.raw = c
		mu.Unlock()
		return c, err
	}}
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/" + topic + "?mode=" + mode
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: cl.transport}})
	if err != nil {
		t.Errorf("dial %s: %v", u, err)
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	cl.WrappedConn = Wrap(tr, c, topic)
	return cl
}

func (c *client) done() {
	c.CloseNow()
	c.transport.CloseIdleConnections()
}

func TestMessagesCountedBothWays(t *testing.T) {
	ctx := context.Background()
	// The server echoes with Read and Write ("echo") or with Reader and a
	// Writer fed in 7-byte chunks ("stream"); the client mixes all four.
	for _, mode := range []string{"echo", "stream"} {
		t.Run(mode, func(t *testing.T) {
			s := newWSServer(t)
			crec := newRecorder()
			c := dial(ctx, t, s, NewTracker(crec, nil), "video:42", mode)
			if c == nil {
				return
			}
			defer c.done()
			msgs := []string{
				`{"event":"new_comment","body":"hi"}`,
				`{"event":"typing"}`,
				`{"event":"new_comment","body":"` + strings.Repeat("x", 2000) + `"}`,
			}
			var size int
			for i, m := range msgs {
				size += len(m)
				if i%2 == 0 {
					if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
						t.Fatal(err)
					}
				} else {
					w, err := c.Writer(ctx, websocket.MessageText)
					if err != nil {
						t.Fatal(err)
					}
					for chunk := range slices([]byte(m), 3) {
						w.Write(chunk)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
				_, got, err := c.Read(ctx)
				if err != nil || string(got) != m {
					t.Fatalf("echo of %.40q = %.40q, %v", m, got, err)
				}
			}
			bin := []byte{0, 1, 2, 3}
			size += len(bin)
			if err := c.Write(ctx, websocket.MessageBinary, bin); err != nil {
				t.Fatal(err)
			}
			_, rd, err := c.Reader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(rd); err != nil || string(got) != string(bin) {
				t.Fatalf("binary echo = %v, %v", got, err)
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("client Close: %v", err)
			}
			s.handlers.Wait()

			for _, side := range []struct {
				name string
				rec  *recorder
			}{{"server", s.rec}, {"client", crec}} {
				for _, dir := range []string{"in", "out"} {
					want := map[string]float64{"new_comment": 2, "typing": 1, "binary": 1}
					got := map[string]float64{}
					for _, ev := range []string{"new_comment", "typing", "binary", "unknown", "other"} {
						if v := side.rec.counter("websocket.messages{channel=video,event=" + ev + ",direction=" + dir + "}"); v != 0 {
							got[ev] = v
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s %s messages = %v, want %v", side.name, dir, got, want)
					}
					if got, want := side.rec.counter("websocket.message.bytes{channel=video,direction="+dir+"}"), float64(size); got != want {
						t.Errorf("%s %s bytes = %v, want %v", side.name, dir, got, want)
					}
				}
				if got := side.rec.gauge("websocket.connections{channel=video}"); got != 0 {
					t.Errorf("%s gauge after close = %v, want 0", side.name, got)
				}
				if got := side.rec.duration("websocket.connection.duration{channel=video}"); got != 1 {
					t.Errorf("%s durations = %v, want 1", side.name, got)
				}
			}
		})
	}
}

// TestGaugeBackToZero opens many connections at once, ending them every way a
// connection can end, and checks both ends' gauges: at the peak they count
// every connection, afterwards they are zero and each connection recorded
// exactly one duration.
func TestGaugeBackToZero(t *testing.T) {
	endings := []struct {
		mode string // the server's behaviour
		end  func(ctx context.Context, c *client) error
	}{
		{"echo", func(ctx context.Context, c *client) error { // client closes
			return c.Close(websocket.StatusNormalClosure, "")
		}},
		{"echo", func(ctx context.Context, c *client) error { // client's read context cancelled
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(10*time.Millisecond, cancel)
			if _, _, err := c.Read(ctx); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("Read with cancelled context: %v, want context.Canceled", err)
			}
			return nil
		}},
		{"echo", func(ctx context.Context, c *client) error { // network connection killed
			c.raw.Close()
			_, _, err := c.Read(ctx)
			if err == nil {
				return errors.New("Read after the TCP connection was closed succeeded")
			}
			return nil
		}},
		{"no-defer", func(ctx context.Context, c *client) error { // server relies on the read error alone
			return c.Close(websocket.StatusNormalClosure, "")
		}},
		{"close-read", func(ctx context.Context, c *client) error { // server relies on CloseRead's context
			return c.Close(websocket.StatusNormalClosure, "")
		}},
		{"server-close", func(ctx context.Context, c *client) error {
			c.Write(ctx, websocket.MessageText, []byte(`{"event":"go"}`))
			_, _, err := c.Read(ctx)
			if got := websocket.CloseStatus(err); got != websocket.StatusNormalClosure {
				return fmt.Errorf("Read after server Close: %v, want close status %v", err, websocket.StatusNormalClosure)
			}
			return nil
		}},
		{"server-panic", func(ctx context.Context, c *client) error {
			c.Write(ctx, websocket.MessageText, []byte(`{"event":"go"}`))
			if _, _, err := c.Read(ctx); err == nil {
				return errors.New("Read after the server handler panicked succeeded")
			}
			return nil
		}},
		{"read-deadline", func(ctx context.Context, c *client) error { // server's read deadline expires
			c.Write(ctx, websocket.MessageText, []byte(`{"event":"go"}`))
			if _, _, err := c.Read(ctx); err == nil {
				return errors.New("Read after the server's read deadline succeeded")
			}
			return nil
		}},
		{"echo", func(ctx context.Context, c *client) error { // client's Write times out waiting for the writer
			// websocket.Conn leaves the connection open after this error;
			// the wrapper must close it, or the gauge would count an open
			// connection as ended.
			wr, err := c.Writer(ctx, websocket.MessageText) // holds the writer
			if err != nil {
				return fmt.Errorf("Writer: %v", err)
			}
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if err := c.Write(short, websocket.MessageText, []byte(`{"event":"late"}`)); err == nil {
				return errors.New("Write while another writer is open succeeded before its deadline")
			}
			return endedAndClosed(c, func() error {
				wr.Write([]byte(`{"event":"held"}`))
				return wr.Close()
			})
		}},
		{"stream", func(ctx context.Context, c *client) error { // client calls Reader before finishing a message
			// The server echoes in 7-byte frames, so the first Reader
			// returns after the first frame; a second Reader fails with
			// "previous message not read to completion" and websocket.Conn
			// leaves the connection open.
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"event":"go","pad":"xxxxxxxx"}`)); err != nil {
				return fmt.Errorf("Write: %v", err)
			}
			_, rd, err := c.Reader(ctx)
			if err != nil {
				return fmt.Errorf("Reader: %v", err)
			}
			if _, _, err := c.Reader(ctx); err == nil {
				return errors.New("a second Reader before the first message was read succeeded")
			}
			return endedAndClosed(c, func() error {
				_, err := io.ReadAll(rd)
				return err
			})
		}},
	}
	const perEnding = 8
	n := perEnding * len(endings)
	s := newWSServer(t)
	crec := newRecorder()
	ctr := NewTracker(pushSink{crec}, nil) // the client side exercises pushed gauges
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var ready, finished sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		e := endings[i%len(endings)]
		topic := fmt.Sprintf("video:%d", i)
		ready.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			c := dial(ctx, t, s, ctr, topic, e.mode)
			if c == nil {
				ready.Done()
				return
			}
			defer c.done()
			err := c.Write(ctx, websocket.MessageText, []byte(`{"event":"hello"}`))
			if err == nil {
				_, _, err = c.Read(ctx)
			}
			ready.Done()
			if err != nil {
				t.Errorf("%s #%d: first echo: %v", e.mode, i, err)
				return
			}
			<-start
			if err := e.end(ctx, c); err != nil {
				t.Errorf("%s #%d: %v", e.mode, i, err)
			}
		}()
	}
	ready.Wait()
	if got := s.rec.gauge("websocket.connections{channel=video}"); got != float64(n) {
		t.Errorf("server gauge with %d connections open = %v", n, got)
	}
	if got := crec.gauge("websocket.connections{channel=video}"); got != float64(n) {
		t.Errorf("client gauge with %d connections open = %v", n, got)
	}
	close(start)
	finished.Wait()
	s.handlers.Wait()

	// CloseRead's context ends on a goroutine of its own: give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for s.tracker.Connections("video") != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, side := range []struct {
		name string
		rec  *recorder
	}{{"server", s.rec}, {"client", crec}} {
		if got := side.rec.gauge("websocket.connections{channel=video}"); got != 0 {
			t.Errorf("%s gauge after every connection ended = %v, want 0", side.name, got)
		}
		if got := side.rec.duration("websocket.connection.duration{channel=video}"); got != n {
			t.Errorf("%s durations = %d, want %d (one per connection)", side.name, got, n)
		}
	}
	if got := s.tracker.leaked.Load(); got != 0 {
		t.Errorf("server connections closed only by the garbage collector = %d, want 0", got)
	}
	if got := ctr.leaked.Load(); got != 0 {
		t.Errorf("client connections closed only by the garbage collector = %d, want 0", got)
	}
	if got := len(s.panics); got != perEnding {
		t.Errorf("handler panics = %d, want %d", got, perEnding)
	}
}

// endedAndClosed checks that after an error the tracked connection has
// ended and the connection is closed: use, a further use of it, must fail.
func endedAndClosed(c *client, use func() error) error {
	if !c.Handle().s.closed.Load() {
		return errors.New("the tracked connection did not end after the error")
	}
	if err := use(); err == nil {
		return errors.New("the connection still works after the error ended its tracking: the gauge would count it as closed while it is open")
	}
	return nil
}

func TestHostileClientEventsCapped(t *testing.T) {
	s := newWSServer(t)
	ctx := context.Background()
	c := dial(ctx, t, s, NewTracker(nil, nil), "video:1", "echo")
	if c == nil {
		return
	}
	defer c.done()
	const n = 10000
	go func() { // drain the echoes
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	for i := range n {
		if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"event":"e%d"}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	s.handlers.Wait()
	got := s.rec.labelValues("websocket.messages", "event")
	if len(got) > DefaultMaxEvents+1 {
		t.Errorf("%d distinct client events gave %d label values, want at most %d", n, len(got), DefaultMaxEvents+1)
	}
	var total float64
	for _, v := range got {
		total += v
	}
	if total < n { // n in; the echoes out that were written before the close
		t.Errorf("messages counted = %v, want at least %d", total, n)
	}
}

func TestStreamedReadErrorEndsConnection(t *testing.T) {
	s := newWSServer(t)
	ctx := context.Background()
	c := dial(ctx, t, s, NewTracker(nil, nil), "video:1", "read-limit")
	if c == nil {
		return
	}
	defer c.done()
	c.Write(ctx, websocket.MessageText, []byte(`{"event":"hello"}`))
	c.Read(ctx)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"event":"too_big","body":"`+strings.Repeat("x", 100)+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("client Read after sending too big a message: %v, want close status %v", err, websocket.StatusMessageTooBig)
	}
	s.handlers.Wait()
	if got := s.rec.counter("websocket.messages{channel=video,event=too_big,direction=in}"); got != 0 {
		t.Errorf("messages over the read limit counted = %v, want 0", got)
	}
	// hello (17 bytes) and the part of the big message read before the limit.
	if got := s.rec.counter("websocket.message.bytes{channel=video,direction=in}"); got <= 17 || got > 17+11 {
		t.Errorf("bytes in = %v, want 17 plus at most the 11 bytes read up to the limit", got)
	}
	if got := s.rec.gauge("websocket.connections{channel=video}"); got != 0 {
		t.Errorf("gauge = %v, want 0", got)
	}
	if got := s.rec.duration("websocket.connection.duration{channel=video}"); got != 1 {
		t.Errorf("durations = %d, want 1", got)
	}
}

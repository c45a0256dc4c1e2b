package wsmetrics

import (
	"context"
	"errors"
	"go.opentelemetry.io/otel/trace"
	"io"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// prefixLen is how much of a streamed message the event reader sees.
const prefixLen = 512

// WrappedConn is a github.com/coder/websocket connection whose messages and
// lifetime are recorded by a Tracker. It has the methods of
// *websocket.Conn; Read, Write, Reader and Writer count messages and bytes
// as they pass, so the application never calls the Tracker itself.
//
// The connection is counted as open from Wrap until the first of:
//   - Close or CloseNow (call one of them, typically deferred, on every
//     connection: that is what keeps the gauge right when the handler
//     returns early or panics; both are idempotent);
//   - an error from Read, Reader, Write, Writer or a streamed message,
//     context expiry included: such an error closes the connection;
//   - the end of the context returned by CloseRead.
//
// Whatever the order, the gauge goes down exactly once, and it counts only
// connections that are open. A WrappedConn that becomes unreachable before
// any of these is ended by the garbage collector as a last resort, with a
// warning (see Conn).
//
// websocket.Conn documents that any error closes the connection, but some
// leave it open: a context that ends while waiting for another Reader or
// Writer to finish, Reader called before the previous message was read to
// the end, a misbehaving peer. After an error that does not already say
// the connection is closed or closing (net.ErrClosed, a close frame
// received), WrappedConn closes it with CloseNow before returning the
// error, so that an error always ends the connection. That CloseNow
// returns at once, except while a Close on another goroutine is in its
// close handshake, which it then waits for (bounded by the handshake's
// own timeouts, five seconds each way).
//
// Messages sent or received through the *websocket.Conn returned by Unwrap
// (wsjson, websocket.NetConn) are not counted; count them with
// Handle().Message if needed. Like *websocket.Conn, all methods may be called
// concurrently except Reader and Read.
type WrappedConn struct {
	c    *websocket.Conn
	h    *Conn
	link trace.Link // to the request that opened it, when traced
}

// Wrap starts tracking c, opened on channel, in t. The caller must call
// Close or CloseNow on the result when done with it.
func Wrap(t *Tracker, c *websocket.Conn, channel string) *WrappedConn {
	return &WrappedConn{c: c, h: t.Open(channel)}
}

// Accept is websocket.Accept followed by Wrap. On error no connection is
// tracked (websocket.Accept has already written an HTTP error response).
//
//	wc, err := wsmetrics.Accept(w, r, nil, tracker, r.PathValue("topic"))
//	if err != nil {
//		return
//	}
//	defer wc.CloseNow()
func Accept(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions, t *Tracker, channel string) (*WrappedConn, error) {
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	wc := &WrappedConn{c: c, h: t.OpenContext(r.Context(), channel)}
	wc.upgraded(r)
	return wc, nil
}

// Unwrap returns the underlying connection. Traffic through it directly is
// not counted.
func (w *WrappedConn) Unwrap() *websocket.Conn { return w.c }

// Handle returns the Tracker handle of the connection, to record messages
// that do not pass through w.
func (w *WrappedConn) Handle() *Conn { return w.h }

// Read reads one message, as websocket.Conn.Read, and counts it with its
// event and size. An error closes the connection and ends the tracked
// connection.
func (w *WrappedConn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, p, err := w.c.Read(ctx)
	if err != nil {
		w.fail(err)
		return typ, p, err
	}
	ev := w.h.s.message(In, typ == websocket.MessageBinary, p, len(p))
	if w.h.s.t.traceMsgs {
		w.traceReceived(ctx, ev, len(p))
	}
	return typ, p, nil
}

// Write writes one message, as websocket.Conn.Write, and counts it when it
// was written. An error closes the connection and ends the tracked
// connection.
func (w *WrappedConn) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if err := w.c.Write(ctx, typ, p); err != nil {
		w.fail(err)
		return err
	}
	w.h.s.message(Out, typ == websocket.MessageBinary, p, len(p))
	return nil
}

// Reader returns a reader for the next message, as websocket.Conn.Reader.
// The message is counted when it has been read to io.EOF, its event taken
// from its first 512 bytes. An error, from Reader or from reading the
// message, closes the connection and ends the tracked connection (the
// bytes read before it are counted).
func (w *WrappedConn) Reader(ctx context.Context) (websocket.MessageType, io.Reader, error) {
	typ, r, err := w.c.Reader(ctx)
	if err != nil {
		w.fail(err)
		return typ, r, err
	}
	return typ, &messageReader{r: r, streamed: streamed{w: w, binary: typ == websocket.MessageBinary}}, nil
}

// Writer returns a writer for one message, as websocket.Conn.Writer. The
// message is counted when the writer is closed without error, its event
// taken from its first 512 bytes. An error, from Writer or from writing or
// closing the message, closes the connection and ends the tracked
// connection (the bytes written before it are counted).
func (w *WrappedConn) Writer(ctx context.Context, typ websocket.MessageType) (io.WriteCloser, error) {
	wr, err := w.c.Writer(ctx, typ)
	if err != nil {
		w.fail(err)
		return nil, err
	}
	return &messageWriter{w: wr, streamed: streamed{w: w, binary: typ == websocket.MessageBinary}}, nil
}

// fail closes the connection after err, unless err says it is already
// closed or closing, and ends the tracked connection. Closing first keeps
// the gauge from ever counting an open connection as ended.
func (w *WrappedConn) fail(err error) {
	if !errors.Is(err, net.ErrClosed) && websocket.CloseStatus(err) == -1 {
		w.c.CloseNow()
	}
	w.h.s.close()
}

// Close closes the connection with a close handshake, as
// websocket.Conn.Close, and ends the tracked connection (once, even if the
// handshake fails).
func (w *WrappedConn) Close(code websocket.StatusCode, reason string) error {
	defer w.h.s.close()
	return w.c.Close(code, reason)
}

// CloseNow closes the connection without a handshake, as
// websocket.Conn.CloseNow, and ends the tracked connection (once). It is
// the call to defer on every connection.
func (w *WrappedConn) CloseNow() error {
	defer w.h.s.close()
	return w.c.CloseNow()
}

// CloseRead is websocket.Conn.CloseRead; the tracked connection ends when
// the returned context does, that is when the connection is closed.
func (w *WrappedConn) CloseRead(ctx context.Context) context.Context {
	ctx = w.c.CloseRead(ctx)
	// The callback holds the handle, not only its state, so that the handle
	// stays reachable (and is not closed by the collector) for as long as
	// the connection's read goroutine runs, even if the caller drops w.
	h := w.h
	context.AfterFunc(ctx, h.Close)
	return ctx
}

// Ping is websocket.Conn.Ping.
func (w *WrappedConn) Ping(ctx context.Context) error { return w.c.Ping(ctx) }

// SetReadLimit is websocket.Conn.SetReadLimit.
func (w *WrappedConn) SetReadLimit(n int64) { w.c.SetReadLimit(n) }

// Subprotocol is websocket.Conn.Subprotocol.
func (w *WrappedConn) Subprotocol() string { return w.c.Subprotocol() }

// streamed keeps what is needed to count a message read or written in parts.
type streamed struct {
	w      *WrappedConn
	binary bool
	done   bool
	n      int
	np     int
	prefix [prefixLen]byte
}

func (m *streamed) add(p []byte) {
	m.n += len(p)
	if m.np < len(m.prefix) {
		m.np += copy(m.prefix[m.np:], p)
	}
}

// finish counts the message when err is nil, else its bytes so far and
// the end of the connection. Only the first call does anything.
func (m *streamed) finish(dir Direction, err error) {
	if m.done {
		return
	}
	m.done = true
	s := m.w.h.s
	if err == nil {
		s.message(dir, m.binary, m.prefix[:m.np], m.n)
		return
	}
	s.bytes(dir.index(), m.n)
	m.w.fail(err)
}

type messageReader struct {
	r io.Reader
	streamed
}

func (m *messageReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		m.add(p[:n])
	}
	switch {
	case err == io.EOF:
		m.finish(In, nil)
	case err != nil:
		m.finish(In, err)
	}
	return n, err
}

type messageWriter struct {
	w io.WriteCloser
	streamed
}

func (m *messageWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if n > 0 {
		m.add(p[:n])
	}
	if err != nil {
		m.finish(Out, err)
	}
	return n, err
}

func (m *messageWriter) Close() error {
	err := m.w.Close()
	m.finish(Out, err)
	return err
}

package benchmarks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
	"github.com/realtimeserver/observability/wsmetrics"
)

// wsMessage is the 100-byte text message of BenchmarkWS, a JSON object with
// an "event" field as a realtime server would send.
var wsMessage = func() []byte {
	head, tail := `{"event":"new_comment","payload":{"body":"`, `"}}`
	return []byte(head + strings.Repeat("x", 100-len(head)-len(tail)) + tail)
}()

// wsConn is the part of *websocket.Conn and *wsmetrics.WrappedConn the
// benchmark uses.
type wsConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	CloseNow() error
}

// BenchmarkWS measures one round trip of a 100-byte text message between a
// github.com/coder/websocket client and an echo server over a real TCP
// loopback connection (httptest on 127.0.0.1): the client writes, the server
// reads and writes it back, the client reads.
//
//   - bare: *websocket.Conn at both ends.
//   - ours: both ends wrapped by wsmetrics (Accept on the server, Wrap on the
//     client) with one Tracker recording into a metricsink.Prometheus
//     registry, so each round trip counts four messages (two in, two out),
//     their bytes and their event read from the JSON.
func BenchmarkWS(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		benchWS(b, nil)
	})
	b.Run("ours", func(b *testing.B) {
		sink, err := prometheus.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		tracker := wsmetrics.NewTracker(sink, nil)
		defer tracker.Close()
		benchWS(b, tracker)
	})
}

func benchWS(b *testing.B, tracker *wsmetrics.Tracker) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c wsConn
		if tracker == nil {
			wc, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			c = wc
		} else {
			wc, err := wsmetrics.Accept(w, r, nil, tracker, "video:42")
			if err != nil {
				return
			}
			c = wc
		}
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, p) != nil {
				return
			}
		}
	}))
	defer srv.Close()

	raw, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	var c wsConn = raw
	if tracker != nil {
		c = wsmetrics.Wrap(tracker, raw, "video:42")
	}
	defer c.CloseNow()

	b.ReportAllocs()
	b.SetBytes(int64(len(wsMessage)))
	b.ResetTimer()
	for range b.N {
		if err := c.Write(ctx, websocket.MessageText, wsMessage); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWSMessage isolates what BenchmarkWS/ours adds per message: one
// Conn.MessageData call (event read from the JSON, label lookups, two
// counter increments), into metricsink.Discard (the baseline: the tracker's
// own work) and into a metricsink.Prometheus registry. A BenchmarkWS round
// trip records four messages.
func BenchmarkWSMessage(b *testing.B) {
	prom, err := prometheus.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, row := range []struct {
		name string
		sink metricsink.Sink
	}{{"discard", metricsink.Discard}, {"prometheus", prom}} {
		b.Run(row.name, func(b *testing.B) {
			tracker := wsmetrics.NewTracker(row.sink, nil)
			defer tracker.Close()
			c := tracker.Open("video:42")
			defer c.Close()
			b.ReportAllocs()
			for range b.N {
				c.MessageData(wsmetrics.In, false, wsMessage)
			}
		})
	}
}

package datadog

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHandle measures what a caller pays per record: Handle on a
// Handler whose sender ships to a local intake, beside slog's JSON handler
// writing to io.Discard, and the encoding alone. Run it with
// go test -run '^$' -bench Handle -benchmem ./handler/datadog
func BenchmarkHandle(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "message", 0)
	r.AddAttrs(slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three"))
	ctx := context.Background()
	b.Run("slog-json", func(b *testing.B) {
		h := slog.NewJSONHandler(io.Discard, nil)
		b.ReportAllocs()
		for b.Loop() {
			h.Handle(ctx, r)
		}
	})
	b.Run("datadog", func(b *testing.B) {
		// An intake that only reads the body, so that the figure is the
		// handler's and not a test server's.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		}))
		defer srv.Close()
		h, err := New(&Options{APIKey: testKey, URL: srv.URL, Hostname: "h", Service: "s"})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close(ctx)
		b.ReportAllocs()
		for b.Loop() {
			h.Handle(ctx, r)
		}
	})
	b.Run("datadog-encode", func(b *testing.B) {
		in := newIntake(b)
		h, _ := newTestHandler(b, in, Options{})
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf = h.entry(buf[:0], r) // the budget pass and the encoding, as Handle does
		}
	})
}

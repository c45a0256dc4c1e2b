package livedash

import (
	"io"
	"log/slog"
	"testing"

	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/internal/hostile"
)

// ringCheck runs the hostile corpus through a Ring (behind wrap), then
// writes what the ring kept as the Logs page receives it, one JSON line a
// record, for the corpus's checks.
func ringCheck(t *testing.T, wrap func(slog.Handler) slog.Handler, redacts bool) {
	var ring *Ring
	var out io.Writer
	hostile.Check(t, hostile.Options{
		New: func(w io.Writer) slog.Handler {
			ring, out = NewRing(keepAll(nil)), w
			return wrap(ring)
		},
		JSON:    true,
		Redacts: redacts,
		Flush: func() {
			for _, e := range ring.st.entries(0, 0) {
				out.Write(append(appendLog(nil, &e), '\n'))
			}
		},
	})
}

func TestRingHostile(t *testing.T) {
	ringCheck(t, func(h slog.Handler) slog.Handler { return h }, false)
}

// Behind Redact, as Setup places it, no secret reaches the ring.
func TestRingHostileBehindRedact(t *testing.T) {
	ringCheck(t, func(h slog.Handler) slog.Handler { return handler.Redact(h, nil) }, true)
}

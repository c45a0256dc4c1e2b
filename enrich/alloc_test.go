//go:build !race

package enrich

import (
	"context"
	"log/slog"
	"testing"
)

// nop is a handler that reads every attribute and allocates nothing, so
// that the budgets measure New's handler alone.
type nop struct{ records, attrs int }

func (n *nop) Enabled(context.Context, slog.Level) bool { return true }
func (n *nop) Handle(_ context.Context, r slog.Record) error {
	n.records++
	r.Attrs(func(slog.Attr) bool { n.attrs++; return true })
	return nil
}
func (n *nop) WithAttrs([]slog.Attr) slog.Handler { return n }
func (n *nop) WithGroup(string) slog.Handler      { return n }

// TestAllocs holds the per-record allocation budgets. The race detector
// allocates on its own, hence the build tag.
func TestAllocs(t *testing.T) {
	trace := []slog.Attr{slog.String("trace_id", "abc")}
	withTrace := fixed
	withTrace.Extractors = []Extractor{func(ctx context.Context) []slog.Attr {
		if ctx.Value(traceKey{}) != nil {
			return trace
		}
		return nil
	}}
	bg := context.Background()
	spanCtx, _ := spanContext(t)
	full := context.WithValue(WithAttrs(WithRequestID(bg, "r"), slog.Int("user_id", 7)), traceKey{}, true)
	tests := []struct {
		name string
		opts Options
		ctx  context.Context
		args []any
	}{
		{"empty context", fixed, bg, []any{"a", 1, "b", 2, "c", "three"}},
		{"empty context, extractor", withTrace, bg, []any{"a", 1, "b", 2, "c", "three"}},
		{"request id, attrs and trace, five in all", withTrace, full, []any{"a", 1, "b", 2}},
		{"span", fixed, spanCtx, []any{"a", 1, "b", 2}},
		{"span and request id", fixed, WithRequestID(spanCtx, "r"), []any{"a", 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &nop{}
			l := slog.New(New(n, &tt.opts))
			if got := testing.AllocsPerRun(100, func() { l.InfoContext(tt.ctx, "m", tt.args...) }); got != 0 {
				t.Errorf("%v allocations per record, want 0", got)
			}
			if n.records == 0 || n.attrs == 0 {
				t.Fatal("the handler saw nothing: the budget measured nothing")
			}
		})
	}
}

// sinkCtx keeps the contexts that TestWithRequestIDAllocs makes alive, so
// that they escape as a request's context does.
var sinkCtx context.Context

// TestWithRequestIDAllocs holds adding a request id to one allocation: the
// context node that carries it; and none with a Scope that the caller
// allocated.
func TestWithRequestIDAllocs(t *testing.T) {
	bg := context.Background()
	got := testing.AllocsPerRun(100, func() { sinkCtx = WithRequestID(bg, "r") })
	if got != 1 {
		t.Errorf("WithRequestID allocates %v times, want 1", got)
	}
	var s Scope
	got = testing.AllocsPerRun(100, func() { s = Scope{}; sinkCtx = s.WithRequestID(bg, "r") })
	if got != 0 {
		t.Errorf("Scope.WithRequestID allocates %v times, want 0", got)
	}
	if RequestID(sinkCtx) != "r" {
		t.Errorf("RequestID = %q, want r", RequestID(sinkCtx))
	}
}

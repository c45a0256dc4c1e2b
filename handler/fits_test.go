package handler

import (
	"cmp"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/budget"
	"github.com/realtimeserver/observability/internal/hostile"
)

// TestFitsAgreesWithRecord checks the fast path of Console against the
// budget itself: a record that fits must be one that Limiter.Record would
// return unchanged, and the plain records of the benchmark must fit, so
// that the fast path is taken at all.
func TestFitsAgreesWithRecord(t *testing.T) {
	b := Budget{MaxAttrs: 4, MaxValueBytes: 8, MaxRecordBytes: 24}
	lim := budget.New(b, nil)
	b = lim.Budget()
	rec := func(msg string, attrs ...slog.Attr) slog.Record {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
		r.AddAttrs(attrs...)
		return r
	}
	tests := []struct {
		name string
		r    slog.Record
		want bool
	}{
		{"scalars", rec("m", slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three")), true},
		{"every scalar kind", rec("", slog.Uint64("u", 1), slog.Float64("f", 1.5), slog.Bool("b", true), slog.Duration("d", time.Second)), true},
		{"time", rec("", slog.Time("t", time.Now())), true},
		{"no attributes", rec("message"), true},
		{"string at MaxValueBytes", rec("", slog.String("s", strings.Repeat("x", 8))), true},
		{"string past MaxValueBytes", rec("", slog.String("s", strings.Repeat("x", 9))), false},
		{"key past MaxValueBytes", rec("", slog.Int(strings.Repeat("k", 9), 1)), false},
		{"message past MaxValueBytes", rec(strings.Repeat("m", 9)), false},
		{"record at MaxRecordBytes", rec("mmmmmmmm", slog.String("a", "1234567"), slog.String("b", "1234567")), true},
		{"record past MaxRecordBytes", rec("mmmmmmmm", slog.String("a", "1234567"), slog.String("bb", "1234567")), false},
		{"attributes past MaxAttrs", rec("", slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5)), false},
		{"group", rec("", slog.Group("g", slog.Int("a", 1))), false},
		{"any", rec("", slog.Any("x", map[string]any{"a": 1})), false},
		{"any scalar", rec("", slog.Any("x", 1)), true}, // slog stores it as an Int64
		{"nil", rec("", slog.Any("x", nil)), false},
		{"LogValuer", rec("", slog.Any("x", logValuerFunc(func() slog.Value { return slog.IntValue(1) }))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fits(&tt.r, &b)
			if got != tt.want {
				t.Errorf("fits = %v, want %v", got, tt.want)
			}
			if _, changed := lim.Record(tt.r, 0, false); got && changed {
				t.Errorf("fits, but Record rewrites the record")
			}
		})
	}
	// Whatever fits in the hostile corpus must need nothing from Record,
	// under the default budget and under a small one.
	for _, lim := range []*budget.Limiter{budget.New(Budget{}, nil), lim} {
		b := lim.Budget()
		for _, c := range hostile.Cases() {
			r := rec(cmp.Or(c.Message, "hostile"), c.Attrs...)
			if !fits(&r, &b) {
				continue
			}
			if _, changed := lim.Record(r, 0, false); changed {
				t.Errorf("%s (budget %+v): fits, but Record rewrites the record", c.Name, b)
			}
		}
	}
}

type logValuerFunc func() slog.Value

func (f logValuerFunc) LogValue() slog.Value { return f() }

package dbmetrics

import (
	"context"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// BenchmarkRecord is the work added to each query, without the database:
// reading the cached statement, timing it and recording into a sink.
func BenchmarkRecord(b *testing.B) {
	prom, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct {
		name string
		sink metricsink.Sink
	}{{"discard", metricsink.Discard}, {"prometheus", prom}} {
		b.Run(s.name, func(b *testing.B) {
			in := newInstrument(&Options{Sink: s.sink, SlowThreshold: -1})
			ctx := context.Background()
			const q = "SELECT id, video_id, body FROM comments WHERE id = ?"
			b.ReportAllocs()
			for b.Loop() {
				c := in.begin(ctx, in.info(q))
				in.end(ctx, &c, nil)
			}
		})
	}
}

// BenchmarkReadSQL is the cost of reading a statement that is not cached.
func BenchmarkReadSQL(b *testing.B) {
	const q = `WITH recent AS (SELECT id FROM videos WHERE created_at > $1)
		SELECT c.id, c.body, c.user_id FROM "public"."comments" c JOIN recent r ON r.id = c.video_id WHERE c.id > $2 ORDER BY c.id LIMIT 50`
	b.ReportAllocs()
	for b.Loop() {
		readSQL(q)
	}
}

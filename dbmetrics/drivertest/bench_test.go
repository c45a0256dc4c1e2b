package drivertest

import (
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// BenchmarkGet is a point select through sqlx's Get on in-memory SQLite,
// plain and measured into a Prometheus sink.
func BenchmarkGet(b *testing.B) {
	for _, measured := range []bool{false, true} {
		name := "sqlx"
		if measured {
			name = "ours"
		}
		b.Run(name, func(b *testing.B) {
			var db *sqlx.DB
			var err error
			if measured {
				prom, perr := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
				if perr != nil {
					b.Fatal(perr)
				}
				db, err = dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{Sink: prom, SlowThreshold: -1})
			} else {
				db, err = sqlx.Open("sqlite", ":memory:")
			}
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			db.MustExec(schemaSQLite)
			db.MustExec("INSERT INTO comments (id, video_id, body) VALUES (1, 1, 'x')")
			var c comment
			b.ReportAllocs()
			for b.Loop() {
				if err := db.Get(&c, "SELECT * FROM comments WHERE id = ?", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

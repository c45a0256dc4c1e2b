package benchmarks

import (
	"log/slog"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// BenchmarkDB reads one row by primary key from an in-memory SQLite
// database through sqlx's Get: plain sqlx, and sqlx opened by dbmetrics
// recording into the Prometheus sink (duration histogram, query counter,
// pool gauges registered, slow-query check on). Same schema, rows and statement; one
// connection, so the in-memory database stays the same.
func BenchmarkDB(b *testing.B) {
	const rows = 1000
	const query = "SELECT id, video_id, body FROM comments WHERE id = ?"
	type comment struct {
		ID      int64  `db:"id"`
		VideoID int64  `db:"video_id"`
		Body    string `db:"body"`
	}
	prepare := func(b *testing.B, db *sqlx.DB) {
		b.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.MustExec("CREATE TABLE comments (id INTEGER PRIMARY KEY, video_id INTEGER NOT NULL, body TEXT NOT NULL)")
		tx := db.MustBegin()
		for i := 1; i <= rows; i++ {
			tx.MustExec("INSERT INTO comments (id, video_id, body) VALUES (?, ?, ?)", i, i%10, "a comment of moderate length")
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, db *sqlx.DB) {
		var c comment
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := db.Get(&c, query, i%rows+1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("sqlx", func(b *testing.B) {
		db, err := sqlx.Open("sqlite", ":memory:")
		if err != nil {
			b.Fatal(err)
		}
		prepare(b, db)
		run(b, db)
	})
	b.Run("ours", func(b *testing.B) {
		sink, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
		if err != nil {
			b.Fatal(err)
		}
		// The default slow-query threshold stays on; its warnings, which a
		// loaded machine can trigger, go nowhere.
		quiet := slog.New(slog.DiscardHandler)
		db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{Sink: sink, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		prepare(b, db)
		run(b, db)
	})
}

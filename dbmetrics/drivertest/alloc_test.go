//go:build !race

package drivertest

import (
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/metricsink"
)

// TestAllocs holds the cost of measuring a point select to no allocation
// beyond plain sqlx, once the statement is cached: the rows wrapper is the
// connection's own. The sink is Discard: what a sink allocates is its own
// budget.
func TestAllocs(t *testing.T) {
	open := func(measured bool) *sqlx.DB {
		var db *sqlx.DB
		var err error
		if measured {
			db, err = dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{Sink: metricsink.Discard, NoPoolMetrics: true, SlowThreshold: -1})
		} else {
			db, err = sqlx.Open("sqlite", ":memory:")
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		db.MustExec(schemaSQLite)
		db.MustExec("INSERT INTO comments (id, video_id, body) VALUES (1, 1, 'x')")
		return db
	}
	get := func(db *sqlx.DB) float64 {
		var c comment
		return testing.AllocsPerRun(200, func() {
			if err := db.Get(&c, "SELECT * FROM comments WHERE id = ?", 1); err != nil {
				t.Fatal(err)
			}
		})
	}
	plain := get(open(false))
	ours := get(open(true))
	if ours > plain {
		t.Errorf("Get allocates %v times plain and %v measured; want no more", plain, ours)
	}
}

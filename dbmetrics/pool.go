package dbmetrics

import (
	"database/sql"

	"github.com/realtimeserver/observability/metricsink"
)

// registerPool registers the pool gauges and counters of db on sink, read
// from db.Stats() at collection time, and returns the function that
// unregisters them all. On a sink that is not a FuncSink it does nothing.
func registerPool(sink metricsink.Sink, db *sql.DB, name string) func() {
	tags := metricsink.KV("db", name)
	gauges := []struct {
		name string
		f    func(s sql.DBStats) float64
	}{
		{"db.pool.max_open_connections", func(s sql.DBStats) float64 { return float64(s.MaxOpenConnections) }},
		{"db.pool.open_connections", func(s sql.DBStats) float64 { return float64(s.OpenConnections) }},
		{"db.pool.in_use_connections", func(s sql.DBStats) float64 { return float64(s.InUse) }},
		{"db.pool.idle_connections", func(s sql.DBStats) float64 { return float64(s.Idle) }},
	}
	counters := []struct {
		name string
		f    func(s sql.DBStats) float64
	}{
		{"db.pool.waits", func(s sql.DBStats) float64 { return float64(s.WaitCount) }},
		{"db.pool.wait_seconds", func(s sql.DBStats) float64 { return s.WaitDuration.Seconds() }},
		{"db.pool.closed_max_idle", func(s sql.DBStats) float64 { return float64(s.MaxIdleClosed) }},
		{"db.pool.closed_max_idle_time", func(s sql.DBStats) float64 { return float64(s.MaxIdleTimeClosed) }},
		{"db.pool.closed_max_lifetime", func(s sql.DBStats) float64 { return float64(s.MaxLifetimeClosed) }},
	}
	var undo []func()
	for _, g := range gauges {
		f := g.f
		u, ok := metricsink.GaugeFunc(sink, g.name, tags, func() float64 { return f(db.Stats()) })
		if !ok {
			return func() {}
		}
		undo = append(undo, u)
	}
	for _, c := range counters {
		f := c.f
		u, _ := metricsink.CounterFunc(sink, c.name, tags, func() float64 { return f(db.Stats()) })
		undo = append(undo, u)
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

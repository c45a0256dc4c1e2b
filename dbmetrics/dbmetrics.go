package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/internal/secret"
	"github.com/realtimeserver/observability/metricsink"
)

// Defaults of Options.
const (
	DefaultSlowThreshold = 100 * time.Millisecond
	DefaultMaxSQLLength  = 200
)

// Options configures the instrumentation. A nil or zero Options consists
// entirely of default values, and every value of every field is valid.
// The caller's Options is copied, never written to or kept.
type Options struct {
	// Sink receives db.query.duration, db.queries and db.query.errors,
	// tagged source and operation. When it is a metricsink.FuncSink it also
	// gets the pool gauges (db.pool.*), tagged db. Nil means metricsink.Discard.
	Sink metricsink.Sink

	// Logger receives the slow-query warnings. Nil means slog.Default(),
	// read at the time of each warning.
	Logger *slog.Logger

	// SlowThreshold is the duration above which a query is logged at warn
	// with its source, operation, duration and shortened SQL (never its
	// arguments). Zero means DefaultSlowThreshold (100 ms); negative turns
	// the slow-query log off.
	SlowThreshold time.Duration

	// MaxSQLLength is the most runes of SQL a slow-query warning shows,
	// white space collapsed, cut with "…". Zero means DefaultMaxSQLLength
	// (200); negative leaves the SQL out of the warning.
	MaxSQLLength int

	// DBName is the value of the db tag of the pool gauges. Empty means the
	// driver name. Give each database on one sink its own name.
	DBName string

	// TracerProvider makes a client span per statement (see the package
	// documentation). Default: the global provider, otel.GetTracerProvider,
	// looked up at each statement; while no program has installed one, no
	// span is made and the only cost is that look-up.
	TracerProvider trace.TracerProvider

	// System is the db.system.name of the spans ("postgresql", "sqlite").
	// Default: derived from the driver name given to Open or OpenConnector
	// (pgx and postgres: postgresql; sqlite and sqlite3: sqlite; mysql),
	// else "other_sql".
	System string

	// NoPoolMetrics turns the pool gauges off. By default Open and
	// OpenConnector register them (when the sink is a FuncSink) and the
	// database's Close unregisters them.
	NoPoolMetrics bool
}

// Open opens a database like sqlx.Open, with every query measured: it
// looks up the driver registered as driverName (import the driver package
// for its side effect, as with database/sql), wraps it and returns the
// *sqlx.DB. driverName also sets sqlx's placeholder style ("pgx" binds $1,
// "sqlite" and "sqlite3" bind ?).
//
// Like sql.Open it does not connect; use PingContext to check the DSN
// reaches a server. It returns sql.Open's error for an unknown driver or a
// DSN the driver rejects up front.
//
// No part of the DSN's password of four characters or more appears in the
// errors of Open or of connecting (PingContext, a query that opens a
// connection), whatever characters it holds and however the driver quoted
// or misread it. Open reads the password from the DSN every way a driver
// may have (URL userinfo and query, libpq's key=value form) and removes
// each run of four characters or more of it from those errors, which then
// keep their errors.Is chain but not their errors.As one. Errors of
// statements on an open connection are the driver's own, unchanged.
func Open(driverName, dsn string, opts *Options) (*sqlx.DB, error) {
	scrub := secret.New(nil, secret.DSNPasswords(dsn))
	probe, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("dbmetrics: %w", scrub.Err(err))
	}
	d := probe.Driver()
	if err := probe.Close(); err != nil {
		return nil, fmt.Errorf("dbmetrics: %w", scrub.Err(err))
	}
	var c driver.Connector
	if dc, ok := d.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, fmt.Errorf("dbmetrics: %w", scrub.Err(err))
		}
	} else {
		c = dsnConnector{dsn: dsn, d: d}
	}
	return openConnector(c, driverName, opts, scrub), nil
}

// OpenConnector is Open for a driver.Connector, such as pgx's
// stdlib.GetConnector(config) or one holding credentials that rotate.
// driverName only chooses sqlx's placeholder style (sqlx.BindType).
// The database's Close closes c when c implements io.Closer, as
// sql.OpenDB's would, and unregisters the pool gauges. A connector holds no
// DSN, so its connection errors are its own: give it a configuration
// parsed from fields (a password set as a field is never misread), or use
// Open, which removes the DSN's password from them.
func OpenConnector(c driver.Connector, driverName string, opts *Options) *sqlx.DB {
	return openConnector(c, driverName, opts, nil)
}

// openConnector is OpenConnector with the scrubber of the connection
// errors (nil: none).
func openConnector(c driver.Connector, driverName string, opts *Options, scrub *secret.Scrubber) *sqlx.DB {
	in := newInstrument(opts)
	if in.system == "other_sql" {
		in.system = dbSystem(driverName)
	}
	wc := &connector{inner: c, in: in, scrub: scrub}
	wc.drv = &wrappedDriver{inner: c.Driver(), in: in}
	db := sql.OpenDB(wc)
	if opts == nil || !opts.NoPoolMetrics {
		name := driverName
		if opts != nil && opts.DBName != "" {
			name = opts.DBName
		}
		wc.unregister = registerPool(in.sink, db, name)
	}
	return sqlx.NewDb(db, driverName)
}

// WrapDriver returns d with every query measured, for code that needs a
// driver to register under a name of its own:
//
//	sql.Register("sqlite-measured", dbmetrics.WrapDriver(&sqlite.Driver{}, opts))
//
// A driver has no *sql.DB, so WrapDriver reports no pool gauges; prefer
// Open or OpenConnector. The returned driver implements
// driver.DriverContext whether d does or not, and removes the password of
// the DSN it is given from its connection errors, as Open does.
func WrapDriver(d driver.Driver, opts *Options) driver.Driver {
	return &wrappedDriver{inner: d, in: newInstrument(opts)}
}

type sourceKey struct{}

// WithSource returns a copy of ctx under which every query reports source
// instead of the table read from its SQL. Use it where the SQL names no
// useful table (a join, a function, a CTE): a transaction started under it
// reports it for begin, commit and rollback too. An empty source returns
// ctx itself. Sources count toward MaxSources like any other.
func WithSource(ctx context.Context, source string) context.Context {
	if source == "" {
		return ctx
	}
	return context.WithValue(ctx, sourceKey{}, source)
}

func sourceFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

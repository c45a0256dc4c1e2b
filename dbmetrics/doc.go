// Package dbmetrics measures every query a *sqlx.DB runs, at the
// database/sql driver level, so that Get, Select, NamedExec, transactions
// and prepared statements are all measured with no change to the code that
// issues them.
//
// Open a database through it instead of sqlx.Open:
//
//	db, err := dbmetrics.Open("sqlite", "file:app.db", &dbmetrics.Options{Sink: sink})
//	// or, for pgx: dbmetrics.OpenConnector(stdlib.GetConnector(*cfg), "pgx", opts)
//	err = db.GetContext(ctx, &c, "SELECT * FROM comments WHERE id = ?", id)
//
// # Metrics
//
// Every query, exec, begin, commit and rollback records into the Sink:
//
//	db.query.duration  Duration   source, operation  (db_query_duration_seconds)
//	db.queries         Increment  source, operation  (db_queries_total)
//	db.query.errors    Increment  source, operation  (db_query_errors_total)
//
// A query's time runs from the call until its rows are closed, so it
// includes reading the rows. An exec's time ends when it returns. Errors
// leave out sql.ErrNoRows and driver.ErrSkip (database/sql's signal to
// prepare the statement instead; the prepared run is measured once). A
// query whose context ends before its rows were read to the end counts as
// an error.
//
// operation is the SQL verb: select, insert (also REPLACE and UPSERT),
// update, delete, begin, commit, rollback, or other (DDL, PRAGMA, anything
// unread). WITH ... and leading comments and parentheses are skipped.
//
// source is the main table: after FROM for a select, INTO for an insert,
// UPDATE, DELETE FROM; schema and quotes removed, in lower case
// ("public"."Comments" is comments). It is "none" for a statement without
// a table (SELECT 1, and begin, commit, rollback) and "unknown" when the
// statement cannot be read. WithSource sets it for the queries of one
// context, and for the transaction begun with it.
//
// Labels stay bounded whatever SQL the application builds: a database
// reports at most MaxSources distinct sources (later ones are "other"),
// table names longer than 63 bytes or with characters other than ASCII
// letters, digits and underscores are "unknown", and it keeps the reading
// of at most MaxCachedStatements texts of at most MaxCachedSQLLen bytes
// (others are read again each time, which costs well under a microsecond
// for a statement of ordinary length).
//
// The reading of a text is remembered by the address and length of its
// bytes as well as by its content, which relies on Go strings being
// immutable. SQL strings must therefore not alias memory that is later
// reused for other bytes, such as unsafe.String over a pooled []byte: a
// new statement in the same bytes would be reported with the source and
// operation of the old one. string(b) and strings.Builder are safe.
//
// When the Sink is a metricsink.FuncSink (the Prometheus sink is), the
// pool statistics of sql.DBStats are read at each scrape, tagged db:
// db.pool.max_open_connections, open_connections, in_use_connections,
// idle_connections (gauges), db.pool.waits, wait_seconds, closed_max_idle,
// closed_max_idle_time, closed_max_lifetime (counters). The database's
// Close unregisters them.
//
// # Slow queries
//
// A query slower than Options.SlowThreshold (100 ms by default) is logged
// at warn with source, operation, duration and the SQL, white space
// collapsed and cut to Options.MaxSQLLength runes. Argument values are
// never logged. The record is logged with the query's context, so a
// handler from the enrich package adds the request id.
//
// # Drivers
//
// The driver's optional interfaces keep working through the wrapper:
// context methods, NamedValueChecker (pgx's own argument types),
// SessionResetter, Validator, Pinger, ColumnConverter, RowsNextResultSet
// and RowsColumnType*. database/sql sees the same behaviour as with the
// bare driver; see driver.go for how. sql.Conn.Raw receives the wrapper;
// its Unwrap method returns the driver's own connection.
package dbmetrics

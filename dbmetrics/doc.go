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
// operation is the SQL verb: select (also VALUES), insert (also REPLACE
// and UPSERT), update, delete, begin, commit, rollback, the DDL verbs
// create, alter, drop and truncate, or other (PRAGMA, SET, EXPLAIN, VACUUM,
// anything unread). Leading comments and parentheses are skipped, and so is
// WITH ...: the verb is the main statement's.
//
// source is the main table: after FROM (or, when that names no table,
// the first JOIN) for a select, INTO for an insert, UPDATE, DELETE FROM;
// for DDL the table created, altered, dropped or truncated, and for an
// index, trigger, rule or policy the table after ON (CREATE TABLE IF NOT
// EXISTS comments … and CREATE INDEX … ON comments are both create on
// comments). Schema and quotes are removed, in lower case
// ("public"."Comments" is comments). A common table expression's name is
// never a source: a statement that reads one has the source of the table
// the expression reads or writes (WITH recent AS (SELECT … FROM comments)
// SELECT … FROM recent is a select on comments), recursive ones included;
// one that reads no table is "none". It is "none" for a statement without
// a table (SELECT 1, begin, commit, rollback, DDL on schemas, functions,
// types or an index dropped by name) and "unknown" when the statement
// cannot be read (operation other, a table name that is not a plain
// identifier, WITH nested more than four deep, or more than 32 common table
// expressions). WithSource sets it for the queries of one context, and for
// the transaction begun with it.
//
// Labels stay bounded whatever SQL the application builds: a database
// reports at most MaxSources distinct sources (later ones are "other"),
// table names longer than 63 bytes or with characters other than ASCII
// letters, digits and underscores are "unknown", and it keeps the reading
// of at most MaxCachedStatements texts of at most MaxCachedSQLLen bytes
// (others are read again each time, which costs well under a microsecond
// for a statement of ordinary length).
//
// A statement whose reading is kept also keeps handles of its series
// (metricsink.NewTimer, NewCounter), so that recording it looks nothing up
// in the Sink. The metrics are declared on the Sink, with help text (see
// Descs).
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
//
// # Passwords
//
// No part of the password in the DSN given to Open (or to a driver from
// WrapDriver) of four characters or more appears in the errors of opening
// and connecting, whatever characters it holds and however the driver
// quoted or misread it: a password with an '@' or '/' that was not
// percent-encoded, for one, ends up in pgx's host or database name. Such an
// error keeps its errors.Is chain but not its errors.As one, whose values
// hold the password. See Open.
//
// # Tracing
//
// When a TracerProvider is set (Options.TracerProvider, or the global one
// that a program, or observability.Setup, installs) every statement,
// begin, commit and rollback is a client span, a child of the span in the
// query's context, through the OpenTelemetry API only. It is named by
// operation and table ("SELECT comments") and carries db.system.name (and
// the older db.system), db.operation.name, db.collection.name (the source
// the metrics report, when it is a table), db.namespace (Options.DBName)
// and db.query.text: the SQL shortened as in the slow-query log, never
// the arguments (Options.MaxSQLLength below zero leaves it out). A query's
// span lasts until its rows are closed, so reading them is inside it; a
// failure is recorded on the span as an exception with status Error. With
// no provider set no span is made: the cost is one look-up of the global
// provider per statement.
package dbmetrics

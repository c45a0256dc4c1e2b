// Package drivertest runs package dbmetrics against real database drivers:
// SQLite (modernc.org/sqlite, in a temporary file or in memory) and
// PostgreSQL through pgx (at OBSERVABILITY_TEST_POSTGRES_URL, skipped with a
// message when it is unset unless OBSERVABILITY_REQUIRE_INTEGRATION=1).
//
// It is a module of its own so that the drivers stay out of the module
// graph of programs that import dbmetrics: they choose their driver, and
// only this module's tests need both. It holds tests and examples only.
package drivertest

package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
)

// The narrow driver is SQLite with every optional interface hidden: the
// shape of an old driver. database/sql then prepares every statement and
// uses the legacy Exec and Query. A narrow connection can also check named
// values, turning a point into text, to test NamedValueChecker forwarding.

type narrowDriver struct {
	inner  driver.Driver
	nvc    bool
	legacy bool // the connection has the legacy Execer and Queryer (and checks named values)
}

type narrowConn struct{ inner driver.Conn }
type narrowCheckerConn struct{ narrowConn }
type legacyConn struct{ narrowCheckerConn }
type narrowStmt struct{ inner driver.Stmt }
type narrowRows struct{ inner driver.Rows }
type ccStmt struct{ narrowStmt }

type point struct{ X, Y int }

// cancelArg is an argument whose check by the connection's
// NamedValueChecker cancels the query's context, and which then stands for
// v: a context that ends after database/sql has taken a connection but
// before the driver runs the query.
type cancelArg struct {
	cancel context.CancelFunc
	v      any
}

func (d narrowDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	switch {
	case d.legacy:
		return legacyConn{narrowCheckerConn{narrowConn{c}}}, nil
	case d.nvc:
		return narrowCheckerConn{narrowConn{c}}, nil
	}
	return narrowConn{c}, nil
}

func (c narrowConn) Prepare(q string) (driver.Stmt, error) {
	s, err := c.inner.Prepare(q)
	if err != nil {
		return nil, err
	}
	return narrowStmt{s}, nil
}
func (c narrowConn) Close() error              { return c.inner.Close() }
func (c narrowConn) Begin() (driver.Tx, error) { return c.inner.Begin() } //nolint:staticcheck

func (c narrowCheckerConn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case point:
		nv.Value = fmt.Sprintf("(%d,%d)", v.X, v.Y)
		return nil
	case cancelArg:
		v.cancel()
		nv.Value = v.v
		return nil
	}
	return driver.ErrSkip
}

func (c legacyConn) Exec(q string, args []driver.Value) (driver.Result, error) {
	return c.inner.(driver.Execer).Exec(q, args) //nolint:staticcheck
}

func (c legacyConn) Query(q string, args []driver.Value) (driver.Rows, error) {
	r, err := c.inner.(driver.Queryer).Query(q, args) //nolint:staticcheck
	if err != nil {
		return nil, err
	}
	return narrowRows{r}, nil
}

func (s narrowStmt) Close() error  { return s.inner.Close() }
func (s narrowStmt) NumInput() int { return s.inner.NumInput() }
func (s narrowStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.inner.Exec(args) //nolint:staticcheck
}
func (s narrowStmt) Query(args []driver.Value) (driver.Rows, error) {
	r, err := s.inner.Query(args) //nolint:staticcheck
	if err != nil {
		return nil, err
	}
	return narrowRows{r}, nil
}

func (ccStmt) ColumnConverter(int) driver.ValueConverter { return driver.DefaultParameterConverter }

func (r narrowRows) Columns() []string              { return r.inner.Columns() }
func (r narrowRows) Close() error                   { return r.inner.Close() }
func (r narrowRows) Next(dest []driver.Value) error { return r.inner.Next(dest) }

var registerNarrow = sync.OnceFunc(func() {
	sql.Register("sqlite-narrow", narrowDriver{inner: &sqlite.Driver{}})
	sql.Register("sqlite-narrow-nvc", narrowDriver{inner: &sqlite.Driver{}, nvc: true})
	sql.Register("sqlite-narrow-legacy", narrowDriver{inner: &sqlite.Driver{}, legacy: true})
	sql.Register("sqlite-measured", WrapDriver(narrowDriver{inner: &sqlite.Driver{}}, &Options{Sink: wrapDriverSink}))
})

var wrapDriverSink = newRecSink()

func TestNarrowDriver(t *testing.T) {
	registerNarrow()
	for _, name := range []string{"sqlite-narrow", "sqlite-narrow-nvc"} {
		t.Run(name, func(t *testing.T) {
			rec := newRecSink()
			db, err := Open(name, filepath.Join(t.TempDir(), "n.db"), &Options{Sink: rec, SlowThreshold: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.MustExec(schemaSQLite)
			db.MustExec("INSERT INTO comments (video_id, body) VALUES (?, ?)", 1, "a")
			var c comment
			if err := db.Get(&c, "SELECT * FROM comments WHERE video_id = ?", 1); err != nil {
				t.Fatal(err)
			}
			tx := db.MustBegin()
			tx.MustExec("UPDATE comments SET body = ?", "b")
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true}); err == nil ||
				!strings.Contains(err.Error(), "read-only") {
				t.Errorf("read-only BeginTx on a driver without ConnBeginTx: %v; want database/sql's error", err)
			}
			for _, k := range []struct{ source, op string }{
				{"comments", OpCreate}, {"comments", OpInsert}, {"comments", OpSelect}, {"comments", OpUpdate},
				{SourceNone, OpBegin}, {SourceNone, OpCommit},
			} {
				wantCount(t, k.source+"/"+k.op+" (once, not again for driver.ErrSkip)", rec.queries(k.source, k.op), 1)
			}
			wantCount(t, "errors", rec.total(metricErrors), 0)

			rows, err := db.Query("SELECT id FROM comments")
			if err != nil {
				t.Fatal(err)
			}
			cts, _ := rows.ColumnTypes()
			if got := cts[0].ScanType(); got != reflect.TypeFor[any]() {
				t.Errorf("ScanType without RowsColumnTypeScanType = %v; want interface {}", got)
			}
			if _, ok := cts[0].Length(); ok {
				t.Error("Length reports ok without RowsColumnTypeLength")
			}
			if rows.NextResultSet() {
				t.Error("NextResultSet = true without RowsNextResultSet")
			}
			rows.Close()

			// Named values: the checking connection turns a point into
			// text; without it database/sql's default conversion refuses it.
			_, err = db.Exec("INSERT INTO comments (video_id, body) VALUES (?, ?)", 2, point{1, 2})
			if name == "sqlite-narrow-nvc" {
				if err != nil {
					t.Fatalf("insert of a point through the connection's NamedValueChecker: %v", err)
				}
				var body string
				db.Get(&body, "SELECT body FROM comments WHERE video_id = 2")
				if body != "(1,2)" {
					t.Errorf("stored point = %q; want %q", body, "(1,2)")
				}
			} else if err == nil || !strings.Contains(err.Error(), "unsupported type") {
				t.Errorf("insert of a point without a NamedValueChecker: %v; want database/sql's unsupported type error", err)
			}
		})
	}
}

// TestNarrowFallbackErrorsCounted checks that the queries the fallbacks for
// drivers without context methods refuse, for a named parameter or a
// context that has already ended, are counted as queries and as errors, on
// the connection (legacy Execer and Queryer) and on prepared statements.
func TestNarrowFallbackErrorsCounted(t *testing.T) {
	registerNarrow()
	const (
		insert = "INSERT INTO comments (video_id, body) VALUES (?, ?)"
		sel    = "SELECT body FROM comments WHERE video_id = ? AND body = ?"
	)
	type run func(ctx context.Context, db *sqlx.DB, q string, args ...any) error
	exec := func(ctx context.Context, db *sqlx.DB, q string, args ...any) error {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	query := func(ctx context.Context, db *sqlx.DB, q string, args ...any) error {
		rows, err := db.QueryContext(ctx, q, args...)
		if err == nil {
			rows.Close()
		}
		return err
	}
	prepared := func(r func(*sql.Stmt, context.Context, ...any) error) run {
		return func(ctx context.Context, db *sqlx.DB, q string, args ...any) error {
			st, err := db.PrepareContext(context.Background(), q)
			if err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			defer st.Close()
			return r(st, ctx, args...)
		}
	}
	stmtExec := prepared(func(st *sql.Stmt, ctx context.Context, args ...any) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	})
	stmtQuery := prepared(func(st *sql.Stmt, ctx context.Context, args ...any) error {
		rows, err := st.QueryContext(ctx, args...)
		if err == nil {
			rows.Close()
		}
		return err
	})
	tests := []struct {
		name   string
		driver string // sqlite-narrow-legacy: conn.ExecContext/QueryContext fall back; sqlite-narrow-nvc: the statement's
		run    run
		q, op  string
		named  bool // a named parameter, else a context that ends before the query runs
		want   string
	}{
		{"conn exec named", "sqlite-narrow-legacy", exec, insert, OpInsert, true, "Named Parameters"},
		{"conn exec ended context", "sqlite-narrow-legacy", exec, insert, OpInsert, false, "context canceled"},
		{"conn query named", "sqlite-narrow-legacy", query, sel, OpSelect, true, "Named Parameters"},
		{"conn query ended context", "sqlite-narrow-legacy", query, sel, OpSelect, false, "context canceled"},
		{"stmt exec named", "sqlite-narrow-nvc", exec, insert, OpInsert, true, "Named Parameters"},
		{"stmt exec ended context", "sqlite-narrow-nvc", stmtExec, insert, OpInsert, false, "context canceled"},
		{"stmt query named", "sqlite-narrow-nvc", query, sel, OpSelect, true, "Named Parameters"},
		{"stmt query ended context", "sqlite-narrow-nvc", stmtQuery, sel, OpSelect, false, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecSink()
			db, err := Open(tt.driver, filepath.Join(t.TempDir(), "f.db"), &Options{Sink: rec, SlowThreshold: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.MustExec(schemaSQLite)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var first any = sql.Named("video_id", 1)
			if !tt.named {
				first = cancelArg{cancel: cancel, v: 1}
			}
			err = tt.run(ctx, db, tt.q, first, "a")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v; want one containing %q", err, tt.want)
			}
			wantCount(t, "comments/"+tt.op+" queries", rec.queries("comments", tt.op), 1)
			wantCount(t, "comments/"+tt.op+" errors", rec.errors("comments", tt.op), 1)
			if got := len(rec.durs("comments", tt.op)); got != 1 {
				t.Errorf("comments/%s durations = %d; want 1", tt.op, got)
			}
		})
	}
}

func TestWrapDriver(t *testing.T) {
	registerNarrow()
	// The driver is registered once per process; its sink outlives a run.
	wrapDriverSink.Reset()
	db, err := sql.Open("sqlite-measured", filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(schemaSQLite); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM comments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	wantCount(t, "comments/select through a registered WrapDriver", wrapDriverSink.queries("comments", OpSelect), 1)
}

func TestStmtColumnConverterPresence(t *testing.T) {
	c := wrapConn(narrowConn{}, newInstrument(nil))
	if _, ok := wrapStmt(narrowStmt{}, c, "SELECT 1").(driver.ColumnConverter); ok { //nolint:staticcheck
		t.Error("statement without ColumnConverter wrapped as one with it")
	}
	if _, ok := wrapStmt(ccStmt{}, c, "SELECT 1").(driver.ColumnConverter); !ok { //nolint:staticcheck
		t.Error("statement with ColumnConverter wrapped as one without it")
	}
}

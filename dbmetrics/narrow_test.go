package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/realtimeserver/observability/dbmetrics/internal/dbtest"
)

// The narrow driver has exactly the methods database/sql requires of a
// driver, its connections, statements and rows, and none of the optional
// interfaces: the shape of an old driver. database/sql then prepares every
// statement and uses the statements' legacy Exec and Query. Two variants
// add to the connection a NamedValueChecker (turning a point into text,
// to test its forwarding) and, besides it, the legacy Execer and Queryer.
//
// It runs no SQL, since what is tested is the wrapping: an exec affects one
// row, a query returns one row holding its first argument (or 1) in a
// column named v, and every statement run is recorded, with the arguments
// the driver received, in the log of its DSN.
type narrowDriver struct {
	nvc    bool
	legacy bool
}

// stmtLog records the statements run on the connections of one DSN.
type stmtLog struct {
	mu   sync.Mutex
	runs []stmtRun
}

type stmtRun struct {
	sql  string
	args []driver.Value
}

var stmtLogs sync.Map // DSN -> *stmtLog

// logOf returns the log of the statements run on connections to dsn.
func logOf(dsn string) *stmtLog {
	l, _ := stmtLogs.LoadOrStore(dsn, &stmtLog{})
	return l.(*stmtLog)
}

func (l *stmtLog) add(q string, args []driver.Value) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, stmtRun{q, append([]driver.Value(nil), args...)})
}

// args returns the arguments of every run of q.
func (l *stmtLog) args(q string) [][]driver.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]driver.Value
	for _, r := range l.runs {
		if r.sql == q {
			out = append(out, r.args)
		}
	}
	return out
}

type narrowConn struct{ log *stmtLog }
type narrowCheckerConn struct{ narrowConn }
type legacyConn struct{ narrowCheckerConn }
type narrowStmt struct {
	log *stmtLog
	sql string
}
type ccStmt struct{ narrowStmt }
type narrowTx struct{}
type narrowRows struct {
	v    driver.Value
	done bool
}

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
	c := narrowConn{logOf(name)}
	switch {
	case d.legacy:
		return legacyConn{narrowCheckerConn{c}}, nil
	case d.nvc:
		return narrowCheckerConn{c}, nil
	}
	return c, nil
}

func (c narrowConn) Prepare(q string) (driver.Stmt, error) { return narrowStmt{c.log, q}, nil }
func (c narrowConn) Close() error                          { return nil }
func (c narrowConn) Begin() (driver.Tx, error)             { return narrowTx{}, nil }

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
	return narrowStmt{c.log, q}.Exec(args)
}

func (c legacyConn) Query(q string, args []driver.Value) (driver.Rows, error) {
	return narrowStmt{c.log, q}.Query(args)
}

func (s narrowStmt) Close() error  { return nil }
func (s narrowStmt) NumInput() int { return strings.Count(s.sql, "?") }
func (s narrowStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.log.add(s.sql, args)
	return driver.RowsAffected(1), nil
}
func (s narrowStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.log.add(s.sql, args)
	r := &narrowRows{v: int64(1)}
	if len(args) > 0 {
		r.v = args[0]
	}
	return r, nil
}

func (ccStmt) ColumnConverter(int) driver.ValueConverter { return driver.DefaultParameterConverter }

func (narrowTx) Commit() error   { return nil }
func (narrowTx) Rollback() error { return nil }

func (r *narrowRows) Columns() []string { return []string{"v"} }
func (r *narrowRows) Close() error      { return nil }
func (r *narrowRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = r.v
	return nil
}

var registerNarrow = sync.OnceFunc(func() {
	sql.Register("dbmetrics-narrow", narrowDriver{})
	sql.Register("dbmetrics-narrow-nvc", narrowDriver{nvc: true})
	sql.Register("dbmetrics-narrow-legacy", narrowDriver{legacy: true})
	sql.Register("dbmetrics-measured", WrapDriver(narrowDriver{}, &Options{Sink: wrapDriverSink}))
})

var wrapDriverSink = dbtest.NewRecorder()

const schema = `CREATE TABLE comments (id INTEGER PRIMARY KEY, video_id INTEGER NOT NULL, body TEXT NOT NULL UNIQUE)`

func TestNarrowDriver(t *testing.T) {
	registerNarrow()
	for _, name := range []string{"dbmetrics-narrow", "dbmetrics-narrow-nvc"} {
		t.Run(name, func(t *testing.T) {
			rec := dbtest.NewRecorder()
			db, err := Open(name, t.Name(), &Options{Sink: rec, SlowThreshold: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.MustExec(schema)
			db.MustExec("INSERT INTO comments (video_id, body) VALUES (?, ?)", 1, "a")
			var v int64
			if err := db.Get(&v, "SELECT video_id FROM comments WHERE video_id = ?", 1); err != nil || v != 1 {
				t.Fatalf("Get = %d, %v; want 1 (the driver's row) through the wrapper", v, err)
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
				dbtest.WantCount(t, k.source+"/"+k.op+" (once, not again for driver.ErrSkip)", rec.Queries(k.source, k.op), 1)
			}
			dbtest.WantCount(t, "errors", rec.Total(metricErrors), 0)

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
			if got := cts[0].DatabaseTypeName(); got != "" {
				t.Errorf("DatabaseTypeName without RowsColumnTypeDatabaseTypeName = %q; want empty", got)
			}
			if rows.NextResultSet() {
				t.Error("NextResultSet = true without RowsNextResultSet")
			}
			rows.Close()

			// Named values: the checking connection turns a point into
			// text; without it database/sql's default conversion refuses it.
			const ins = "INSERT INTO comments (video_id, body) VALUES (?, ?)"
			_, err = db.Exec(ins, 2, point{1, 2})
			if name == "dbmetrics-narrow-nvc" {
				if err != nil {
					t.Fatalf("insert of a point through the connection's NamedValueChecker: %v", err)
				}
				runs := logOf(t.Name()).args(ins)
				if got := fmt.Sprint(runs[len(runs)-1]); got != "[2 (1,2)]" {
					t.Errorf("the driver received %s; want [2 (1,2)], the point as the checker turned it", got)
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
// the connection (legacy Execer and Queryer) and on prepared statements,
// and never reach the driver.
func TestNarrowFallbackErrorsCounted(t *testing.T) {
	registerNarrow()
	const (
		insert = "INSERT INTO comments (video_id, body) VALUES (?, ?)"
		sel    = "SELECT body FROM comments WHERE video_id = ? AND body = ?"
	)
	type run func(ctx context.Context, db *sql.DB, q string, args ...any) error
	exec := func(ctx context.Context, db *sql.DB, q string, args ...any) error {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	query := func(ctx context.Context, db *sql.DB, q string, args ...any) error {
		rows, err := db.QueryContext(ctx, q, args...)
		if err == nil {
			rows.Close()
		}
		return err
	}
	prepared := func(r func(*sql.Stmt, context.Context, ...any) error) run {
		return func(ctx context.Context, db *sql.DB, q string, args ...any) error {
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
		driver string // dbmetrics-narrow-legacy: conn.ExecContext/QueryContext fall back; dbmetrics-narrow-nvc: the statement's
		run    run
		q, op  string
		named  bool // a named parameter, else a context that ends before the query runs
		want   string
	}{
		{"conn exec named", "dbmetrics-narrow-legacy", exec, insert, OpInsert, true, "Named Parameters"},
		{"conn exec ended context", "dbmetrics-narrow-legacy", exec, insert, OpInsert, false, "context canceled"},
		{"conn query named", "dbmetrics-narrow-legacy", query, sel, OpSelect, true, "Named Parameters"},
		{"conn query ended context", "dbmetrics-narrow-legacy", query, sel, OpSelect, false, "context canceled"},
		{"stmt exec named", "dbmetrics-narrow-nvc", exec, insert, OpInsert, true, "Named Parameters"},
		{"stmt exec ended context", "dbmetrics-narrow-nvc", stmtExec, insert, OpInsert, false, "context canceled"},
		{"stmt query named", "dbmetrics-narrow-nvc", query, sel, OpSelect, true, "Named Parameters"},
		{"stmt query ended context", "dbmetrics-narrow-nvc", stmtQuery, sel, OpSelect, false, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := dbtest.NewRecorder()
			db, err := Open(tt.driver, t.Name(), &Options{Sink: rec, SlowThreshold: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var first any = sql.Named("video_id", 1)
			if !tt.named {
				first = cancelArg{cancel: cancel, v: 1}
			}
			err = tt.run(ctx, db.DB, tt.q, first, "a")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v; want one containing %q", err, tt.want)
			}
			dbtest.WantCount(t, "comments/"+tt.op+" queries", rec.Queries("comments", tt.op), 1)
			dbtest.WantCount(t, "comments/"+tt.op+" errors", rec.Errors("comments", tt.op), 1)
			if got := len(rec.Durations("comments", tt.op)); got != 1 {
				t.Errorf("comments/%s durations = %d; want 1", tt.op, got)
			}
			if runs := logOf(t.Name()).args(tt.q); len(runs) != 0 {
				t.Errorf("the driver ran the refused statement: %v", runs)
			}
		})
	}
}

func TestWrapDriver(t *testing.T) {
	registerNarrow()
	// The driver is registered once per process; its sink outlives a run.
	wrapDriverSink.Reset()
	db, err := sql.Open("dbmetrics-measured", t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM comments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	dbtest.WantCount(t, "comments/select through a registered WrapDriver", wrapDriverSink.Queries("comments", OpSelect), 1)
	dbtest.WantCount(t, "comments/create through a registered WrapDriver", wrapDriverSink.Queries("comments", OpCreate), 1)
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

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

	"modernc.org/sqlite"
)

// The narrow driver is SQLite with every optional interface hidden: the
// shape of an old driver. database/sql then prepares every statement and
// uses the legacy Exec and Query. A narrow connection can also check named
// values, turning a point into text, to test NamedValueChecker forwarding.

type narrowDriver struct {
	inner driver.Driver
	nvc   bool
}

type narrowConn struct{ inner driver.Conn }
type narrowCheckerConn struct{ narrowConn }
type narrowStmt struct{ inner driver.Stmt }
type narrowRows struct{ inner driver.Rows }
type ccStmt struct{ narrowStmt }

type point struct{ X, Y int }

func (d narrowDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	if d.nvc {
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
	if p, ok := nv.Value.(point); ok {
		nv.Value = fmt.Sprintf("(%d,%d)", p.X, p.Y)
		return nil
	}
	return driver.ErrSkip
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
				{SourceUnknown, OpOther}, {"comments", OpInsert}, {"comments", OpSelect}, {"comments", OpUpdate},
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

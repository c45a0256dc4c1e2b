package drivertest

import (
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/dbmetrics/internal/dbtest"
	_ "modernc.org/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type comment struct {
	ID      int64  `db:"id"`
	VideoID int64  `db:"video_id"`
	Body    string `db:"body"`
}

const schemaSQLite = `CREATE TABLE comments (id INTEGER PRIMARY KEY, video_id INTEGER NOT NULL, body TEXT NOT NULL UNIQUE)`

// openSQLite opens a measured SQLite database in a fresh file, with the
// comments table created, and a sink that records into rec.
func openSQLite(t *testing.T, opts *dbmetrics.Options) (*sqlx.DB, *dbtest.Recorder) {
	t.Helper()
	rec := dbtest.NewRecorder()
	o := dbmetrics.Options{}
	if opts != nil {
		o = *opts
	}
	o.Sink = rec
	dsn := "file:" + filepath.Join(t.TempDir(), "test.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	db, err := dbmetrics.Open("sqlite", dsn, &o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schemaSQLite); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return db, rec
}

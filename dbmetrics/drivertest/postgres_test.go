package drivertest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/dbmetrics/internal/dbtest"
	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// openPostgres opens a measured PostgreSQL database through the pgx stdlib
// driver, in a schema of its own that is dropped when the test ends.
func openPostgres(t *testing.T, opts *dbmetrics.Options, viaConnector bool) (*sqlx.DB, *dbtest.Recorder, string) {
	t.Helper()
	url := testenv.PostgresURL(t)
	rec := dbtest.NewRecorder()
	o := dbmetrics.Options{}
	if opts != nil {
		o = *opts
	}
	o.Sink = rec
	var db *sqlx.DB
	if viaConnector {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		db = dbmetrics.OpenConnector(stdlib.GetConnector(*cfg), "pgx", &o)
	} else {
		var err error
		if db, err = dbmetrics.Open("pgx", url, &o); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Missing(t, "PostgreSQL at "+testenv.PostgresVar, err.Error())
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "dbmetrics_" + hex.EncodeToString(b[:])
	db.MustExec("CREATE SCHEMA " + schema)
	db.MustExec("CREATE TABLE " + schema + ".comments (id bigserial PRIMARY KEY, video_id bigint NOT NULL, body text NOT NULL UNIQUE, tags int4[])")
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	return db, rec, schema
}

func TestPostgres(t *testing.T) {
	db, rec, schema := openPostgres(t, &dbmetrics.Options{SlowThreshold: -1}, false)
	ctx := context.Background()
	table := schema + ".comments"

	if _, err := db.NamedExecContext(ctx, "INSERT INTO "+table+" (video_id, body) VALUES (:video_id, :body)",
		comment{VideoID: 1, Body: "first"}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.GetContext(ctx, &id, "INSERT INTO "+table+" (video_id, body) VALUES ($1, $2) RETURNING id", 1, "second"); err != nil {
		t.Fatal(err)
	}
	dbtest.WantCount(t, "comments/insert", rec.Queries("comments", dbmetrics.OpInsert), 2)

	var c comment
	if err := db.GetContext(ctx, &c, "SELECT id, video_id, body FROM "+table+" WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	var cs []comment
	if err := db.SelectContext(ctx, &cs, "SELECT id, video_id, body FROM "+table+" ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	nrows, err := db.NamedQueryContext(ctx, "SELECT id FROM "+table+" WHERE video_id = :v", map[string]any{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	for nrows.Next() {
	}
	nrows.Close()
	if len(cs) != 2 || c.Body != "second" {
		t.Errorf("Select gave %d rows, Get gave %q; want 2 and %q", len(cs), c.Body, "second")
	}
	dbtest.WantCount(t, "comments/select", rec.Queries("comments", dbmetrics.OpSelect), 3)

	// Transactions, prepared statements.
	tx := db.MustBeginTx(ctx, nil)
	st, err := tx.PreparexContext(ctx, "UPDATE "+table+" SET body = $1 WHERE id = $2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecContext(ctx, "edited", id); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx = db.MustBeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true})
	tx.Rollback()
	dbtest.WantCount(t, "comments/update", rec.Queries("comments", dbmetrics.OpUpdate), 1)
	dbtest.WantCount(t, "none/begin", rec.Queries(dbmetrics.SourceNone, dbmetrics.OpBegin), 2)
	dbtest.WantCount(t, "none/commit", rec.Queries(dbmetrics.SourceNone, dbmetrics.OpCommit), 1)
	dbtest.WantCount(t, "none/rollback", rec.Queries(dbmetrics.SourceNone, dbmetrics.OpRollback), 1)

	// Errors: a constraint violation and a syntax error are counted;
	// sql.ErrNoRows is not.
	if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" (video_id, body) VALUES ($1, $2)", 1, "first"); err == nil {
		t.Error("duplicate body: no error")
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM "+table+" WHERE"); err == nil {
		t.Error("syntax error: no error")
	}
	if err := db.GetContext(ctx, &c, "SELECT id, video_id, body FROM "+table+" WHERE id = $1", -1); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("Get of a missing row: %v; want sql.ErrNoRows", err)
	}
	dbtest.WantCount(t, "comments/insert errors", rec.Errors("comments", dbmetrics.OpInsert), 1)
	dbtest.WantCount(t, "comments/delete errors", rec.Errors("comments", dbmetrics.OpDelete), 1)
	dbtest.WantCount(t, "comments/select errors", rec.Errors("comments", dbmetrics.OpSelect), 0)
	dbtest.WantCount(t, "comments/select", rec.Queries("comments", dbmetrics.OpSelect), 4)
}

// TestPostgresDriverTypes checks that pgx's own argument types still work
// through the wrapper: []int32 and pgtype values pass pgx's
// NamedValueChecker, which database/sql's default conversion would refuse.
func TestPostgresDriverTypes(t *testing.T) {
	for _, via := range []struct {
		name      string
		connector bool
	}{{"Open", false}, {"OpenConnector", true}} {
		t.Run(via.name, func(t *testing.T) {
			db, rec, schema := openPostgres(t, &dbmetrics.Options{SlowThreshold: -1}, via.connector)
			table := schema + ".comments"
			if _, err := db.Exec("INSERT INTO "+table+" (video_id, body, tags) VALUES ($1, $2, $3)",
				pgtype.Int8{Int64: 9, Valid: true}, "tagged", []int32{3, 1, 2}); err != nil {
				t.Fatalf("insert with pgtype.Int8 and []int32: %v", err)
			}
			var n int
			if err := db.Get(&n, "SELECT cardinality(tags) FROM "+table+" WHERE video_id = $1 AND $2 = ANY(tags)", 9, int32(2)); err != nil {
				t.Fatal(err)
			}
			if n != 3 {
				t.Errorf("cardinality(tags) = %d; want 3", n)
			}
			var tags pgtype.FlatArray[int32]
			if err := db.QueryRow("SELECT tags FROM "+table+" WHERE body = $1", "tagged").Scan(pgtype.NewMap().SQLScanner(&tags)); err != nil {
				t.Fatal(err)
			}
			if len(tags) != 3 || tags[0] != 3 {
				t.Errorf("tags = %v; want [3 1 2]", tags)
			}
			rows, err := db.Query("SELECT id, body FROM " + table)
			if err != nil {
				t.Fatal(err)
			}
			cts, _ := rows.ColumnTypes()
			rows.Close()
			if got := cts[0].DatabaseTypeName(); got != "INT8" {
				t.Errorf("DatabaseTypeName = %q; want INT8", got)
			}
			dbtest.WantCount(t, "comments/select", rec.Queries("comments", dbmetrics.OpSelect), 3)
			dbtest.WantCount(t, "errors", rec.Total(dbtest.MetricErrors), 0)

			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Raw(func(c any) error {
				pc, ok := c.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn)
				if !ok || pc.Conn() == nil {
					return errors.New("Unwrap did not give the *stdlib.Conn")
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPostgresSlowQueryAndPool(t *testing.T) {
	var buf testenv.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	db, rec, _ := openPostgres(t, &dbmetrics.Options{Logger: logger, SlowThreshold: 100 * time.Millisecond, DBName: "pg"}, false)
	db.SetMaxOpenConns(2)

	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := db.Exec("SELECT pg_sleep($1) WHERE $2 <> ''", 0.2, "secret-argument-value"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	out := buf.String()
	if got := strings.Count(out, "slow query"); got != 6 {
		t.Errorf("%d slow-query warnings; want 6:\n%s", got, out)
	}
	if !strings.Contains(out, `sql="SELECT pg_sleep($1) WHERE $2 <> ''"`) || !strings.Contains(out, "source=none operation=select") {
		t.Errorf("slow-query warning lacks the SQL or the tags:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("slow-query warning shows an argument:\n%s", out)
	}
	if w := rec.Read(t, metricsinktest.Counter, "db.pool.waits", "pg"); w < 1 {
		t.Errorf("pool waits = %v; want > 0 with six queries on two connections", w)
	}
	dbtest.WantCount(t, "max_open_connections", rec.Read(t, metricsinktest.Gauge, "db.pool.max_open_connections", "pg"), 2)
}

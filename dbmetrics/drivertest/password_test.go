package drivertest

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/internal/secret/secrettest"
	"github.com/realtimeserver/observability/internal/testenv"
)

// TestPostgresPasswordClosedPort connects through pgx, with each hostile
// password written into a DSN in each form, to 127.0.0.1 on a port where
// nothing listens: no part of the password is in the error or in a log
// record. It needs no server.
func TestPostgresPasswordClosedPort(t *testing.T) {
	checkPasswords(t, secrettest.Server{Host: "127.0.0.1", Port: strconv.Itoa(testenv.FreePort(t)), User: "obs", Database: "app",
		Params: url.Values{"sslmode": {"disable"}, "connect_timeout": {"5"}}})
}

// TestPostgresPasswordWrong connects to the PostgreSQL server of
// OBSERVABILITY_TEST_POSTGRES_URL, as its user, with each hostile password
// instead of the right one: the server refuses each, and no part of the
// password is in the error or in a log record.
func TestPostgresPasswordWrong(t *testing.T) {
	raw := testenv.PostgresURL(t)
	db, err := dbmetrics.Open("pgx", raw, &dbmetrics.Options{NoPoolMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = db.PingContext(ctx)
	db.Close()
	if err != nil {
		testenv.Missing(t, "PostgreSQL at "+testenv.PostgresVar, err.Error())
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", testenv.PostgresVar, err)
	}
	params := u.Query()
	params.Set("connect_timeout", "5")
	checkPasswords(t, secrettest.Server{Host: u.Hostname(), Port: u.Port(), User: u.User.Username(),
		Database: strings.TrimPrefix(u.Path, "/"), Params: params})
}

// checkPasswords opens and pings a database through dbmetrics.Open and
// pgx, for each hostile password in each DSN form pointing at srv, then
// logs the error as an application would; the connection must fail, and
// neither the error nor any log record may hold a part of the password.
func checkPasswords(t *testing.T, srv secrettest.Server) {
	for i, password := range secrettest.Passwords() {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			for _, d := range secrettest.DSNs(srv, password) {
				var logs testenv.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				err := connect(d.DSN, &dbmetrics.Options{Logger: logger, SlowThreshold: time.Nanosecond})
				if err == nil {
					t.Errorf("password %q, %s: connected", password, d.Name)
					continue
				}
				logger.Error("database unreachable", "err", err)
				if leaks := secrettest.Leaks(err.Error(), password); len(leaks) > 0 {
					t.Errorf("password %q, %s: the error holds %q:\n%v", password, d.Name, leaks, err)
				}
				if leaks, err := secrettest.LogLeaks(logs.String(), password); err != nil || len(leaks) > 0 {
					t.Errorf("password %q, %s: the log holds %q (%v):\n%s", password, d.Name, leaks, err, logs.String())
				}
				if testing.Verbose() {
					t.Logf("password %q, %s: %v", password, d.Name, err)
				}
			}
		})
	}
}

// connect opens dsn, pings it and runs a statement, and returns the first
// error, or nil when all three succeed.
func connect(dsn string, opts *dbmetrics.Options) error {
	db, err := dbmetrics.Open("pgx", dsn, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "SELECT 1")
	return err
}

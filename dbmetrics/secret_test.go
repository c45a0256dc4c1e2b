package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/secret/secrettest"
	"github.com/realtimeserver/observability/internal/testenv"
)

// errEcho is the cause of every error of echoDriver.
var errEcho = errors.New("connection refused")

// echoDriver fails every connection with an error that quotes its DSN as
// it is and Go-quoted, as a careless driver would; echoDriverContext
// refuses the DSN already in OpenConnector.
type echoDriver struct{}
type echoDriverContext struct{ echoDriver }

func echoError(dsn string) error {
	return fmt.Errorf("cannot connect with %s (%q): %w", dsn, dsn, errEcho)
}

func (echoDriver) Open(dsn string) (driver.Conn, error) { return nil, echoError(dsn) }
func (echoDriverContext) OpenConnector(dsn string) (driver.Connector, error) {
	return nil, echoError(dsn)
}

var registerEcho = sync.OnceFunc(func() {
	sql.Register("dbmetrics-echo", echoDriver{})
	sql.Register("dbmetrics-echo-context", echoDriverContext{})
	sql.Register("dbmetrics-echo-measured", WrapDriver(echoDriver{}, nil))
})

// TestOpenScrubsConnectionErrors opens, pings and queries through each
// entry point with a driver that echoes its DSN: the errors hold no part
// of the password, errors.Is still finds their cause, and no log record
// holds one either.
func TestOpenScrubsConnectionErrors(t *testing.T) {
	registerEcho()
	for _, password := range secrettest.Passwords() {
		for _, d := range secrettest.DSNs(secrettest.Unconnected(), password) {
			var logs testenv.Buffer
			opts := &Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				SlowThreshold: time.Nanosecond, NoPoolMetrics: true}
			var errs []error
			for _, name := range []string{"dbmetrics-echo", "dbmetrics-echo-context"} {
				db, err := Open(name, d.DSN, opts)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				errs = append(errs, db.PingContext(context.Background()))
				_, err = db.ExecContext(context.Background(), "SELECT 1")
				errs = append(errs, err)
				db.Close()
			}
			db, err := sql.Open("dbmetrics-echo-measured", d.DSN)
			if err != nil {
				t.Fatal(err)
			}
			errs = append(errs, db.Ping())
			db.Close()
			for _, err := range errs {
				opts.Logger.Error("database unreachable", "err", err) // as an application would
				if !errors.Is(err, errEcho) {
					t.Errorf("password %q, %s: error %v; want one whose errors.Is finds the driver's cause", password, d.Name, err)
					continue
				}
				if leaks := secrettest.Leaks(err.Error(), password); len(leaks) > 0 {
					t.Errorf("password %q, %s: error %q holds %q", password, d.Name, err, leaks)
				}
			}
			if leaks, err := secrettest.LogLeaks(logs.String(), password); err != nil || len(leaks) > 0 {
				t.Errorf("password %q, %s: log %s holds %q (%v)", password, d.Name, logs.String(), leaks, err)
			}
		}
	}
}

package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/secret/secrettest"
	"github.com/realtimeserver/observability/internal/testenv"
)

// TestRunErrorHoldsNoPartOfThePassword runs the demo without telemetry
// (the database opened by sqlx alone) against a PostgreSQL URL that points
// where nothing listens, for each hostile password written into the URL
// as it is, percent-encoded and as a query parameter: the error run
// returns, and everything it printed, hold no part of the password.
func TestRunErrorHoldsNoPartOfThePassword(t *testing.T) {
	srv := secrettest.Server{Host: "127.0.0.1", Port: strconv.Itoa(testenv.FreePort(t)), User: "obs", Database: "app",
		Params: url.Values{"sslmode": {"disable"}, "connect_timeout": {"5"}}}
	for _, password := range secrettest.Passwords() {
		for _, d := range secrettest.DSNs(srv, password) {
			if !strings.HasPrefix(d.DSN, "postgres://") {
				continue // the demo takes URLs only
			}
			env := map[string]string{"DATABASE_URL": d.DSN, "PORT": "0", "LOG_LEVEL": "debug"}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var out testenv.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := run(ctx, []string{"-telemetry=false"}, lookup, &out, &out)
			cancel()
			if err == nil {
				t.Errorf("password %q, %s: the demo started without its database", password, d.Name)
				continue
			}
			if leaks := secrettest.Leaks(err.Error(), password); len(leaks) > 0 {
				t.Errorf("password %q, %s: run's error holds %q:\n%v", password, d.Name, leaks, err)
			}
			if leaks := secrettest.Leaks(out.String(), password); len(leaks) > 0 {
				t.Errorf("password %q, %s: the output holds %q:\n%s", password, d.Name, leaks, out.String())
			}
		}
	}
}

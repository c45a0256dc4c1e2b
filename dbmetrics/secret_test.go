package dbmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/dbmetrics/internal/dbtest"
	"github.com/realtimeserver/observability/internal/testenv"
)

// server is where the DSNs of these tests point; nothing connects to it.
var server = dbtest.Server{Host: "127.0.0.1", Port: "5432", User: "obs", Database: "app",
	Params: url.Values{"sslmode": {"disable"}}}

// driverTexts returns what a driver may put in an error about dsn: the DSN
// as it is and Go-quoted, and what a URL parser made of it (user, host,
// database, query, fragment), in the shape of pgx's connection error.
func driverTexts(dsn string) []string {
	texts := []string{"cannot parse `" + dsn + "`: failed", fmt.Sprintf("invalid DSN %q", dsn)}
	if u, err := url.Parse(dsn); err == nil {
		texts = append(texts, fmt.Sprintf("failed to connect to `user=%s database=%s`: %s (%s): dial error: connection refused; query %s, fragment %s",
			u.User.Username(), strings.TrimPrefix(u.Path, "/"), u.Host, u.Hostname(), u.RawQuery, u.Fragment))
	}
	return texts
}

// TestScrubHostilePasswords writes each hostile password into a DSN in
// every form, and scrubs what a driver may say about that DSN: no part of
// the password of dbtest.MinPart characters or more is left.
func TestScrubHostilePasswords(t *testing.T) {
	for _, password := range dbtest.Passwords() {
		checkScrub(t, password, true)
	}
}

// FuzzScrub checks, for any password, what TestScrubHostilePasswords checks
// for the hostile ones, in the DSN forms whose password a reader can tell
// exactly: all but the unquoted key=value form, where password=a b is the
// password a, and b's parts are no longer the password's.
func FuzzScrub(f *testing.F) {
	for _, p := range dbtest.Passwords() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, password string) { checkScrub(t, password, false) })
}

// checkScrub scrubs what a driver may say about each DSN holding password
// and fails t for each part of the password left; keyValueRaw says whether
// to include the unquoted key=value form.
func checkScrub(t *testing.T, password string, keyValueRaw bool) {
	t.Helper()
	for _, d := range dbtest.DSNs(server, password) {
		if d.Name == "keyvalue raw" && !keyValueRaw {
			continue
		}
		s := dsnScrubber(d.DSN)
		for _, text := range driverTexts(d.DSN) {
			got, _ := s.scrub(text)
			if leaks := dbtest.Leaks(got, password); len(leaks) > 0 {
				t.Errorf("password %q, %s: scrubbed %q\n\tto %q\n\twhich holds %q", password, d.Name, text, got, leaks)
			}
		}
	}
}

// TestScrubKeepsTheRest checks that scrubbing removes the password and
// nothing else from the texts of well-formed DSNs.
func TestScrubKeepsTheRest(t *testing.T) {
	const password = "s3cret-Pass"
	tests := []struct{ dsn, text, want string }{
		{"postgres://obs:" + password + "@db.example:5432/app?sslmode=disable",
			"failed to connect to `user=obs database=app`: db.example:5432 (127.0.0.1): dial error: connection refused",
			"failed to connect to `user=obs database=app`: db.example:5432 (127.0.0.1): dial error: connection refused"},
		{"postgres://obs:" + password + "@db.example:5432/app",
			"cannot parse `postgres://obs:" + password + "@db.example:5432/app`: bad port",
			"cannot parse `postgres://obs:xxxxx@db.example:5432/app`: bad port"},
		{"host=db.example user=obs password='" + password + "' dbname=app",
			"dial tcp db.example:5432: password " + password + " refused for obs on app",
			"dial tcp db.example:5432: password xxxxx refused for obs on app"},
		// What follows a password parameter may be the rest of a password
		// holding an unencoded '&': it goes too.
		{"postgres://obs@db.example/app?password=" + password + "&sslmode=disable",
			"server said " + strconv.Quote(password) + " was wrong (sslmode=disable)",
			`server said "xxxxx" was wrong (xxxxx)`},
		{"postgres://obs@db.example/app?sslmode=disable&password=" + password,
			"server said " + strconv.Quote(password) + " was wrong (sslmode=disable)",
			`server said "xxxxx" was wrong (sslmode=disable)`},
		{"obs:" + password + "@tcp(db.example:3306)/app", "Error 1045: access denied for 'obs'@'db.example' using " + password,
			"Error 1045: access denied for 'obs'@'db.example' using xxxxx"},
		{"file:" + password + ".db?_pragma=busy_timeout(5000)", "unable to open file:" + password + ".db", "unable to open file:" + password + ".db"},
		{"postgres://obs:abc@db.example/app", "password abc refused", "password abc refused"}, // shorter than a part
		// The mask is made of a character the password lacks, so that it
		// cannot join what surrounds it into a part of the password.
		{"postgres://obs:xerox-Box9@db.example/app", "password xerox-Box9 refused", "password ***** refused"},
	}
	for _, tt := range tests {
		got, changed := dsnScrubber(tt.dsn).scrub(tt.text)
		if got != tt.want || changed != (tt.text != tt.want) {
			t.Errorf("DSN %s: scrub(%q)\n\t= %q, %v\n\twant %q, %v", tt.dsn, tt.text, got, changed, tt.want, tt.text != tt.want)
		}
	}
}

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
	for _, password := range dbtest.Passwords() {
		for _, d := range dbtest.DSNs(server, password) {
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
				if leaks := dbtest.Leaks(err.Error(), password); len(leaks) > 0 {
					t.Errorf("password %q, %s: error %q holds %q", password, d.Name, err, leaks)
				}
			}
			if leaks, err := dbtest.LogLeaks(logs.String(), password); err != nil || len(leaks) > 0 {
				t.Errorf("password %q, %s: log %s holds %q (%v)", password, d.Name, logs.String(), leaks, err)
			}
		}
	}
}

// TestScrubbedErrorOnlyWhenNeeded checks that an error without any part of
// the password is returned as it is, so errors.As and its type still work.
func TestScrubbedErrorOnlyWhenNeeded(t *testing.T) {
	s := dsnScrubber("postgres://obs:s3cret-Pass@db.example/app")
	plain := &url.Error{Op: "dial", URL: "db.example", Err: errEcho}
	if got := s.err(plain); got != error(plain) {
		t.Errorf("an error without the password came back as %T %v", got, got)
	}
	if got := s.err(nil); got != nil {
		t.Errorf("err(nil) = %v", got)
	}
	if got := (*scrubber)(nil).err(plain); got != error(plain) {
		t.Errorf("a nil scrubber changed %v", got)
	}
	leaky := fmt.Errorf("bad password s3cret-Pass: %w", driver.ErrBadConn)
	got := s.err(leaky)
	if got.Error() != "bad password xxxxx: driver: bad connection" || !errors.Is(got, driver.ErrBadConn) {
		t.Errorf("scrubbed error = %q, errors.Is(ErrBadConn) = %v; want the password masked and true", got, errors.Is(got, driver.ErrBadConn))
	}
	if errors.Unwrap(got) != nil {
		t.Errorf("the scrubbed error unwraps to %v, whose text holds the password", errors.Unwrap(got))
	}
}

package secret

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/internal/secret/secrettest"
)

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
// every form, and scrubs what a driver may say about that DSN with the
// Scrubber of its DSNPasswords: no part of the password of
// secrettest.MinPart characters or more is left.
func TestScrubHostilePasswords(t *testing.T) {
	for _, password := range secrettest.Passwords() {
		checkScrub(t, password, true)
	}
}

// FuzzScrubPassword checks, for any password, what
// TestScrubHostilePasswords checks for the hostile ones, in the DSN forms
// whose password a reader can tell exactly: all but the unquoted key=value
// form, where password=a b is the password a, and b's parts are no longer
// the password's.
func FuzzScrubPassword(f *testing.F) {
	for _, p := range secrettest.Passwords() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, password string) { checkScrub(t, password, false) })
}

// checkScrub scrubs what a driver may say about each DSN holding password
// and fails t for each part of the password left; keyValueRaw says whether
// to include the unquoted key=value form.
func checkScrub(t *testing.T, password string, keyValueRaw bool) {
	t.Helper()
	for _, d := range secrettest.DSNs(secrettest.Unconnected(), password) {
		if d.Name == "keyvalue raw" && !keyValueRaw {
			continue
		}
		s := New(nil, DSNPasswords(d.DSN))
		for _, text := range driverTexts(d.DSN) {
			got := s.Scrub(text)
			if leaks := secrettest.Leaks(got, password); len(leaks) > 0 {
				t.Errorf("password %q, %s: scrubbed %q\n\tto %q\n\twhich holds %q", password, d.Name, text, got, leaks)
			}
		}
	}
}

// TestScrubKeepsTheRest checks that scrubbing with the passwords of
// well-formed DSNs removes the password and nothing else.
func TestScrubKeepsTheRest(t *testing.T) {
	const password = "s3cret-Pass"
	tests := []struct{ dsn, text, want string }{
		{"postgres://obs:" + password + "@db.example:5432/app?sslmode=disable",
			"failed to connect to `user=obs database=app`: db.example:5432 (127.0.0.1): dial error: connection refused",
			"failed to connect to `user=obs database=app`: db.example:5432 (127.0.0.1): dial error: connection refused"},
		{"postgres://obs:" + password + "@db.example:5432/app",
			"cannot parse `postgres://obs:" + password + "@db.example:5432/app`: bad port",
			"cannot parse `postgres://obs:[REDACTED]@db.example:5432/app`: bad port"},
		{"host=db.example user=obs password='" + password + "' dbname=app",
			"dial tcp db.example:5432: password " + password + " refused for obs on app",
			"dial tcp db.example:5432: password [REDACTED] refused for obs on app"},
		// What follows a password parameter may be the rest of a password
		// holding an unencoded '&': it goes too.
		{"postgres://obs@db.example/app?password=" + password + "&sslmode=disable",
			"server said " + strconv.Quote(password) + " was wrong (sslmode=disable)",
			`server said "[REDACTED]" was wrong (xxxxx)`},
		{"postgres://obs@db.example/app?sslmode=disable&password=" + password,
			"server said " + strconv.Quote(password) + " was wrong (sslmode=disable)",
			`server said "[REDACTED]" was wrong (sslmode=disable)`},
		{"obs:" + password + "@tcp(db.example:3306)/app", "Error 1045: access denied for 'obs'@'db.example' using " + password,
			"Error 1045: access denied for 'obs'@'db.example' using [REDACTED]"},
		{"file:" + password + ".db?_pragma=busy_timeout(5000)", "unable to open file:" + password + ".db", "unable to open file:" + password + ".db"},
		{"postgres://obs:abc@db.example/app", "password abc refused", "password abc refused"}, // shorter than a part
		// A fragment is masked with a character the password lacks, so
		// that the mask cannot join what surrounds it into a part of the
		// password.
		{"postgres://obs:" + password + "@db.example/app", "password " + password[:6] + " refused", "password xxxxx refused"},
		{"postgres://obs:xerox-Box9@db.example/app", "password xerox refused", "password ***** refused"},
	}
	for _, tt := range tests {
		if got := New(nil, DSNPasswords(tt.dsn)).Scrub(tt.text); got != tt.want {
			t.Errorf("DSN %s: Scrub(%q)\n\t= %q\n\twant %q", tt.dsn, tt.text, got, tt.want)
		}
	}
}

package secrettest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MinPart is the length, in characters, of the shortest part of a password
// that must not appear in any error or log record.
const MinPart = 4

// Passwords returns the hostile passwords: every character that a URL or
// libpq's key=value form treats specially, quotes, white space, Unicode,
// percent signs that do and do not form escapes, and the password that
// once leaked in part (Lima@127.0.0.1:5/Mike9).
func Passwords() []string {
	return []string{
		"Lima@127.0.0.1:5/Mike9",
		"Wq7kLmz@Rt5vXpq@Hy3nBc",
		"Kilo@localhost/Oscar",
		"Echo@",
		"@Tango",
		"Zulu:Yankee:Xray",
		"Papa/Quebec/Romeo",
		"Sierra?Uniform=Victor",
		"Whisky#Hotel#India",
		"Delta%2FFoxtrot%40Golf",
		"Juliet%zzNovember%",
		"Alpha Bravo Charlie",
		" Padded Both Ends ",
		"Tab\tSeparated\tWords",
		"O'Brien'sQuote",
		`Double"Quoted"Word`,
		`Back\slash\\Twice`,
		"Amp&ersand=Equal;Semi",
		"Plus+Sign+Here",
		"Pässwörd-Ümlaut",
		"Пароль-Секрет",
		"密码很长的秘密",
		"Emoji🔑Key🔒Lock",
		"password=inner host=evil",
		"@@@@////::::",
	}
}

// DSN is a DSN with a password in it, and what its test is about.
type DSN struct {
	Name string // the form, for the test's name
	DSN  string
}

// Server is where a DSN points: host, port, user and database.
type Server struct {
	Host, Port, User, Database string
	// Params are extra URL query parameters (sslmode=disable&connect_timeout=5),
	// also written as key=value pairs.
	Params url.Values
}

// Unconnected returns the Server of tests that write DSNs and connect to
// nothing: obs@127.0.0.1:5432/app with sslmode=disable.
func Unconnected() Server {
	return Server{Host: "127.0.0.1", Port: "5432", User: "obs", Database: "app",
		Params: url.Values{"sslmode": {"disable"}}}
}

// DSNs returns password written into a DSN for s in every form a user may
// write it: a URL with the password as it is (not encoded: the hostile
// case), a URL with it percent-encoded, libpq's key=value form quoted and
// escaped, the key=value form unquoted (which does not parse when the
// password holds white space; left out for a password that then reads as
// more key=value pairs, since such a DSN names other settings, not a
// password), and a URL with the password as a query parameter, encoded
// and not.
func DSNs(s Server, password string) []DSN {
	hostPort := s.Host
	if s.Port != "" {
		hostPort += ":" + s.Port
	}
	q := s.Params.Encode()
	sep := "?"
	if q != "" {
		q = "?" + q
		sep = "&"
	}
	kv := "host=" + s.Host + " user=" + s.User + " dbname=" + s.Database
	if s.Port != "" {
		kv += " port=" + s.Port
	}
	for k, vs := range s.Params {
		for _, v := range vs {
			kv += " " + k + "=" + v
		}
	}
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password)
	dsns := []DSN{
		{"url raw", "postgres://" + s.User + ":" + password + "@" + hostPort + "/" + s.Database + q},
		{"url encoded", "postgres://" + url.UserPassword(s.User, password).String() + "@" + hostPort + "/" + s.Database + q},
		{"keyvalue quoted", kv + " password='" + quoted + "'"},
		{"query encoded", "postgres://" + s.User + "@" + hostPort + "/" + s.Database + q + sep + "password=" + url.QueryEscape(password)},
		{"query raw", "postgres://" + s.User + "@" + hostPort + "/" + s.Database + q + sep + "password=" + password},
	}
	if f := strings.Fields(password); len(f) < 2 || !strings.Contains(strings.Join(f[1:], " "), "=") {
		dsns = append(dsns, DSN{"keyvalue raw", "password=" + password + " " + kv})
	}
	return dsns
}

// Parts returns every run of MinPart characters of password and of its
// percent-encoded forms: the texts that must not appear in an output.
func Parts(password string) []string {
	seen := map[string]bool{}
	var out []string
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password),
		strings.TrimPrefix(url.UserPassword("", password).String(), ":")} {
		for i := 0; i < len(form); {
			j, n := i, 0
			for j < len(form) && n < MinPart {
				_, size := utf8.DecodeRuneInString(form[j:])
				j += size
				n++
			}
			if n == MinPart && !seen[form[i:j]] {
				seen[form[i:j]] = true
				out = append(out, form[i:j])
			}
			_, size := utf8.DecodeRuneInString(form[i:])
			i += size
		}
	}
	return out
}

// Leaks returns the parts of password (see Parts) that text holds.
func Leaks(text, password string) []string {
	var out []string
	for _, p := range Parts(password) {
		if strings.Contains(text, p) {
			out = append(out, p)
		}
	}
	return out
}

// LogLeaks returns the parts of password that the keys and values of the
// records in jsonLines (a JSON handler's output) hold, and an error for a
// line that is not a JSON object. The JSON around them is not looked at:
// its punctuation and field names are no one's password; nor is a
// record's time, which the handler takes from the clock (15:13:27.048
// holds 27.0, a part of Lima@127.0.0.1:5/Mike9).
func LogLeaks(jsonLines, password string) ([]string, error) {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, Leaks(v, password)...)
		case map[string]any:
			for k, x := range v {
				walk(k)
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(jsonLines), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return out, fmt.Errorf("log line %q: %w", line, err)
		}
		if t, ok := rec[slog.TimeKey].(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, t); err == nil {
				delete(rec, slog.TimeKey)
			}
		}
		walk(rec)
	}
	return out, nil
}

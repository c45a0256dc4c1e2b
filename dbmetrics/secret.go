package dbmetrics

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// How a connection error is kept free of the password.
//
// A driver quotes its DSN, or what it made of it, in its connection
// errors. pgx masks the password it found, but a password holding '@', '/',
// '?', '#' or ':' that was not percent-encoded is cut by the URL grammar,
// and the pieces land in the host, the database name or the query, where
// nothing masks them (postgres://u:Lima@127.0.0.1:5/Mike9@db/app is the
// password "Lima" for pgx, then the database "Mike9@db/app"). So Open reads
// the DSN every way a driver may have read it, as a URL (with net/url, and
// with the userinfo running to the last '@'), in libpq's key=value form and
// in its query parameters, and takes every password candidate it finds. The
// scrubber then removes from an error's text every run of minSecretPart
// characters or more of any candidate, in each form a driver may print it
// (as written, decoded, percent-encoded, quoted), wherever it appears and
// whatever surrounds it, so that an escape or a delimiter inserted by a
// driver's quoting cannot carry a part through.

// minSecretPart is the length, in characters, of the shortest part of a
// password that scrubbing removes. A password shorter than this is not
// looked for: its every occurrence would be ordinary text too.
const minSecretPart = 4

// maskRunes are the characters a mask is made of, the first that no secret
// holds: a mask made of one, five times, cannot join the text around it
// into a part of a secret. pgx masks with xxxxx.
const maskRunes = "x*#~-_.abcdefghijklmnopqrstuvwyz"

// scrubber removes every part of a set of secrets from error texts. A nil
// scrubber removes nothing.
type scrubber struct {
	// parts holds every substring of minSecretPart characters of every
	// form of every secret. A text's runs of matching windows are exactly
	// its runs of minSecretPart characters or more shared with a secret.
	parts map[string]struct{}
	mask  string // replaces each such run
}

// newScrubber returns the scrubber of secrets, or nil when none of them
// is minSecretPart characters long.
func newScrubber(secrets []string) *scrubber {
	s := &scrubber{parts: map[string]struct{}{}}
	var all strings.Builder
	for _, sec := range secrets {
		for _, form := range secretForms(sec) {
			s.addParts(form)
			all.WriteString(form)
		}
	}
	if len(s.parts) == 0 {
		return nil
	}
	s.mask = maskFor(all.String())
	return s
}

// maskFor returns five times the first of maskRunes that held lacks, or
// else the first letter or symbol from U+00C0 on that it lacks.
func maskFor(held string) string {
	for _, r := range maskRunes {
		if !strings.ContainsRune(held, r) {
			return strings.Repeat(string(r), 5)
		}
	}
	r := rune(0xC0)
	for strings.ContainsRune(held, r) || !unicode.IsGraphic(r) {
		r++
	}
	return strings.Repeat(string(r), 5)
}

// secretForms returns sec as written and in the forms a driver or a
// formatter may print it: percent-encoded (query, path and userinfo rules),
// decoded, Go-quoted and backslash-escaped as libpq's key=value form
// quotes it.
func secretForms(sec string) []string {
	forms := []string{sec, url.QueryEscape(sec), url.PathEscape(sec),
		strings.TrimPrefix(url.UserPassword("", sec).String(), ":"),
		strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(sec)}
	if q := strconv.Quote(sec); len(q) >= 2 {
		forms = append(forms, q[1:len(q)-1])
	}
	if d, err := url.PathUnescape(sec); err == nil {
		forms = append(forms, d)
	}
	if d, err := url.QueryUnescape(sec); err == nil {
		forms = append(forms, d)
	}
	return forms
}

// addParts adds every window of minSecretPart characters of form.
func (s *scrubber) addParts(form string) {
	starts := runeStarts(form)
	for i := 0; i+minSecretPart < len(starts); i++ {
		s.parts[form[starts[i]:starts[i+minSecretPart]]] = struct{}{}
	}
}

// runeStarts returns the byte offset of each character of s, and len(s)
// last. An invalid byte counts as a character of its own, on both sides of
// a comparison.
func runeStarts(s string) []int {
	starts := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		starts = append(starts, i)
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return append(starts, len(s))
}

// scrub returns text with every run of minSecretPart characters or more
// that it shares with a secret replaced by the mask, and reports whether
// it replaced anything.
func (s *scrubber) scrub(text string) (string, bool) {
	if s == nil || len(text) < minSecretPart {
		return text, false
	}
	starts := runeStarts(text)
	var b strings.Builder
	done := 0 // bytes of text written or masked
	maskEnd := -1
	for i := 0; i+minSecretPart < len(starts); i++ {
		from, to := starts[i], starts[i+minSecretPart]
		if _, ok := s.parts[text[from:to]]; !ok {
			continue
		}
		if from > maskEnd { // a new masked run
			b.WriteString(text[done:from])
			b.WriteString(s.mask)
		}
		maskEnd, done = to, to
	}
	if maskEnd < 0 {
		return text, false
	}
	b.WriteString(text[done:])
	return b.String(), true
}

// err returns err with its text scrubbed. An error whose text holds no part
// of a secret is returned as it is; otherwise the result is a new error
// whose errors.Is still sees the original chain (driver.ErrBadConn,
// context.DeadlineExceeded), while errors.As and Unwrap do not reach the
// driver's own error values, whose text or fields hold the password.
func (s *scrubber) err(err error) error {
	if s == nil || err == nil {
		return err
	}
	msg, changed := s.scrub(err.Error())
	if !changed {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError is an error whose text had parts of a password removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.err, target) }

// dsnScrubber returns the scrubber of the passwords a DSN may hold, or nil
// when it holds none of minSecretPart characters.
func dsnScrubber(dsn string) *scrubber { return newScrubber(dsnPasswords(dsn)) }

// dsnPasswords returns every text of dsn that a driver may have taken for a
// password, or that may hold part of one: a URL's userinfo password as
// net/url reads it, and as the text from the first ':' to the last '@'
// (what a password holding '@', '/', '?', '#' or ':' spans when it was not
// percent-encoded; read also in DSNs such as user:password@tcp(host)/db,
// not in SQLite's file: names); the values of a URL's password and
// sslpassword parameters; and the password values of libpq's key=value
// form. Where a reading cannot tell where the password ends (a parameter
// that may go on past an unencoded '&', key=value text that does not
// parse), the candidate runs to the end of dsn.
func dsnPasswords(dsn string) []string {
	var out []string
	add := func(s ...string) {
		for _, v := range s {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	rest, isURL := dsn, false
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest, isURL = dsn[i+len("://"):], true
	}
	if isURL {
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			p, _ := u.User.Password()
			add(p)
		}
	}
	// The userinfo up to the last '@': what a password holding '@', '/',
	// '?', '#' or ':' spans when it was not percent-encoded. It is read
	// when a ':' comes before the first '@' (user:password@); else the
	// userinfo is a user alone, and a later '@' belongs to what follows.
	if isURL || !isKeyValue(dsn) && !strings.HasPrefix(dsn, "file:") {
		colon, at := strings.IndexByte(rest, ':'), strings.IndexByte(rest, '@')
		if colon >= 0 && colon < at {
			add(rest[colon+1 : strings.LastIndexByte(rest, '@')])
		}
	}
	if isURL {
		add(queryPasswords(rest)...)
	} else {
		add(keyValuePasswords(dsn)...)
	}
	return out
}

// passwordKey reports whether key names a password, as pgx and libpq spell
// it, after percent-decoding.
func passwordKey(key string) bool {
	if d, err := url.QueryUnescape(key); err == nil {
		key = d
	}
	key = strings.ToLower(strings.TrimSpace(key))
	return key == "password" || key == "sslpassword"
}

// queryPasswords returns the values of the password parameters of a URL's
// query, each as written, decoded, and with everything after it: a value
// holding an unencoded '&' or '#' is cut there, and what follows is still
// the password's.
func queryPasswords(rest string) []string {
	var out []string
	for i := 0; i < len(rest); i++ {
		if rest[i] != '?' && rest[i] != '&' {
			continue
		}
		key, _, ok := strings.Cut(rest[i+1:], "=")
		if !ok || strings.ContainsAny(key, "&?") || !passwordKey(key) {
			continue
		}
		from := i + 1 + len(key) + 1
		v := rest[from:]
		if end := strings.IndexByte(v, '&'); end >= 0 {
			v = v[:end]
		}
		out = append(out, v, rest[from:])
		if d, err := url.QueryUnescape(v); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// isKeyValue reports whether dsn starts like libpq's key=value form: a
// keyword, then '='.
func isKeyValue(dsn string) bool {
	s := strings.TrimLeftFunc(dsn, unicode.IsSpace)
	i := 0
	for i < len(s) && (s[i] == '_' || 'a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z' || '0' <= s[i] && s[i] <= '9') {
		i++
	}
	return i > 0 && strings.HasPrefix(strings.TrimLeftFunc(s[i:], unicode.IsSpace), "=")
}

// keyValuePasswords returns the password values of libpq's key=value form,
// each as written and unescaped. When the text does not parse (an
// unterminated quote, a word that is no key=value pair), each password
// value also comes with everything after it.
func keyValuePasswords(dsn string) []string {
	var out, tails []string
	s := dsn
	ok := true
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			ok = false
			break
		}
		key := strings.TrimSpace(s[:eq])
		if key == "" || strings.ContainsFunc(key, unicode.IsSpace) {
			ok = false
		}
		s = strings.TrimLeftFunc(s[eq+1:], unicode.IsSpace)
		raw, val, n, valid := kvValue(s)
		if !valid {
			ok = false
		}
		if passwordKey(key) {
			out = append(out, raw, val)
			tails = append(tails, s)
		}
		s = s[n:]
	}
	if !ok {
		out = append(out, tails...)
	}
	return out
}

// kvValue reads the value at the start of s: quoted with ' (backslash
// escapes) or running to the next white space. It returns the value as
// written, unescaped, the bytes it spans and whether it was well formed.
func kvValue(s string) (raw, val string, n int, ok bool) {
	var b strings.Builder
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && i+1 < len(s):
				i++
				b.WriteByte(s[i])
			case c == '\'':
				return s[1:i], b.String(), i + 1, true
			default:
				b.WriteByte(c)
			}
		}
		return s[1:], b.String(), len(s), false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			break
		}
		b.WriteByte(c)
	}
	return s[:i], b.String(), i, true
}

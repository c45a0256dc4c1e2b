package secret

import (
	"net/url"
	"strings"
	"unicode"
)

// DSNPasswords returns every text of dsn that a driver may have taken for a
// password, or that may hold part of one: a URL's userinfo password as
// net/url reads it, and as the text from the first ':' to the last '@'
// (what a password holding '@', '/', '?', '#' or ':' spans when it was not
// percent-encoded; read also in DSNs such as user:password@tcp(host)/db,
// not in SQLite's file: names); the values of a URL's password and
// sslpassword parameters; and the password values of libpq's key=value
// form. Where a reading cannot tell where the password ends (a parameter
// that may go on past an unencoded '&', key=value text that does not
// parse), the candidate runs to the end of dsn. They are passwords for
// [New]: a driver's error about dsn scrubbed by New(nil, DSNPasswords(dsn))
// holds no run of MinPart characters of the password, however it was
// written.
func DSNPasswords(dsn string) []string {
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

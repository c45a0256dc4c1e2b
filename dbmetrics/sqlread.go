package dbmetrics

import "strings"

// This file reads the operation and the main table from a SQL statement.
// It is not a parser: a small lexer that knows strings, quoted identifiers,
// comments and parentheses, and enough grammar to find the verb and the
// table after FROM, INTO, UPDATE or DELETE FROM. It never fails: what it
// cannot read is operation "other" or source "unknown".

// Operations, the values of the operation tag.
const (
	OpSelect   = "select"
	OpInsert   = "insert"
	OpUpdate   = "update"
	OpDelete   = "delete"
	OpBegin    = "begin"
	OpCommit   = "commit"
	OpRollback = "rollback"
	OpOther    = "other"
)

// Reserved values of the source tag.
const (
	// SourceNone is the source of a statement that names no table:
	// SELECT 1, and the transaction statements begin, commit and rollback.
	SourceNone = "none"
	// SourceUnknown is the source of a statement the reader cannot read.
	SourceUnknown = "unknown"
	// SourceOther replaces any source beyond the first MaxSources distinct
	// ones, so that dynamic SQL cannot create unbounded label values.
	SourceOther = "other"
)

// maxIdentLen bounds a table name used as a source (PostgreSQL's limit).
const maxIdentLen = 63

type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokWord           // unquoted identifier or keyword
	tokQuoted         // "ident", `ident` or [ident]; text is the inside
	tokString         // 'string', $tag$string$tag$; text unused
	tokPunct          // one byte of punctuation, operators, digits
)

type token struct {
	kind tokKind
	text string
}

// is reports whether t is the punctuation byte c.
func (t token) is(c byte) bool { return t.kind == tokPunct && len(t.text) == 1 && t.text[0] == c }

// kw reports whether t is the unquoted keyword w (lower case).
func (t token) kw(w string) bool { return t.kind == tokWord && equalFoldASCII(t.text, w) }

// lexer yields the tokens of s, skipping white space and comments.
type lexer struct {
	s string
	i int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

func isWordByte(c byte) bool {
	return isWordStart(c) || '0' <= c && c <= '9' || c == '$'
}

func (l *lexer) next() token {
	s := l.s
	for l.i < len(s) {
		c := s[l.i]
		switch {
		case isSpace(c):
			l.i++
		case c == '-' && l.i+1 < len(s) && s[l.i+1] == '-':
			for l.i < len(s) && s[l.i] != '\n' {
				l.i++
			}
		case c == '/' && l.i+1 < len(s) && s[l.i+1] == '*':
			// Block comments end at the first */ (SQLite's rule; PostgreSQL
			// nests them, which only matters for comments inside comments).
			end := indexFrom(s, "*/", l.i+2)
			if end < 0 {
				l.i = len(s)
			} else {
				l.i = end + 2
			}
		case isWordStart(c):
			start := l.i
			for l.i < len(s) && isWordByte(s[l.i]) {
				l.i++
			}
			return token{tokWord, s[start:l.i]}
		case c == '"' || c == '`':
			return l.quoted(c, c, tokQuoted)
		case c == '[':
			return l.quoted('[', ']', tokQuoted)
		case c == '\'':
			return l.quoted('\'', '\'', tokString)
		case c == '$':
			if t, ok := l.dollar(); ok {
				return t
			}
			l.i++
			return token{tokPunct, "$"}
		default:
			l.i++
			return token{tokPunct, s[l.i-1 : l.i]}
		}
	}
	return token{kind: tokEOF}
}

// quoted reads from the opening byte to the closing one; a doubled closing
// byte stands for itself. An unterminated quote runs to the end.
func (l *lexer) quoted(open, close byte, kind tokKind) token {
	s := l.s
	start := l.i + 1
	l.i = start
	for l.i < len(s) {
		if s[l.i] == close {
			if close != ']' && l.i+1 < len(s) && s[l.i+1] == close {
				l.i += 2
				continue
			}
			text := s[start:l.i]
			l.i++
			return token{kind, text}
		}
		l.i++
	}
	return token{kind, s[start:]}
}

// dollar reads a PostgreSQL dollar-quoted string ($$...$$, $tag$...$tag$) or
// a numbered placeholder ($1), which it returns as punctuation.
func (l *lexer) dollar() (token, bool) {
	s := l.s
	j := l.i + 1
	if j < len(s) && '0' <= s[j] && s[j] <= '9' {
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		t := token{tokPunct, s[l.i:j]}
		l.i = j
		return t, true
	}
	for j < len(s) && s[j] != '$' && isWordByte(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return token{}, false
	}
	tag := s[l.i : j+1]
	end := indexFrom(s, tag, j+1)
	if end < 0 {
		l.i = len(s)
	} else {
		l.i = end + len(tag)
	}
	return token{kind: tokString}, true
}

func indexFrom(s, sub string, from int) int {
	if from > len(s) {
		return -1
	}
	i := strings.Index(s[from:], sub)
	if i < 0 {
		return -1
	}
	return from + i
}

func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// readSQL returns the operation and the main table of the statement q. The
// table is the last part of a qualified name, unquoted and in lower case;
// it is SourceNone when the statement names no table and SourceUnknown when
// the reader cannot tell. readSQL never panics and does work linear in len(q).
func readSQL(q string) (operation, source string) {
	l := lexer{s: q}
	depth := 0
	t := l.next()
	for t.is('(') {
		depth++
		t = l.next()
	}
	if t.kw("with") {
		t = skipWith(&l)
	}
	if t.kind != tokWord {
		return OpOther, SourceUnknown
	}
	switch {
	case t.kw("select"):
		return OpSelect, fromSource(&l, depth)
	case t.kw("insert"), t.kw("replace"), t.kw("upsert"):
		// INSERT [OR REPLACE] INTO t, REPLACE INTO t, UPSERT INTO t.
		for {
			t = l.next()
			if t.kind == tokEOF || t.kw("into") {
				break
			}
			if t.kind != tokWord {
				return OpInsert, SourceUnknown
			}
		}
		return OpInsert, tableName(&l)
	case t.kw("update"):
		// UPDATE [OR ROLLBACK|ABORT|REPLACE|FAIL|IGNORE] [ONLY] t.
		save := l
		if l.next().kw("or") {
			l.next()
		} else {
			l = save
		}
		return OpUpdate, tableName(&l)
	case t.kw("delete"):
		if !l.next().kw("from") {
			return OpDelete, SourceUnknown
		}
		return OpDelete, tableName(&l)
	case t.kw("begin"), t.kw("start"):
		return OpBegin, SourceNone
	case t.kw("commit"), t.kw("end"):
		return OpCommit, SourceNone
	case t.kw("rollback"), t.kw("abort"):
		return OpRollback, SourceNone
	}
	return OpOther, SourceUnknown
}

// skipWith skips the common table expressions after WITH and returns the
// first token of the main statement.
func skipWith(l *lexer) token {
	t := l.next()
	if t.kw("recursive") {
		t = l.next()
	}
	for {
		// name [(columns)] AS [NOT] [MATERIALIZED] ( body )
		if t.kind != tokWord && t.kind != tokQuoted {
			return token{kind: tokEOF}
		}
		t = l.next()
		if t.is('(') {
			skipParens(l)
			t = l.next()
		}
		if !t.kw("as") {
			return token{kind: tokEOF}
		}
		t = l.next()
		if t.kw("not") {
			t = l.next()
		}
		if t.kw("materialized") {
			t = l.next()
		}
		if !t.is('(') {
			return token{kind: tokEOF}
		}
		skipParens(l)
		t = l.next()
		if !t.is(',') {
			return t
		}
		t = l.next()
	}
}

// skipParens skips to just after the parenthesis that closes one already read.
func skipParens(l *lexer) {
	depth := 1
	for depth > 0 {
		t := l.next()
		switch {
		case t.kind == tokEOF:
			return
		case t.is('('):
			depth++
		case t.is(')'):
			depth--
		}
	}
}

// fromSource finds the FROM of a SELECT at the given parenthesis depth and
// returns the table after it. FROM (subquery) looks into the subquery.
func fromSource(l *lexer, base int) string {
	depth := base
	for {
		t := l.next()
		switch {
		case t.kind == tokEOF || t.is(';'):
			return SourceNone
		case t.is('('):
			depth++
		case t.is(')'):
			depth--
			if depth < base {
				return SourceNone
			}
		case depth == base && t.kw("from"):
			save := *l
			if l.next().is('(') {
				base++
				depth = base
				continue
			}
			*l = save
			return tableName(l)
		}
	}
}

// tableName reads [ONLY|LATERAL] name[.name...] and returns the last part.
func tableName(l *lexer) string {
	t := l.next()
	if t.kw("only") {
		t = l.next()
	}
	name := SourceUnknown
	for {
		if t.kind != tokWord && t.kind != tokQuoted {
			return name
		}
		name = ident(t.text)
		save := *l
		if !l.next().is('.') {
			*l = save
			return name
		}
		t = l.next()
	}
}

// ident returns s in lower case when it is a plain identifier of at most
// maxIdentLen bytes of ASCII letters, digits and underscores, and
// SourceUnknown otherwise. It allocates only when s has upper-case letters.
func ident(s string) string {
	if len(s) == 0 || len(s) > maxIdentLen {
		return SourceUnknown
	}
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			return SourceUnknown
		}
	}
	if !upper {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

package dbmetrics

import "strings"

// This file reads the operation and the main table from a SQL statement.
// It is not a parser: a small lexer that knows strings, quoted identifiers,
// comments and parentheses, and enough grammar to find the verb and the
// table after FROM, JOIN, INTO, UPDATE, DELETE FROM, the table named by DDL,
// and what a common table expression reads or writes. It never fails: what
// it cannot read is operation "other" or source "unknown".

// Operations, the values of the operation tag.
const (
	OpSelect   = "select"
	OpInsert   = "insert"
	OpUpdate   = "update"
	OpDelete   = "delete"
	OpBegin    = "begin"
	OpCommit   = "commit"
	OpRollback = "rollback"
	// DDL: CREATE, ALTER, DROP and TRUNCATE, with the table they act on as
	// the source (for an index, trigger, rule or policy: the table after ON).
	OpCreate   = "create"
	OpAlter    = "alter"
	OpDrop     = "drop"
	OpTruncate = "truncate"
	// OpOther is every statement the reader does not interpret (PRAGMA,
	// SET, EXPLAIN, VACUUM, a syntax error, …); its source is SourceUnknown.
	OpOther = "other"
)

// Reserved values of the source tag.
const (
	// SourceNone is the source of a statement that names no table:
	// SELECT 1, the transaction statements begin, commit and rollback, a
	// select from a common table expression that reads no table, and DDL
	// on something other than a table (CREATE SCHEMA, DROP INDEX name, …).
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
// the reader cannot tell. readSQL never panics and does work linear in len(q)
// (times maxWithDepth at most, for common table expressions nested in
// common table expressions).
func readSQL(q string) (operation, source string) {
	return readStatement(q, nil, maxWithDepth)
}

// maxWithDepth bounds how deeply WITH clauses nested in the bodies of
// common table expressions are read; deeper bodies are SourceUnknown.
const maxWithDepth = 4

// maxCTEs bounds the common table expressions remembered for one
// statement, so that resolving names stays linear in the statement's
// length. Past it, a name that is not one of those remembered resolves to
// SourceUnknown: it may be a table or one of the others.
const maxCTEs = 32

// cte is a common table expression: its name and the table it reads or
// writes (SourceNone when it reads none, as a generated series).
type cte struct{ name, source string }

// resolve maps a table name read from the statement to its source: a
// common table expression's name becomes that expression's source.
func resolve(ctes []cte, name string) string {
	for i := len(ctes) - 1; i >= 0; i-- {
		if ctes[i].name == name && name != SourceUnknown {
			return ctes[i].source
		}
	}
	if len(ctes) > 0 && ctes[len(ctes)-1] == tooManyCTEs {
		return SourceUnknown
	}
	return name
}

// tooManyCTEs ends a list of common table expressions that was cut at
// maxCTEs.
var tooManyCTEs = cte{"", SourceUnknown}

// readStatement is readSQL with the common table expressions of the
// enclosing statements in scope, and budget more levels of WITH to read.
func readStatement(q string, outer []cte, budget int) (operation, source string) {
	l := lexer{s: q}
	depth := 0
	t := l.next()
	for t.is('(') {
		depth++
		t = l.next()
	}
	ctes := outer
	if t.kw("with") {
		t, ctes = readWith(&l, q, outer, budget)
	}
	if t.kind != tokWord {
		return OpOther, SourceUnknown
	}
	switch {
	case t.kw("select"), t.kw("values"):
		return OpSelect, fromSource(&l, depth, ctes)
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
		return OpInsert, resolve(ctes, tableName(&l))
	case t.kw("update"):
		// UPDATE [OR ROLLBACK|ABORT|REPLACE|FAIL|IGNORE] [ONLY] t.
		save := l
		if l.next().kw("or") {
			l.next()
		} else {
			l = save
		}
		return OpUpdate, resolve(ctes, tableName(&l))
	case t.kw("delete"):
		if !l.next().kw("from") {
			return OpDelete, SourceUnknown
		}
		return OpDelete, resolve(ctes, tableName(&l))
	case t.kw("begin"), t.kw("start"):
		return OpBegin, SourceNone
	case t.kw("commit"), t.kw("end"):
		return OpCommit, SourceNone
	case t.kw("rollback"), t.kw("abort"):
		return OpRollback, SourceNone
	case t.kw("create"):
		return OpCreate, ddlSource(&l, true)
	case t.kw("alter"):
		return OpAlter, ddlSource(&l, false)
	case t.kw("drop"):
		return OpDrop, ddlSource(&l, false)
	case t.kw("truncate"):
		// TRUNCATE [TABLE] [ONLY] t [, …]
		save := l
		if !l.next().kw("table") {
			l = save
		}
		return OpTruncate, tableName(&l)
	}
	return OpOther, SourceUnknown
}

// ddlSource reads what follows CREATE (create is true), ALTER or DROP and
// returns the table the statement acts on:
//
//	CREATE [OR REPLACE] [TEMP|UNLOGGED|VIRTUAL|…] TABLE|VIEW|SEQUENCE [IF NOT EXISTS] name
//	ALTER|DROP TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|FOREIGN TABLE [IF EXISTS] [ONLY] name
//	CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] table
//	CREATE|DROP TRIGGER|RULE|POLICY name … ON table
//
// An index dropped or altered by its name alone, and objects that are not
// tables (schemas, functions, types, extensions, …), are SourceNone.
func ddlSource(l *lexer, create bool) string {
	for range 8 { // modifiers before the kind of object
		t := l.next()
		switch {
		case t.kind != tokWord:
			return SourceUnknown
		case t.kw("or"), t.kw("replace"), t.kw("temp"), t.kw("temporary"), t.kw("unlogged"),
			t.kw("global"), t.kw("local"), t.kw("virtual"), t.kw("materialized"), t.kw("foreign"),
			t.kw("unique"), t.kw("recursive"), t.kw("constraint"):
			continue
		case t.kw("table"), t.kw("view"), t.kw("sequence"):
			skipIfExists(l)
			return tableName(l)
		case t.kw("index"):
			if !create {
				return SourceNone
			}
			return afterOn(l)
		case t.kw("trigger"), t.kw("rule"), t.kw("policy"):
			return afterOn(l)
		default:
			return SourceNone
		}
	}
	return SourceUnknown
}

// skipIfExists skips IF EXISTS and IF NOT EXISTS.
func skipIfExists(l *lexer) {
	save := *l
	if !l.next().kw("if") {
		*l = save
		return
	}
	t := l.next()
	if t.kw("not") {
		t = l.next()
	}
	if !t.kw("exists") {
		*l = save
	}
}

// afterOn finds the first ON outside parentheses and returns the table after
// it; SourceNone when there is none (DROP TRIGGER name in SQLite).
func afterOn(l *lexer) string {
	depth := 0
	for {
		t := l.next()
		switch {
		case t.kind == tokEOF || t.is(';'):
			return SourceNone
		case t.is('('):
			depth++
		case t.is(')'):
			depth--
		case depth == 0 && t.kw("on"):
			return tableName(l)
		}
	}
}

// readWith reads the common table expressions after WITH, each with the
// source its body reads or writes, and returns the first token of the main
// statement and the expressions in scope for it.
func readWith(l *lexer, q string, outer []cte, budget int) (token, []cte) {
	ctes := outer[:len(outer):len(outer)] // never append to the caller's slice
	t := l.next()
	if t.kw("recursive") {
		t = l.next()
	}
	for {
		// name [(columns)] AS [NOT] [MATERIALIZED] ( body )
		if t.kind != tokWord && t.kind != tokQuoted {
			return token{kind: tokEOF}, ctes
		}
		name := ident(t.text)
		t = l.next()
		if t.is('(') {
			skipParens(l)
			t = l.next()
		}
		if !t.kw("as") {
			return token{kind: tokEOF}, ctes
		}
		t = l.next()
		if t.kw("not") {
			t = l.next()
		}
		if t.kw("materialized") {
			t = l.next()
		}
		if !t.is('(') {
			return token{kind: tokEOF}, ctes
		}
		start := l.i
		end := len(q)
		if skipParens(l) {
			end = l.i - 1 // the closing parenthesis
		}
		source := SourceUnknown
		if budget > 0 && name != SourceUnknown && len(ctes) < maxCTEs {
			// The body may refer to its own name (WITH RECURSIVE): that
			// reference reads no table of its own.
			self := append(ctes, cte{name, SourceNone})
			_, source = readStatement(q[start:end], self, budget-1)
		}
		switch {
		case len(ctes) < maxCTEs:
			ctes = append(ctes, cte{name, source})
		case ctes[len(ctes)-1] != tooManyCTEs:
			ctes = append(ctes, tooManyCTEs)
		}
		t = l.next()
		if !t.is(',') {
			return t, ctes
		}
		t = l.next()
	}
}

// skipParens skips to just after the parenthesis that closes one already
// read, and reports whether there was one (false at the end of the text).
func skipParens(l *lexer) bool {
	depth := 1
	for depth > 0 {
		t := l.next()
		switch {
		case t.kind == tokEOF:
			return false
		case t.is('('):
			depth++
		case t.is(')'):
			depth--
		}
	}
	return true
}

// fromSource finds the tables a SELECT reads at the given parenthesis depth,
// after FROM and JOIN, and returns the first that is a table or a common
// table expression reading one. FROM (subquery) looks into the subquery.
func fromSource(l *lexer, base int, ctes []cte) string {
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
		case depth == base && (t.kw("from") || t.kw("join")):
			save := *l
			if l.next().is('(') {
				base++
				depth = base
				continue
			}
			*l = save
			if src := resolve(ctes, tableName(l)); src != SourceNone {
				return src
			}
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

package dbmetrics

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadSQL(t *testing.T) {
	tests := []struct{ name, sql, op, src string }{
		{"select", "SELECT id, body FROM comments WHERE id = ?", OpSelect, "comments"},
		{"select lower", "select * from comments", OpSelect, "comments"},
		{"select mixed case table", "SELECT * FROM Comments", OpSelect, "comments"},
		{"select schema quoted", `SELECT * FROM "public"."Comments" c`, OpSelect, "comments"},
		{"select schema plain", "SELECT * FROM public.comments", OpSelect, "comments"},
		{"select backticks", "SELECT * FROM `main`.`videos`", OpSelect, "videos"},
		{"select brackets", "SELECT * FROM [videos]", OpSelect, "videos"},
		{"select no table", "SELECT 1", OpSelect, SourceNone},
		{"select function in list", "SELECT extract(year FROM created_at) FROM comments", OpSelect, "comments"},
		{"select subquery in list", "SELECT (SELECT count(*) FROM likes) AS n FROM comments", OpSelect, "comments"},
		{"select from subquery", "SELECT count(*) FROM (SELECT id FROM comments WHERE x) AS t", OpSelect, "comments"},
		{"select string with from", "SELECT 'x FROM y' FROM comments", OpSelect, "comments"},
		{"select dollar string", "SELECT $q$ FROM y $q$ FROM comments WHERE id = $1", OpSelect, "comments"},
		{"select only", "SELECT * FROM ONLY comments", OpSelect, "comments"},
		{"select join", "SELECT * FROM videos v JOIN comments c ON c.video_id = v.id", OpSelect, "videos"},
		{"select parenthesised", "(SELECT id FROM comments) UNION (SELECT id FROM videos)", OpSelect, "comments"},
		{"select line comment", "-- find one\nSELECT * FROM comments", OpSelect, "comments"},
		{"select block comment", "/* sqlx */ SELECT * FROM comments", OpSelect, "comments"},
		{"select comment in middle", "SELECT * /* FROM x */ FROM comments", OpSelect, "comments"},
		{"select whitespace", "\n\t  SELECT\n*\nFROM\n\tcomments  ", OpSelect, "comments"},
		{"select recursive cte reading no table", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 10) SELECT count(*) FROM c", OpSelect, SourceNone},
		{"select two ctes", "WITH a AS (SELECT 1), b AS MATERIALIZED (SELECT 2) SELECT * FROM comments", OpSelect, "comments"},
		{"select from a cte is its table", "WITH recent AS (SELECT * FROM comments WHERE id > ?) SELECT count(*) FROM recent", OpSelect, "comments"},
		{"select from a quoted cte", `WITH "Recent" AS (SELECT * FROM "Comments") SELECT * FROM "Recent"`, OpSelect, "comments"},
		{"recursive cte over a table", "WITH RECURSIVE thread(id, parent_id) AS (SELECT id, parent_id FROM comments WHERE id = $1 " +
			"UNION ALL SELECT c.id, c.parent_id FROM comments c JOIN thread t ON c.parent_id = t.id) SELECT * FROM thread", OpSelect, "comments"},
		{"recursive cte whose anchor reads no table", "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM t JOIN videos v ON v.id = t.n) SELECT * FROM t", OpSelect, "videos"},
		{"cte of a cte", "WITH a AS (SELECT * FROM likes), b AS (SELECT * FROM a) SELECT * FROM b", OpSelect, "likes"},
		{"cte reading no table, then a join", "WITH ids(n) AS (VALUES (1), (2)) SELECT * FROM ids JOIN comments ON comments.id = ids.n", OpSelect, "comments"},
		{"cte writing a table", "WITH moved AS (DELETE FROM comments WHERE id < $1 RETURNING *) SELECT count(*) FROM moved", OpSelect, "comments"},
		{"cte writing, main insert", "WITH moved AS (DELETE FROM comments RETURNING *) INSERT INTO archive SELECT * FROM moved", OpInsert, "archive"},
		{"cte named like a table elsewhere", "WITH comments AS (SELECT * FROM videos) SELECT * FROM comments", OpSelect, "videos"},
		{"nested with in a cte", "WITH a AS (WITH b AS (SELECT * FROM likes) SELECT * FROM b) SELECT * FROM a", OpSelect, "likes"},
		{"with deeper than the budget", "WITH a AS (WITH b AS (WITH c AS (WITH d AS (WITH e AS (SELECT * FROM likes) SELECT * FROM e) SELECT * FROM d) SELECT * FROM c) SELECT * FROM b) SELECT * FROM a", OpSelect, SourceUnknown},
		{"unterminated cte", "WITH a AS (SELECT * FROM likes", OpOther, SourceUnknown},
		{"values", "VALUES (1), (2)", OpSelect, SourceNone},
		{"select join after a subquery with no table", "SELECT * FROM (SELECT 1) s", OpSelect, SourceNone},
		{"insert", "INSERT INTO comments (body) VALUES (?)", OpInsert, "comments"},
		{"insert returning", "INSERT INTO comments (body) VALUES ($1) RETURNING id", OpInsert, "comments"},
		{"insert or replace", "INSERT OR REPLACE INTO comments VALUES (1)", OpInsert, "comments"},
		{"insert select", "INSERT INTO archive SELECT * FROM comments", OpInsert, "archive"},
		{"insert on conflict", "insert into likes(id) values (1) on conflict do nothing", OpInsert, "likes"},
		{"replace", "REPLACE INTO comments VALUES (1)", OpInsert, "comments"},
		{"upsert", "UPSERT INTO comments VALUES (1)", OpInsert, "comments"},
		{"with insert", "WITH x AS (SELECT 1) INSERT INTO comments SELECT * FROM x", OpInsert, "comments"},
		{"update", "UPDATE comments SET body = ? WHERE id = ?", OpUpdate, "comments"},
		{"update or", "UPDATE OR IGNORE comments SET body = ?", OpUpdate, "comments"},
		{"update only schema", "UPDATE ONLY public.comments SET x = 1", OpUpdate, "comments"},
		{"update from", "UPDATE comments SET n = v.n FROM videos v", OpUpdate, "comments"},
		{"delete", "DELETE FROM comments WHERE id = ?", OpDelete, "comments"},
		{"delete returning", "delete from comments where id = $1 returning id", OpDelete, "comments"},
		{"delete without from", "DELETE comments", OpDelete, SourceUnknown},
		{"begin", "BEGIN", OpBegin, SourceNone},
		{"start transaction", "START TRANSACTION", OpBegin, SourceNone},
		{"commit", "COMMIT;", OpCommit, SourceNone},
		{"end", "END", OpCommit, SourceNone},
		{"rollback", "ROLLBACK", OpRollback, SourceNone},
		{"create table", "CREATE TABLE comments (id INTEGER)", OpCreate, "comments"},
		{"create table if not exists", "CREATE TABLE IF NOT EXISTS comments (\n\tid INTEGER PRIMARY KEY AUTOINCREMENT\n)", OpCreate, "comments"},
		{"create temp table", "create temporary table if not exists Scratch (x int)", OpCreate, "scratch"},
		{"create unlogged table schema", `CREATE UNLOGGED TABLE "public"."Events" (id bigint)`, OpCreate, "events"},
		{"create table as", "CREATE TABLE archive AS SELECT * FROM comments", OpCreate, "archive"},
		{"create virtual table", "CREATE VIRTUAL TABLE search USING fts5(body)", OpCreate, "search"},
		{"create view", "CREATE OR REPLACE VIEW recent AS SELECT * FROM comments", OpCreate, "recent"},
		{"create materialized view", "CREATE MATERIALIZED VIEW IF NOT EXISTS stats AS SELECT 1", OpCreate, "stats"},
		{"create index", "CREATE INDEX IF NOT EXISTS comments_video_id_id ON comments (video_id, id)", OpCreate, "comments"},
		{"create unique index concurrently", "CREATE UNIQUE INDEX CONCURRENTLY ON ONLY public.comments (id)", OpCreate, "comments"},
		{"create index with expression", "CREATE INDEX i ON videos ((lower(title)))", OpCreate, "videos"},
		{"create trigger", "CREATE TRIGGER t AFTER INSERT ON comments BEGIN UPDATE videos SET n = n + 1; END", OpCreate, "comments"},
		{"create sequence", "CREATE SEQUENCE comment_ids", OpCreate, "comment_ids"},
		{"create schema", "CREATE SCHEMA app", OpCreate, SourceNone},
		{"create function", "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 FROM comments $$ LANGUAGE sql", OpCreate, SourceNone},
		{"create nothing", "CREATE", OpCreate, SourceUnknown},
		{"alter table", "ALTER TABLE comments ADD COLUMN likes INTEGER", OpAlter, "comments"},
		{"alter table if exists only", "ALTER TABLE IF EXISTS ONLY public.comments RENAME TO notes", OpAlter, "comments"},
		{"alter index", "ALTER INDEX comments_idx RENAME TO x", OpAlter, SourceNone},
		{"drop table", "DROP TABLE comments", OpDrop, "comments"},
		{"drop table if exists several", "drop table if exists Comments, videos cascade", OpDrop, "comments"},
		{"drop view", "DROP MATERIALIZED VIEW IF EXISTS stats", OpDrop, "stats"},
		{"drop index", "DROP INDEX IF EXISTS comments_idx", OpDrop, SourceNone},
		{"drop trigger on", "DROP TRIGGER IF EXISTS t ON comments", OpDrop, "comments"},
		{"drop trigger sqlite", "DROP TRIGGER IF EXISTS t", OpDrop, SourceNone},
		{"truncate", "TRUNCATE comments", OpTruncate, "comments"},
		{"truncate table only", "TRUNCATE TABLE ONLY public.comments RESTART IDENTITY", OpTruncate, "comments"},
		{"pragma", "PRAGMA journal_mode=WAL", OpOther, SourceUnknown},
		{"empty", "", OpOther, SourceUnknown},
		{"only comment", "-- nothing", OpOther, SourceUnknown},
		{"garbage", ")))(((", OpOther, SourceUnknown},
		{"unterminated string", "SELECT 'abc FROM comments", OpSelect, SourceNone},
		{"unterminated comment", "/* SELECT * FROM comments", OpOther, SourceUnknown},
		{"table with dollar", "SELECT * FROM a$b", OpSelect, SourceUnknown},
		{"table unicode", "SELECT * FROM \"kommentäre\"", OpSelect, SourceUnknown},
		{"table too long", "SELECT * FROM " + strings.Repeat("t", 64), OpSelect, SourceUnknown},
		{"table longest", "SELECT * FROM " + strings.Repeat("t", 63), OpSelect, strings.Repeat("t", 63)},
		{"placeholder after from", "SELECT * FROM $1", OpSelect, SourceUnknown},
	}
	var many strings.Builder
	many.WriteString("WITH c0 AS (SELECT * FROM likes)")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&many, ", c%d AS (SELECT * FROM c%d)", i, i-1)
	}
	tests = append(tests,
		struct{ name, sql, op, src string }{"first of many ctes", many.String() + " SELECT * FROM c0", OpSelect, "likes"},
		struct{ name, sql, op, src string }{"last remembered of many ctes", many.String() + " SELECT * FROM c31", OpSelect, "likes"},
		struct{ name, sql, op, src string }{"past the ctes remembered", many.String() + " SELECT * FROM c39", OpSelect, SourceUnknown},
		struct{ name, sql, op, src string }{"a table past the ctes remembered", many.String() + " SELECT * FROM comments", OpSelect, SourceUnknown},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, src := readSQL(tt.sql)
			if op != tt.op || src != tt.src {
				t.Errorf("readSQL(%q) = %q, %q; want %q, %q", tt.sql, op, src, tt.op, tt.src)
			}
		})
	}
}

func TestShortenSQL(t *testing.T) {
	tests := []struct {
		name, sql string
		max       int
		want      string
	}{
		{"collapse", "  SELECT *\n\t FROM   comments \n", 200, "SELECT * FROM comments"},
		{"exact fit", "SELECT 1", 8, "SELECT 1"},
		{"cut trims space", "SELECT * FROM comments", 10, "SELECT *…"},
		{"cut", "SELECT * FROM comments", 12, "SELECT * FR…"},
		{"cut before space", "SELECT * FROM comments", 9, "SELECT *…"},
		{"multibyte", "SELECT 'ééééé'", 10, "SELECT 'é…"},
		{"invalid utf8", "SELECT '\xff'", 200, "SELECT '\uFFFD'"},
		{"one", "SELECT", 1, "…"},
		{"max 1<<61", "  SELECT\n 1 ", 1 << 61, "SELECT 1"},
		{"max MaxInt", "SELECT 1", math.MaxInt, "SELECT 1"},
		{"max just over len/4", strings.Repeat("x", 12), 3, "xx…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("shortenSQL(%q, %d) panicked: %v", tt.sql, tt.max, v)
				}
			}()
			if got := shortenSQL(tt.sql, tt.max); got != tt.want {
				t.Errorf("shortenSQL(%q, %d) = %q; want %q", tt.sql, tt.max, got, tt.want)
			}
		})
	}
}

var validOps = map[string]bool{OpSelect: true, OpInsert: true, OpUpdate: true, OpDelete: true, OpBegin: true, OpCommit: true, OpRollback: true,
	OpCreate: true, OpAlter: true, OpDrop: true, OpTruncate: true, OpOther: true}

func FuzzReadSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM comments", `INSERT INTO "a"."b" VALUES ($1)`, "WITH RECURSIVE x AS (SELECT 1) SELECT * FROM x",
		"/* c */ -- d\nUPDATE t SET a=1", "DELETE FROM [t]", "SELECT $$ FROM $$ FROM t", "(((", "SELECT * FROM (",
		"WITH", "WITH a(", "INSERT OR", "SELECT 'é' FROM `ü`", "\xff\xfe",
		"CREATE TABLE IF NOT EXISTS t (x)", "CREATE INDEX i ON t (x)", "DROP TABLE IF EXISTS a, b", "TRUNCATE TABLE ONLY t",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT * FROM c JOIN t",
		"WITH a AS (WITH b AS (WITH c AS (SELECT * FROM t) SELECT * FROM c) SELECT * FROM b) SELECT * FROM a",
	} {
		f.Add(s, 40)
	}
	f.Fuzz(func(t *testing.T, q string, max int) {
		op, src := readSQL(q)
		if !validOps[op] {
			t.Fatalf("readSQL(%q) operation %q", q, op)
		}
		if len(src) == 0 || len(src) > maxIdentLen {
			t.Fatalf("readSQL(%q) source %q: length out of bounds", q, src)
		}
		for i := 0; i < len(src); i++ {
			if c := src[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
				t.Fatalf("readSQL(%q) source %q: byte %q is not a lower-case identifier byte", q, src, c)
			}
		}
		if max < 1 || max > 1000 {
			return
		}
		s := shortenSQL(q, max)
		if n := utf8.RuneCountInString(s); n > max {
			t.Fatalf("shortenSQL(%q, %d) = %q: %d runes", q, max, s, n)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("shortenSQL(%q, %d) = %q: invalid UTF-8", q, max, s)
		}
	})
}

package dbmetrics

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadSQL(t *testing.T) {
	tests := []struct {
		name, sql string
		op, src   string
	}{
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
		{"select recursive cte", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 10) SELECT count(*) FROM c", OpSelect, "c"},
		{"select two ctes", "WITH a AS (SELECT 1), b AS MATERIALIZED (SELECT 2) SELECT * FROM comments", OpSelect, "comments"},
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
		{"create table", "CREATE TABLE comments (id INTEGER)", OpOther, SourceUnknown},
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

var validOps = map[string]bool{OpSelect: true, OpInsert: true, OpUpdate: true, OpDelete: true, OpBegin: true, OpCommit: true, OpRollback: true, OpOther: true}

func FuzzReadSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM comments", `INSERT INTO "a"."b" VALUES ($1)`, "WITH RECURSIVE x AS (SELECT 1) SELECT * FROM x",
		"/* c */ -- d\nUPDATE t SET a=1", "DELETE FROM [t]", "SELECT $$ FROM $$ FROM t", "(((", "SELECT * FROM (",
		"WITH", "WITH a(", "INSERT OR", "SELECT 'é' FROM `ü`", "\xff\xfe",
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

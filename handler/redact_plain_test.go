package handler

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/hostile"
)

// The fast path of Redact (plain) may only pass on, unchanged, records
// that the Limiter would have passed on unchanged. These tests hold it to
// that: by comparing the two on many records, and by checking that records
// whose secret hides where plain does not look are still redacted.

// plainAttrPool is what the records of TestRedactPlainAgreesWithLimiter
// are drawn from: plain scalars and strings, sensitive keys, keys and
// values at the edges of a small budget, and every shape plain must leave
// to the Limiter.
func plainAttrPool() (plain, edge, other []slog.Attr) {
	credentials := valuer(func() slog.Value { return slog.GroupValue(slog.String("password", "p")) })
	plain = []slog.Attr{
		slog.Int("a", 1), slog.Int64("n", -1), slog.Uint64("u", 1), slog.Float64("f", 1.5),
		slog.Bool("ok", true), slog.Duration("d", time.Second), slog.Time("t", time.Unix(0, 0)),
		slog.String("c", "three"), slog.String("user_id", "42"), slog.String("route", "/x"),
		slog.String("", "empty key"), slog.Attr{},
	}
	edge = []slog.Attr{
		// Sensitive keys, of every kind plain accepts.
		slog.String("password", "p"), slog.Int("api_key", 1), slog.Bool("Token", true),
		slog.String("to\u212Aen", "kelvin"), slog.String("pwd", "p"), slog.String("x-api-keys", "k"),
		// Near misses of the letter filter.
		slog.String("keyboard", "k"), slog.String("tokenizer", "t"), slog.String("secretary", "s"),
		slog.String("passwordless", "yes"),
		// At and past the budget of the test (MaxValueBytes 16).
		slog.String("sixteen_bytes_ok", "0123456789abcdef"), slog.String("v", "0123456789abcdefX"),
		slog.String(strings.Repeat("k", 17), "long key"), slog.Int(strings.Repeat("p", 16), 1),
		slog.String("bulk", "0123456789abcdef"), slog.String("bulk_too", "0123456789abcdef"),
	}
	other = []slog.Attr{
		// Shapes plain leaves to the Limiter.
		slog.Group("g", slog.String("password", "p")), slog.Group("g", slog.Int("a", 1)),
		slog.Group("", slog.String("token", "t")), slog.Group("empty"),
		slog.Any("login", credentials), slog.Any("v", valuer(func() slog.Value { return slog.IntValue(1) })),
		slog.Any("m", map[string]string{"password": "p"}), slog.Any("h", http.Header{"Cookie": {"c"}}),
		slog.Any("err", errors.New("boom")), slog.Any("nil", nil), slog.Any("i", 3),
		slog.Any("s", []string{"a"}), slog.Any("p", &struct{ Password string }{"p"}),
	}
	for _, c := range hostile.Cases() {
		other = append(other, c.Attrs...)
	}
	return plain, edge, other
}

func TestRedactPlainAgreesWithLimiter(t *testing.T) {
	plain, edge, other := plainAttrPool()
	small := &RedactOptions{Budget: Budget{MaxValueBytes: 16, MaxAttrs: 6, MaxRecordBytes: 80}}
	roots := []*redactHandler{
		Redact(slog.DiscardHandler, nil).(*redactHandler),
		Redact(slog.DiscardHandler, small).(*redactHandler),
		Redact(slog.DiscardHandler, &RedactOptions{NoDefaultWords: true, Keys: []string{"ssn"}}).(*redactHandler),
		Redact(slog.DiscardHandler, &RedactOptions{NoDefaultWords: true}).(*redactHandler),
	}
	var handlers []*redactHandler
	for _, h := range roots {
		handlers = append(handlers, h,
			h.WithGroup("req").(*redactHandler),
			h.WithGroup("Cookie").(*redactHandler), // every value below is sensitive
			h.WithAttrs([]slog.Attr{slog.String("password", "p")}).(*redactHandler))
	}
	messages := []string{"m", "", strings.Repeat("x", 16), strings.Repeat("x", 17), strings.Repeat("y", 70)}
	rng := rand.New(rand.NewPCG(1, 2))
	accepted, checked := 0, 0
	for range 20000 {
		h := handlers[rng.IntN(len(handlers))]
		r := slog.NewRecord(time.Now(), slog.LevelInfo, messages[rng.IntN(len(messages))], 0)
		// Mostly the attributes plain accepts, so that it does accept;
		// up to 9, past the five a record holds inline and MaxAttrs.
		for range rng.IntN(10) {
			switch pool := rng.IntN(20); {
			case pool < 12:
				r.AddAttrs(plain[rng.IntN(len(plain))])
			case pool < 18:
				r.AddAttrs(edge[rng.IntN(len(edge))])
			default:
				r.AddAttrs(other[rng.IntN(len(other))])
			}
		}
		checked++
		if !h.plain(&r) {
			continue
		}
		accepted++
		if _, changed := h.lim.Record(r, h.depth, h.all); changed {
			t.Fatalf("plain passed on a record the Limiter rewrites (budget %+v, all %v): %q %v",
				h.b, h.all, r.Message, attrsOf(r))
		}
	}
	// The comparison is worth something only if both answers occur.
	if accepted < checked/10 || accepted > checked*9/10 {
		t.Fatalf("plain accepted %d of %d records; the pool no longer exercises both paths", accepted, checked)
	}
}

// Records with plain attributes around a secret that plain cannot see
// (in a group, behind a LogValuer, in a map, in a clone) are redacted, and
// so are plain attributes in a handler derived with a sensitive group.
func TestRedactPlainLeavesHiddenSecrets(t *testing.T) {
	login := valuer(func() slog.Value { return slog.GroupValue(slog.String("Password", "hunter2")) })
	lead := []any{"a", 1, "b", 2, "c", "three"}
	tests := []struct {
		name string
		with func(slog.Handler) slog.Handler
		args []any
		want string
	}{
		{"nested group", nil, append(lead, slog.Group("http", slog.Group("headers", slog.String("Authorization", "hunter2")))),
			`"http":{"headers":{"Authorization":"[REDACTED]"}}`},
		{"LogValuer", nil, append(lead, "login", login), `"login":{"Password":"[REDACTED]"}`},
		{"kind Any map", nil, append(lead, "m", map[string]any{"token": "hunter2"}), `"m":{"token":"[REDACTED]"}`},
		{"kind Any struct", nil, append(lead, "s", struct{ Secret string }{"hunter2"}), `"Secret":"[REDACTED]"`},
		{"sixth attribute", nil, append(lead, "d", 4, "e", 5, "cookie", "hunter2"), `"cookie":"[REDACTED]"`},
		{"WithAttrs clone", func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("api_key", "hunter2")})
		}, lead, `"api_key":"[REDACTED]"`},
		{"WithGroup clone with a sensitive name", func(h slog.Handler) slog.Handler {
			return h.WithGroup("secret")
		}, append(lead, "note", "hunter2"), `"secret":{"a":"[REDACTED]","b":"[REDACTED]","c":"[REDACTED]","note":"[REDACTED]"}`},
		{"WithGroup clone", func(h slog.Handler) slog.Handler {
			return h.WithGroup("req")
		}, append(lead, "Token", "hunter2"), `"req":{"a":1,"b":2,"c":"three","Token":"[REDACTED]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := Redact(slog.NewJSONHandler(&buf, nil), nil)
			if tt.with != nil {
				h = tt.with(h)
			}
			slog.New(h).Info("m", tt.args...)
			out := buf.String()
			if strings.Contains(out, "hunter2") {
				t.Errorf("the secret reached the output: %s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("got %s\nwant it to contain %s", out, tt.want)
			}
		})
	}
}

// Records of plain attributes are still held to the budget: plain hands
// those past it to the Limiter.
func TestRedactPlainKeepsBudget(t *testing.T) {
	opts := &RedactOptions{Budget: Budget{MaxValueBytes: 8, MaxAttrs: 3, MaxRecordBytes: 40}}
	tests := []struct {
		name string
		msg  string
		args []any
		want string
	}{
		{"long message", "0123456789", []any{"a", 1}, `"msg":"01234567!TRUNCATED"`},
		{"long value", "m", []any{"a", "0123456789"}, `"a":"01234567!TRUNCATED"`},
		{"long key", "m", []any{"0123456789", 1}, `"01234567!TRUNCATED":1`},
		{"too many attributes", "m", []any{"a", 1, "b", 2, "c", 3, "d", 4}, `"!ATTRS":1`},
		{"too many bytes", "01234567", []any{"k1234567", "01234567", "k2345678", "01234567", "k3456789", "01234567"}, `"!ATTRS":1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(Redact(slog.NewJSONHandler(&buf, nil), opts)).Info(tt.msg, tt.args...)
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("got %s\nwant it to contain %s", buf.String(), tt.want)
			}
		})
	}
}

// The letter filter in front of the key set changes the cost of a match,
// never its answer.
func FuzzKeyFilter(f *testing.F) {
	for _, s := range []string{"db_password", "X-Api-Key", "to\u212Aen", "APIKeys", "a", "\xff", "status_code",
		"keyboard", "tokenizer", "SSN", "user-ssn", "jwt", "pwds", "ſecret"} {
		f.Add(s)
	}
	sets := []*keySet{newKeySet(DefaultRedactWords), newKeySet(DefaultRedactWords, []string{"card-number", "SSN", "Ärger", "kö"})}
	f.Fuzz(func(t *testing.T, k string) {
		for _, ks := range sets {
			if got, want := newKeyFilter(ks).match(k), ks.match(k); got != want {
				t.Errorf("filter match(%q) = %v, key set says %v", k, got, want)
			}
		}
	})
}

package handler

import (
	"bytes"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

func TestRedactSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return Redact(slog.NewJSONHandler(&buf, nil), nil)
	}, func(t *testing.T) map[string]any { return jsonLine(t, &buf) })
}

// valuer is a LogValuer, as a user type that logs itself would be.
type valuer func() slog.Value

func (v valuer) LogValue() slog.Value { return v() }

func TestRedact(t *testing.T) {
	credentials := valuer(func() slog.Value {
		return slog.GroupValue(slog.String("user", "ann"), slog.String("Password", "hunter2"))
	})
	plain := valuer(func() slog.Value { return slog.StringValue("resolved") })
	tests := []struct {
		name  string
		keys  []string
		with  func(slog.Handler) slog.Handler
		attrs []slog.Attr
		want  map[string]any
	}{
		{
			name:  "nothing sensitive",
			attrs: []slog.Attr{slog.Int("a", 1), slog.String("user", "ann"), slog.String("passwordless", "yes"), slog.String("keyboard", "k")},
			want:  map[string]any{"a": 1.0, "user": "ann", "passwordless": "yes", "keyboard": "k"},
		},
		{
			name: "default keys",
			attrs: []slog.Attr{
				slog.String("password", "p"), slog.String("passwd", "p"), slog.String("secret", "s"),
				slog.String("token", "t"), slog.String("api_key", "k"), slog.String("apikey", "k"),
				slog.String("authorization", "Bearer x"), slog.String("cookie", "c"), slog.String("set-cookie", "c"),
				slog.String("user", "ann"),
			},
			want: map[string]any{
				"password": Redacted, "passwd": Redacted, "secret": Redacted, "token": Redacted,
				"api_key": Redacted, "apikey": Redacted, "authorization": Redacted, "cookie": Redacted,
				"set-cookie": Redacted, "user": "ann",
			},
		},
		{
			name:  "mixed case",
			attrs: []slog.Attr{slog.String("PassWord", "p"), slog.String("Authorization", "x"), slog.String("API_KEY", "k"), slog.String("Set-Cookie", "c")},
			want:  map[string]any{"PassWord": Redacted, "Authorization": Redacted, "API_KEY": Redacted, "Set-Cookie": Redacted},
		},
		{
			name:  "unicode folding",
			attrs: []slog.Attr{slog.String("to\u212Aen", "t"), slog.String("tökén", "ok")}, // KELVIN SIGN folds to k
			want:  map[string]any{"to\u212Aen": Redacted, "tökén": "ok"},
		},
		{
			name: "nested groups",
			attrs: []slog.Attr{slog.Group("http",
				slog.String("method", "GET"),
				slog.Group("headers", slog.String("Authorization", "Bearer x"), slog.String("Accept", "json")),
			)},
			want: map[string]any{"http": map[string]any{
				"method":  "GET",
				"headers": map[string]any{"Authorization": Redacted, "Accept": "json"},
			}},
		},
		{
			name:  "group named by a sensitive key",
			attrs: []slog.Attr{slog.Group("Secret", slog.String("a", "1"), slog.String("b", "2")), slog.Int("n", 1)},
			want:  map[string]any{"Secret": Redacted, "n": 1.0},
		},
		{
			name:  "inline group",
			attrs: []slog.Attr{slog.Group("", slog.String("token", "t"), slog.Int("n", 1))},
			want:  map[string]any{"token": Redacted, "n": 1.0},
		},
		{
			name:  "LogValuer hiding a secret",
			attrs: []slog.Attr{slog.Any("login", credentials)},
			want:  map[string]any{"login": map[string]any{"user": "ann", "Password": Redacted}},
		},
		{
			name:  "LogValuer inside a group",
			attrs: []slog.Attr{slog.Group("req", slog.Any("login", credentials))},
			want:  map[string]any{"req": map[string]any{"login": map[string]any{"user": "ann", "Password": Redacted}}},
		},
		{
			name:  "LogValuer under a sensitive key",
			attrs: []slog.Attr{slog.Any("token", plain)},
			want:  map[string]any{"token": Redacted},
		},
		{
			name:  "plain LogValuer resolved",
			attrs: []slog.Attr{slog.Any("v", plain)},
			want:  map[string]any{"v": "resolved"},
		},
		{
			name:  "extra keys",
			keys:  []string{"SSN", "", "card-number"},
			attrs: []slog.Attr{slog.String("ssn", "1"), slog.String("Card-Number", "4111"), slog.String("password", "p")},
			want:  map[string]any{"ssn": Redacted, "Card-Number": Redacted, "password": Redacted},
		},
		{
			name: "With attrs",
			with: func(h slog.Handler) slog.Handler {
				return h.WithAttrs([]slog.Attr{slog.String("api_key", "k"), slog.Any("login", credentials), slog.String("svc", "x")})
			},
			attrs: []slog.Attr{slog.Int("a", 1)},
			want: map[string]any{
				"api_key": Redacted, "login": map[string]any{"user": "ann", "Password": Redacted}, "svc": "x", "a": 1.0,
			},
		},
		{
			name: "With attrs in a group",
			with: func(h slog.Handler) slog.Handler {
				return h.WithGroup("auth").WithAttrs([]slog.Attr{slog.String("Token", "t")})
			},
			attrs: []slog.Attr{slog.String("cookie", "c")},
			want:  map[string]any{"auth": map[string]any{"Token": Redacted, "cookie": Redacted}},
		},
		{
			name:  "WithGroup named by a sensitive key",
			with:  func(h slog.Handler) slog.Handler { return h.WithGroup("Cookie") },
			attrs: []slog.Attr{slog.String("session", "s"), slog.Group("g", slog.Int("n", 1))},
			want:  map[string]any{"Cookie": map[string]any{"session": Redacted, "g": map[string]any{"n": Redacted}}},
		},
		{
			name: "more than five attributes",
			attrs: []slog.Attr{
				slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5),
				slog.String("secret", "s"), slog.Int("f", 6),
			},
			want: map[string]any{"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0, "secret": Redacted, "f": 6.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := Redact(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropBuiltins}), &RedactOptions{Keys: tt.keys})
			if tt.with != nil {
				h = tt.with(h)
			}
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
			r.AddAttrs(tt.attrs...)
			before := attrsOf(r)
			if err := h.Handle(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			if got := jsonLine(t, &buf); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			if after := attrsOf(r); !reflect.DeepEqual(after, before) {
				t.Errorf("caller's record changed: %v, was %v", after, before)
			}
		})
	}
}

// dropBuiltins removes time, level and message so that a JSON line holds
// only the attributes.
func dropBuiltins(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
		return slog.Attr{}
	}
	return a
}

func attrsOf(r slog.Record) []string {
	var out []string
	r.Attrs(func(a slog.Attr) bool {
		out = append(out, a.String())
		return true
	})
	return out
}

func TestRedactPanicsOnNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Redact(nil) did not panic")
		}
	}()
	Redact(nil, nil)
}

func TestRedactMaps(t *testing.T) {
	hdr := http.Header{"Authorization": {"Bearer abc"}, "Accept": {"*/*"}, "Cookie": {"sid=1"}}
	tests := []struct {
		name string
		attr slog.Attr
		want string // the JSON handler's output for the attribute
	}{
		{"http.Header", slog.Any("headers", hdr),
			`"headers":{"Accept":["*/*"],"Authorization":"[REDACTED]","Cookie":"[REDACTED]"}`},
		{"map[string]string", slog.Any("m", map[string]string{"user": "u", "PASSWORD": "p"}),
			`"m":{"PASSWORD":"[REDACTED]","user":"u"}`},
		{"nested map[string]any", slog.Any("m", map[string]any{"db": map[string]any{"token": "t", "host": "h"}}),
			`"m":{"db":{"host":"h","token":"[REDACTED]"}}`},
		{"map without a sensitive key is left as it is", slog.Any("m", map[string]string{"a": "b"}),
			`"m":{"a":"b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(Redact(slog.NewJSONHandler(&buf, nil), nil))
			l.Info("msg", tt.attr)
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("got %s\nwant it to contain %s", buf.String(), tt.want)
			}
			if strings.Contains(buf.String(), "abc") || strings.Contains(buf.String(), `"t"`) {
				t.Errorf("a secret reached the output: %s", buf.String())
			}
		})
	}
}

// Records with plain attributes around a secret that a look at the top
// keys cannot see (in a group, behind a LogValuer, in a map, in a clone)
// are redacted, and so are plain attributes in a handler derived with a
// sensitive group.
func TestRedactHiddenSecrets(t *testing.T) {
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

// Records of plain attributes are held to the budget.
func TestRedactKeepsBudget(t *testing.T) {
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

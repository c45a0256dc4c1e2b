package observability

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/internal/hostile"
)

// FuzzPipeline logs fuzzed keys, values, pre-encoded JSON and nesting
// through Setup's JSON logger, with a secret hidden under sensitive keys
// in every shape, and checks: no panic, every line valid JSON, no secret.
func FuzzPipeline(f *testing.F) {
	f.Add("user", "ann", []byte(`{"a":1}`), uint8(3), 1.5)
	f.Add("Pass\u212Aword", "\xff\xfe", []byte(`[[[[[[[[[[{"token":"x"}]]]]]]]]]]`), uint8(200), 0.0)
	f.Add("", "", []byte(`null`), uint8(0), 0.0)
	f.Add("k\x00\n\"", strings.Repeat("é", 100), []byte(`{"a":`), uint8(40), -1.0)
	out := &syncBuffer{}
	tel, err := Setup(context.Background(), quietConfig(FormatJSON, out))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { tel.Shutdown(context.Background()) })
	const secret = hostile.Secret
	f.Fuzz(func(t *testing.T, key, value string, raw []byte, depth uint8, num float64) {
		out.mu.Lock()
		out.b.Reset()
		out.mu.Unlock()
		nested := any(map[string]any{"password": secret, key: value})
		group := slog.Group(key, slog.String("api_key", secret), slog.String(key, value))
		for range int(depth) {
			nested = map[string]any{key: nested, "n": num}
			group = slog.Group(key, group, slog.Float64("n", num))
		}
		rawSecret := json.RawMessage(`{` + strconv.Quote(key) + `:{"client_secret":"` + secret + `"}}`)
		l := tel.Logger.With(key, value)
		if depth%2 == 1 {
			l = l.WithGroup(key)
		}
		l.Info(value,
			slog.String(key, value),
			slog.Any("raw", json.RawMessage(raw)),
			slog.Any("nested", nested),
			group,
			slog.Any("rawSecret", rawSecret),
			slog.Any("ptr", &map[string]any{key: []any{map[string]string{"X-Api-Key": secret}}}),
			slog.Any("err", errors.New(value)),
			slog.Float64("num", num),
		)
		s := out.String()
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		if len(lines) != 1 {
			t.Fatalf("want one line, got %d: %.500q", len(lines), s)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
			t.Fatalf("not JSON (%v): %.500q", err, lines[0])
		}
		if strings.Contains(key+value+string(raw), secret) {
			return // the fuzzer wrote the secret itself, under its own key
		}
		if i := strings.Index(s, secret); i >= 0 {
			t.Fatalf("the secret reached the output: %.300q", s[max(0, i-200):])
		}
	})
}

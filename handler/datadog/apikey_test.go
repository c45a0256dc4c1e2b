package datadog

import (
	"log/slog"
	"strings"
	"testing"
)

// TestAPIKeyWhitespaceIsTrimmed: a key read from a secret file, with its
// newline, works; the intake sees the key alone.
func TestAPIKeyWhitespaceIsTrimmed(t *testing.T) {
	for _, key := range []string{testKey + "\n", testKey + "\r\n", " " + testKey + "\t", "\n" + testKey} {
		in := newIntake(t) // checks DD-API-KEY == testKey on every request
		o := Options{URL: in.url(), APIKey: key}
		h, err := newHandler(&o, fastRetry)
		if err != nil {
			t.Fatalf("New with key %q: %v", strings.ReplaceAll(key, testKey, "KEY"), err)
		}
		slog.New(h).Info("hello")
		flush(t, h)
		if s := h.Stats(); s.Sent != 1 {
			t.Errorf("key %q: Stats = %+v, want 1 sent", strings.ReplaceAll(key, testKey, "KEY"), s)
		}
		h.Close(t.Context())
	}
}

// TestAPIKeyWithControlCharacters: a control character inside the key is
// a configuration error naming the option and the variable, never the key.
func TestAPIKeyWithControlCharacters(t *testing.T) {
	const a, b = "0123456789abcdef", "fedcba9876543210"
	tests := []struct {
		name, key, what string
	}{
		{"newline inside", a + "\n" + b, `a newline, \n`},
		{"CRLF inside", a + "\r\n" + b, `a carriage return, \r`},
		{"NUL at the end", a + b + "\x00", "NUL"},
		{"NUL alone", "\x00", "NUL"},
		{"tab inside", a + "\t" + b, `a tab, \t`},
		{"DEL", a + "\x7f" + b, "U+007F"},
		{"escape", a + "\x1b" + b, "U+001B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(&Options{APIKey: tt.key, URL: "http://127.0.0.1:1/api/v2/logs"})
			if err == nil {
				h.Close(t.Context())
				t.Fatal("New accepted the key")
			}
			msg := err.Error()
			for _, want := range []string{"Options.APIKey", "DATADOG_API_KEY", tt.what} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			for _, part := range []string{a, b, a[:6], b[:6]} {
				if strings.Contains(msg, part) {
					t.Errorf("error %q shows part of the key (%q)", msg, part)
				}
			}
		})
	}
}

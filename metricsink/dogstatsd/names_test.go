package dogstatsd

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/realtimeserver/observability/metricsink"
)

func TestSanitizeName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"comments.created", "comments.created", true},
		{"db.pool.wait_seconds", "db.pool.wait_seconds", true},
		{"a-b c", "a_b_c", true},
		{"x:1|c\n", "x_1_c_", true},
		{"日本", "__", true},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := sanitizeName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("sanitizeName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzSeries checks that whatever names and tags a caller gives, the
// series sent has only characters DogStatsD can carry, and that nothing
// panics.
func FuzzSeries(f *testing.F) {
	f.Add("comments.created", "channel", "video", 0)
	f.Add("a b|c:d\n#", "k:|,#\r\n", "v|,#\n:", 3)
	f.Add("", "", "", 200)
	f.Add("日本.語", "ключ", "значение", 0)
	f.Fuzz(func(t *testing.T, name, key, value string, nsLen int) {
		if nsLen < 0 || nsLen > 300 {
			nsLen = 0
		}
		tags := metricsink.KV(key, value)
		list, _ := metricsink.View(&tags)
		sr := newSeries(name, list, nsLen)
		if sr.reason != 0 {
			return
		}
		if sr.name == "" || nsLen+len(sr.name) > maxNameLen {
			t.Fatalf("series name %q accepted for %q", sr.name, name)
		}
		for i := 0; i < len(sr.name); i++ {
			if !nameByte(sr.name[i]) {
				t.Fatalf("series name %q (from %q) holds %q", sr.name, name, sr.name[i])
			}
		}
		if again, _ := sanitizeName(sr.name); again != sr.name {
			t.Fatalf("sanitizeName is not idempotent: %q -> %q", sr.name, again)
		}
		if len(sr.tags) != 1 {
			t.Fatalf("tags = %q, want one", sr.tags)
		}
		k, v, ok := strings.Cut(sr.tags[0], ":")
		if !ok || k == "" {
			t.Fatalf("tag %q has no key", sr.tags[0])
		}
		if strings.ContainsAny(k, "|,#\r\n:") || strings.ContainsAny(v, "|,#\r\n") {
			t.Fatalf("tag %q (from %q, %q) breaks the protocol", sr.tags[0], key, value)
		}
		if again, ok := datadogTag(k, v); !ok || again != sr.tags[0] {
			t.Fatalf("Datadog's rules are not idempotent on %q: %q, %v", sr.tags[0], again, ok)
		}
		if n := utf8.RuneCountInString(sr.tags[0]); n > maxTagLen {
			t.Fatalf("tag %q has %d characters, more than %d", sr.tags[0], n, maxTagLen)
		}
		if strings.ToLower(sr.tags[0]) != sr.tags[0] || strings.Contains(sr.tags[0], "__") || strings.HasSuffix(sr.tags[0], "_") || strings.HasSuffix(sr.tags[0], ":") {
			t.Fatalf("tag %q breaks Datadog's rules (lower case, no \"__\", no trailing '_' or ':')", sr.tags[0])
		}
	})
}

// TestDatadogTagRules checks the tags sent against the rules Datadog
// documents for the tags it stores: what is sent is what Datadog shows.
func TestDatadogTagRules(t *testing.T) {
	tests := []struct {
		key, value string
		want       string
		ok         bool
	}{
		{"route", "/api/videos/{video_id}/comments", "route:/api/videos/_video_id_/comments", true},
		{"route", "/api/videos/{id}", "route:/api/videos/_id", true},
		{"Method", "GET", "method:get", true},
		{"channel", "video:42", "channel:video:42", true},
		{"k:ey", "v", "k_ey:v", true},
		{"status", "", "status:none", true},
		{"status", "!!!", "status:none", true},
		{"path", "a  b||c", "path:a_b_c", true},
		{"ville", "Zürich", "ville:zürich", true},
		{"bad", "\xff\xfe", "bad:none", true},
		{"1key", "v", "", false},
		{"", "v", "", false},
		{"_", "v", "", false},
		{"long", strings.Repeat("x", 300), "long:" + strings.Repeat("x", 195), true},
	}
	for _, tt := range tests {
		got, ok := datadogTag(tt.key, tt.value)
		if got != tt.want || ok != tt.ok {
			t.Errorf("datadogTag(%q, %q) = %q, %v; want %q, %v", tt.key, tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

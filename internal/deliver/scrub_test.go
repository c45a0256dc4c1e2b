package deliver

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

const secret = "Sk-Live/9f8e7d6c5b4a+3210=" // holds characters URL and base64 encodings change

// leaks reports the forms of secret that text still holds: the secret in
// any case, a prefix of 8 bytes or more, a URL or base64 encoding.
func leaks(text, secret string) []string {
	var out []string
	low := strings.ToLower(text)
	if strings.Contains(low, strings.ToLower(secret[:8])) {
		out = append(out, "prefix")
	}
	for _, f := range []string{url.QueryEscape(secret), url.PathEscape(secret)} {
		if strings.Contains(low, strings.ToLower(f[:8])) {
			out = append(out, "url "+f)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for _, p := range []string{"", "u", "us", "user:"} {
			e := enc.EncodeToString([]byte(p + secret))
			core := base64Core(enc.WithPadding(base64.NoPadding), secret, len(p)%3)
			if strings.Contains(text, core[:8]) {
				out = append(out, "base64 "+e)
			}
		}
	}
	return out
}

func TestScrubEveryForm(t *testing.T) {
	s := NewScrubber(" " + secret + "\n")
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	tests := []struct{ name, text string }{
		{"exact", "x-api-key: " + secret},
		{"upper", "X-API-KEY: " + strings.ToUpper(secret)},
		{"lower", "x-api-key: " + strings.ToLower(secret)},
		{"mixed", "key=" + strings.ToUpper(secret[:5]) + secret[5:]},
		{"prefix of 8", `body: {"headers":{"X-Api-Key":["` + secret[:8] + `…"]}}`},
		{"prefix of 12 twice", secret[:12] + " and " + secret[:12]},
		{"query escaped", "url: /x?key=" + url.QueryEscape(secret)},
		{"path escaped", "/keys/" + url.PathEscape(secret)},
		{"base64", "token " + base64.StdEncoding.EncodeToString([]byte(secret))},
		{"base64 url", "token " + base64.URLEncoding.EncodeToString([]byte(secret))},
		{"basic auth", "Authorization: Basic " + basic},
		{"base64 offset 1", base64.StdEncoding.EncodeToString([]byte("u" + secret))},
		{"base64 offset 2", base64.StdEncoding.EncodeToString([]byte("us" + secret))},
		{"json escaped", `{"k":"` + strings.ReplaceAll(secret, "/", `\/`) + `"}`},
	}
	for _, tt := range tests {
		got := s.Scrub(tt.text)
		if l := leaks(got, secret); len(l) > 0 {
			t.Errorf("%s: Scrub(%q) = %q still holds %v", tt.name, tt.text, got, l)
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("%s: Scrub(%q) = %q, want %s in it", tt.name, tt.text, got, Redacted)
		}
	}
}

// TestScrubCredentialsAfterAScheme: the token of "Bearer TOKEN" and the
// password inside "Basic BASE64" are secrets on their own, and the
// scheme's name is not.
func TestScrubCredentialsAfterAScheme(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("admin:pa55word-xyz"))
	s := NewScrubber("Bearer tok_0123456789abcdef", "Basic "+basic)
	for _, text := range []string{"invalid token tok_0123456789abcdef", "user admin with password pa55word-xyz", "got " + basic} {
		if got := s.Scrub(text); strings.Contains(got, "tok_0123") || strings.Contains(got, "pa55word") || strings.Contains(got, basic[:8]) {
			t.Errorf("Scrub(%q) = %q", text, got)
		}
	}
	if got := s.Scrub("the Bearer scheme"); got != "the Bearer scheme" {
		t.Errorf("Scrub scrubbed a scheme's name: %q", got)
	}
}

func TestScrubLeavesOtherText(t *testing.T) {
	s := NewScrubber(secret, "abc", "")
	for _, text := range []string{"", "connection refused", "503 Service Unavailable: abc", "Sk-Live is 7 bytes of it"} {
		if got := s.Scrub(text); got != text {
			t.Errorf("Scrub(%q) = %q, want it unchanged", text, got)
		}
	}
	var none *Scrubber
	if got := none.Scrub(secret); got != secret {
		t.Errorf("a nil Scrubber changed %q to %q", secret, got)
	}
	// A prefix of 7 bytes is not a secret's.
	if got := s.Scrub(secret[:7]); got != secret[:7] {
		t.Errorf("Scrub(%q) = %q", secret[:7], got)
	}
}

func FuzzScrub(f *testing.F) {
	f.Add("before ", "after", 0)
	f.Add("Basic ", "==", 2)
	f.Fuzz(func(t *testing.T, pre, post string, form int) {
		var enc string
		switch form % 4 {
		case 0:
			enc = secret
		case 1:
			enc = strings.ToUpper(secret)
		case 2:
			enc = base64.StdEncoding.EncodeToString([]byte(pre + secret))
			pre = ""
		default:
			enc = url.QueryEscape(secret)
		}
		got := NewScrubber(secret).Scrub(pre + enc + post)
		if strings.Contains(strings.ToLower(got), strings.ToLower(secret[:8])) {
			t.Errorf("Scrub left a prefix of the secret: %q", got)
		}
		if form%4 == 2 {
			core := base64Core(base64.RawStdEncoding, secret, 0)
			for pad := range 3 {
				core = base64Core(base64.RawStdEncoding, secret, pad)
				if strings.Contains(got, core[:8]) {
					t.Errorf("Scrub left base64 of the secret: %q", got)
				}
			}
		}
	})
}

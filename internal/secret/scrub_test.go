package secret

import (
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

const key = "Sk-Live/9f8e7d6c5b4a+3210=" // holds characters URL and base64 encodings change

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

// everyForm returns texts holding secret in each form a Scrubber removes.
func everyForm(secret string) []struct{ name, text string } {
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	return []struct{ name, text string }{
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
}

// TestScrubEveryForm: a key, and a password alike, is scrubbed in every
// form.
func TestScrubEveryForm(t *testing.T) {
	for _, s := range []struct {
		name string
		*Scrubber
	}{
		{"key", New([]string{" " + key + "\n"}, nil)},
		{"password", New(nil, []string{key})},
	} {
		for _, tt := range everyForm(key) {
			got := s.Scrub(tt.text)
			if l := leaks(got, key); len(l) > 0 {
				t.Errorf("%s, %s: Scrub(%q) = %q still holds %v", s.name, tt.name, tt.text, got, l)
			}
			if !strings.Contains(got, Redacted) {
				t.Errorf("%s, %s: Scrub(%q) = %q, want %s in it", s.name, tt.name, tt.text, got, Redacted)
			}
		}
	}
}

// TestScrubCredentialsAfterAScheme: the token of "Bearer TOKEN" and the
// password inside "Basic BASE64" are secrets on their own, and the
// scheme's name is not.
func TestScrubCredentialsAfterAScheme(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("admin:pa55word-xyz"))
	s := New([]string{"Bearer tok_0123456789abcdef", "Basic " + basic}, nil)
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
	s := New([]string{key, "abc", ""}, nil)
	for _, text := range []string{"", "connection refused", "503 Service Unavailable: abc", "Sk-Live is 7 bytes of it"} {
		if got := s.Scrub(text); got != text {
			t.Errorf("Scrub(%q) = %q, want it unchanged", text, got)
		}
	}
	var none *Scrubber
	if got := none.Scrub(key); got != key {
		t.Errorf("a nil Scrubber changed %q to %q", key, got)
	}
	// A prefix of 7 bytes is not a key's.
	if got := s.Scrub(key[:7]); got != key[:7] {
		t.Errorf("Scrub(%q) = %q", key[:7], got)
	}
	if got := New([]string{"abc", " \t"}, []string{"xyz", ""}); got != nil {
		t.Errorf("New of secrets too short to scrub = %v, want nil", got)
	}
}

// TestScrubPasswordFragments: a password's runs of MinPart characters are
// masked wherever they stand, with a character the password lacks; a
// key's are not.
func TestScrubPasswordFragments(t *testing.T) {
	const password = "Lima@127.0.0.1:5/Mike9"
	text := "failed to connect to `user=obs database=Mike9@db/app`: 127.0.0.1:5 (127.0.0.1): dial error"
	want := "failed to connect to `user=obs database=xxxxx@db/app`: xxxxx (xxxxx): dial error"
	if got := New(nil, []string{password}).Scrub(text); got != want {
		t.Errorf("password: Scrub(%q)\n\t= %q\n\twant %q", text, got, want)
	}
	if got := New([]string{password}, nil).Scrub(text); got != text {
		t.Errorf("key: Scrub(%q) = %q, want it unchanged", text, got)
	}
	if got, want := New(nil, []string{"xerox-Box9"}).Scrub("password xerox refused"), "password ***** refused"; got != want {
		t.Errorf("Scrub = %q, want %q: a mask of a character the password lacks", got, want)
	}
}

// TestErr checks that an error without any secret is returned as it is,
// so errors.As and its type still work, and that a scrubbed one keeps
// errors.Is but unwraps to nothing.
func TestErr(t *testing.T) {
	s := New(nil, DSNPasswords("postgres://obs:s3cret-Pass@db.example/app"))
	plain := &url.Error{Op: "dial", URL: "db.example", Err: errEcho}
	if got := s.Err(plain); got != error(plain) {
		t.Errorf("an error without the password came back as %T %v", got, got)
	}
	if got := s.Err(nil); got != nil {
		t.Errorf("Err(nil) = %v", got)
	}
	if got := (*Scrubber)(nil).Err(plain); got != error(plain) {
		t.Errorf("a nil Scrubber changed %v", got)
	}
	leaky := fmt.Errorf("bad password s3cret-Pass, then s3cr: %w", driver.ErrBadConn)
	got := s.Err(leaky)
	if got.Error() != "bad password [REDACTED], then xxxxx: driver: bad connection" || !errors.Is(got, driver.ErrBadConn) {
		t.Errorf("scrubbed error = %q, errors.Is(ErrBadConn) = %v; want the password masked and true", got, errors.Is(got, driver.ErrBadConn))
	}
	if errors.Unwrap(got) != nil {
		t.Errorf("the scrubbed error unwraps to %v, whose text holds the password", errors.Unwrap(got))
	}
}

// errEcho is the cause of the errors of these tests.
var errEcho = errors.New("connection refused")

// deliveryErrors are texts of the kind the delivery core keeps in
// Stats.LastError and prints on its outage lines.
var deliveryErrors = []string{
	`datadog: intake answered 503 Service Unavailable: {"errors":["upstream timeout"],"request_id":"7f3e9a21c4b8d605"}`,
	`datadog: Post "https://http-intake.logs.datadoghq.com/api/v2/logs": dial tcp 127.0.0.1:8126: connect: connection refused`,
	`otlp logs: Post "http://127.0.0.1:4318/v1/logs": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
	`otlp traces: receiver answered 429 Too Many Requests: retry after 30s`,
	`otlp metrics: 2048 items not delivered (2048 retries_exhausted) at 2026-12-07T15:13:27Z`,
	`otlp traces: receiver answered 400 Bad Request: invalid span 00f067aa0ba902b7 of trace 4bf92f3577b34da6a3ce929d0e0e4736`,
	`datadog: intake answered 413 Request Entity Too Large: payload of 5242880 bytes, limit 5000000`,
	`datadog: 1500 records not delivered (1500 retries_exhausted); last: dial tcp [::1]:10518: i/o timeout`,
}

// TestFragmentRuleFalsePositives measures what the fragment rule would
// cost if it were applied to keys: the share of deliveryErrors it changes
// for random 32-character hexadecimal keys (a Datadog API key's shape),
// against the prefix rule, which must change none.
func TestFragmentRuleFalsePositives(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const keys = 2000
	var asKey, asPassword, keysHit int
	for range keys {
		var b strings.Builder
		for range 32 {
			b.WriteByte("0123456789abcdef"[rng.IntN(16)])
		}
		k, p := New([]string{b.String()}, nil), New(nil, []string{b.String()})
		hit := false
		for _, text := range deliveryErrors {
			if k.Scrub(text) != text {
				asKey++
			}
			if p.Scrub(text) != text {
				asPassword++
				hit = true
			}
		}
		if hit {
			keysHit++
		}
	}
	n := float64(keys * len(deliveryErrors))
	t.Logf("texts changed: %.2f%% as keys, %.2f%% as passwords (%d keys × %d texts); keys that changed one text or more as passwords: %.1f%%",
		100*float64(asKey)/n, 100*float64(asPassword)/n, keys, len(deliveryErrors), 100*float64(keysHit)/keys)
	if asKey > 0 {
		t.Errorf("the prefix rule changed %d texts that hold no key", asKey)
	}
}

func FuzzScrubKey(f *testing.F) {
	f.Add("before ", "after", 0)
	f.Add("Basic ", "==", 2)
	f.Fuzz(func(t *testing.T, pre, post string, form int) {
		var enc string
		switch form % 4 {
		case 0:
			enc = key
		case 1:
			enc = strings.ToUpper(key)
		case 2:
			enc = base64.StdEncoding.EncodeToString([]byte(pre + key))
			pre = ""
		default:
			enc = url.QueryEscape(key)
		}
		got := New([]string{key}, nil).Scrub(pre + enc + post)
		if strings.Contains(strings.ToLower(got), strings.ToLower(key[:8])) {
			t.Errorf("Scrub left a prefix of the key: %q", got)
		}
		if form%4 == 2 {
			for pad := range 3 {
				core := base64Core(base64.RawStdEncoding, key, pad)
				if strings.Contains(got, core[:8]) {
					t.Errorf("Scrub left base64 of the key: %q", got)
				}
			}
		}
	})
}

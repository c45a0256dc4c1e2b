package handler

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestKeyWords(t *testing.T) {
	ks := newKeySet(DefaultRedactWords(), []string{"card-number", "SSN"})
	sensitive := []string{
		"password", "PASSWORD", "db_password", "dbPassword", "DBPassword", "X-Api-Key", "x_api_key",
		"access-token", "AccessToken", "accessToken", "client_secret", "clientSecret", "private_key",
		"PrivateKey", "api-key", "apiKey", "APIKey", "api_keys", "DD_API_KEY", "Proxy-Authorization",
		"authorization", "Set-Cookie", "cookies", "pwd", "user.pwd", "secrets", "tokens", "refresh_token",
		"aws_secret_access_key", "AWS_ACCESS_KEY_ID", "passphrase", "jwt", "password2", "credentials",
		"to\u212Aen", "card_number", "CardNumber", "ssn", "user-SSN",
	}
	plain := []string{
		"", "a", "user", "keyboard", "monkey", "author", "passwordless", "tokenizer", "api", "key",
		"private", "access", "secretary", "cookiejar", "tökén", "apikeyring", "pw", "x", "card",
	}
	for _, k := range sensitive {
		if !ks.match(k) {
			t.Errorf("%q not matched, want sensitive", k)
		}
	}
	for _, k := range plain {
		if ks.match(k) {
			t.Errorf("%q matched, want not sensitive", k)
		}
	}
}

func TestWords(t *testing.T) {
	tests := map[string]string{
		"dbPassword":      "db password",
		"APIKey":          "api key",
		"X-Api-Key":       "x api key",
		"DD_API_KEY":      "dd api key",
		"password2":       "password 2",
		"HTTPServer2Addr": "http server 2 addr",
		"  a..b  ":        "a b",
		"ÄrgerNis":        "ärger nis",
	}
	for in, want := range tests {
		var got []string
		for _, sp := range words(in, nil) {
			got = append(got, strings.ToLower(in[sp.start:sp.end]))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// refMatch is a slow reference of keySet.match: every run of words,
// joined, against every word.
func refMatch(words []string, k string) bool {
	var ws []string
	for _, sp := range wordsOf(k) {
		ws = append(ws, sp)
	}
	for i := range ws {
		joined := ""
		for j := i; j < len(ws); j++ {
			joined += ws[j]
			for _, w := range words {
				if joined == w || joined == w+"s" {
					return true
				}
			}
		}
	}
	return false
}

func wordsOf(k string) []string {
	var out []string
	for _, sp := range words(k, nil) {
		out = append(out, normalize(k[sp.start:sp.end]))
	}
	return out
}

func FuzzKeyMatch(f *testing.F) {
	for _, s := range []string{"db_password", "X-Api-Key", "to\u212Aen", "APIKeys", "a", "\xff"} {
		f.Add(s)
	}
	ks := newKeySet(DefaultRedactWords())
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := ks.match(k), refMatch(DefaultRedactWords(), k); got != want {
			t.Errorf("match(%q) = %v, reference says %v (words %q)", k, got, want, wordsOf(k))
		}
	})
}

// TestKeyFolding: keys match after Unicode case folding and compatibility
// mapping, not ASCII lower-casing alone: letters that fold or normalize to
// those of a sensitive word make it.
func TestKeyFolding(t *testing.T) {
	ks := newKeySet(DefaultRedactWords())
	sensitive := []string{
		"paſſword",    // ſ (long s) folds to s
		"PAſſWORD",    // in upper case around it
		"ｐａｓｓｗｏｒｄ",    // fullwidth
		"𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝",    // mathematical bold
		"ⓟⓐⓢⓢⓦⓞⓡⓓ",    // circled
		"ᵖᵃˢˢʷᵒʳᵈ",    // modifier letters
		"db_ｐａｓｓｗｏｒｄ", // a word of a key
		"api_ｋｅｙ",     // apikey across words
		"ſecret",      // first letter
		"seｃrets",     // plural
		"PAẞWORD",     // capital sharp s, full case folding: ss
		"paßword",     // sharp s
		"to\u212Aen",  // Kelvin sign
	}
	for _, k := range sensitive {
		if !ks.match(k) {
			t.Errorf("%q not matched, want sensitive", k)
		}
	}
	for _, k := range []string{"pässword", "pasword", "ｐａｓｓ", "tökén", "secretary"} {
		if ks.match(k) {
			t.Errorf("%q matched, want not sensitive", k)
		}
	}
	// Words given with such letters are normalized the same way.
	custom := newKeySet([]string{"ｓｓｎ", "Straße", "fingerprint"})
	for _, k := range []string{"ssn", "user_SSN", "STRASSE", "strasse", "\uFB01ngerprint", "FINGERPRINT"} {
		if !custom.match(k) {
			t.Errorf("custom words: %q not matched", k)
		}
	}
}

// TestCompatTables: the tables are sorted, as the binary searches need,
// and no rune stands for more runes than it has bytes, as keySet's
// shortest-key bound needs.
func TestCompatTables(t *testing.T) {
	for i, e := range compatRanges {
		if e.lo > e.hi || (i > 0 && compatRanges[i-1].hi >= e.lo) {
			t.Errorf("compatRanges[%d] = %#x-%#x: not sorted or overlapping", i, e.lo, e.hi)
		}
	}
	for i, e := range compatWords {
		if i > 0 && compatWords[i-1].r >= e.r {
			t.Errorf("compatWords[%d] = %#x: not sorted", i, e.r)
		}
	}
	n := 0
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		var buf [maxFold]rune
		if k := fold(r, &buf); k > utf8.RuneLen(r) && utf8.ValidRune(r) {
			t.Errorf("%U folds to %d runes, more than its %d bytes", r, k, utf8.RuneLen(r))
		}
		if _, ok := compat(r); ok {
			n++
		}
	}
	if n != 998+20 {
		t.Errorf("compat maps %d runes, want 1018", n)
	}
}

// The letter filter in front of the key set changes the cost of a match,
// never its answer.
func FuzzKeyFilter(f *testing.F) {
	for _, s := range []string{"db_password", "X-Api-Key", "to\u212Aen", "APIKeys", "a", "\xff", "status_code",
		"keyboard", "tokenizer", "SSN", "user-ssn", "jwt", "pwds", "ſecret", "ｐａｓｓｗｏｒｄ", "ⓟⓦⓓ", "ﬁ"} {
		f.Add(s)
	}
	sets := []*keySet{newKeySet(DefaultRedactWords()), newKeySet(DefaultRedactWords(), []string{"card-number", "SSN", "Ärger", "kö"})}
	f.Fuzz(func(t *testing.T, k string) {
		for _, ks := range sets {
			if got, want := newKeyFilter(ks).Sensitive(k), ks.match(k); got != want {
				t.Errorf("filter match(%q) = %v, key set says %v", k, got, want)
			}
		}
	})
}

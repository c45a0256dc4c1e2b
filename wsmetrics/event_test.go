package wsmetrics

import (
	"bytes"
	"testing"
)

func TestScanEvent(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		want   string
		wantOK bool
	}{
		{"simple", `{"event":"join"}`, "join", true},
		{"after other keys", `{"a":1,"b":true,"c":null,"d":-1.5e3,"event":"x"}`, "x", true},
		{"after nested", `{"p":{"q":[{"r":"}"}]},"event":"x"}`, "x", true},
		{"escaped quote in key before", `{"k\"ey":"v","event":"x"}`, "x", true},
		{"raw escapes kept", `{"event":"a\\b"}`, `a\\b`, true},
		{"whitespace everywhere", "\t{\r\n\"event\"\t:\n\"x\"\n}", "x", true},
		{"stops at the value", `{"event":"x"` + "\x00garbage", "x", true},
		{"empty object", `{}`, "", false},
		{"array", `[{"event":"x"}]`, "", false},
		{"key not string", `{event:"x"}`, "", false},
		{"missing colon", `{"event" "x"}`, "", false},
		{"value not string", `{"event":{"name":"x"}}`, "", false},
		{"missing comma", `{"a":1 "event":"x"}`, "", false},
		{"unterminated key", `{"eve`, "", false},
		{"unterminated nested", `{"a":{"b":1`, "", false},
		{"empty scalar", `{"a":,"event":"x"}`, "", false},
		{"only brace", `{`, "", false},
		{"nothing", ``, "", false},
		{"case matters", `{"Event":"x"}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := scanEvent([]byte(tt.data))
			if string(got) != tt.want || ok != tt.wantOK {
				t.Errorf("scanEvent(%q) = %q, %v; want %q, %v", tt.data, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzScanEvent(f *testing.F) {
	for _, s := range []string{
		`{"topic":"video:1","event":"phx_join","payload":{},"ref":"1"}`,
		`{"payload":{"event":"inner"},"event":"outer"}`,
		`{"a":[1,2,{"b":"]"}],"event":"x"}`,
		`{"event":"a\"b"}`,
		`{"event":`,
		`[[[[[[[[`,
		`{"a":"\`,
		"",
	} {
		f.Add([]byte(s))
	}
	tr := NewTracker(nil, &Options{MaxEvents: 5})
	c := tr.Open("fuzz")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := scanEvent(data)
		if !ok && got != nil {
			t.Fatalf("scanEvent(%q) = %q, false; want nil with false", data, got)
		}
		if ok && !bytes.Contains(data, got) {
			t.Fatalf("scanEvent(%q) = %q, not a part of its input", data, got)
		}
		ev := Unknown
		if ok {
			ev = event(tr, got)
		}
		if ev != Unknown && ev != Binary && ev != Other && !validLabel(ev) {
			t.Fatalf("event label %q from %q is neither reserved nor valid", ev, data)
		}
		c.MessageData(In, false, data)
	})
}

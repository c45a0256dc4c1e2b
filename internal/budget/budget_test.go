package budget

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

type selfValuer struct{}

func (s selfValuer) LogValue() slog.Value { return slog.AnyValue(s) }

type panicValuer struct{}

func (panicValuer) LogValue() slog.Value { panic("boom") }

type panicMarshaler struct{ X int }

func (panicMarshaler) MarshalJSON() ([]byte, error) { panic("boom") }

type secretMarshaler struct{}

func (secretMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(`{"user":"ann","password":"hunter2"}`), nil
}

type panicError struct{}

func (panicError) Error() string { panic("boom") }

type login struct {
	User     string `json:"user"`
	Password string `json:"pw"`
	Hidden   string `json:"-"`
	Empty    string `json:"empty,omitempty"`
	inner    string
	Embedded
	Next *login `json:"next,omitempty"`
}

type Embedded struct{ Region string }

func redactPassword(k string) bool { return strings.EqualFold(k, "password") || k == "token" }

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		v    slog.Value
		want string
	}{
		{"plain", slog.StringValue("x"), "x"},
		{"self", slog.AnyValue(selfValuer{}), Cycle},
		{"panic", slog.AnyValue(panicValuer{}), Panic},
	}
	for _, tt := range tests {
		if got := Resolve(tt.v).String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc" + Truncated},
		{"aé", 2, "a" + Truncated}, // é is two bytes: not split
		{"\xff\xff\xff\xff\xff", 2, "\xff\xff" + Truncated},
	}
	for _, tt := range tests {
		if got := Truncate(tt.s, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestSanitize(t *testing.T) {
	self := map[string]any{"a": 1}
	self["self"] = self
	sl := []any{1, nil}
	sl[1] = sl
	type node struct{ Next *node }
	cyc := &node{}
	cyc.Next = cyc
	var nilPtr *login
	var nilErr *panicErrorPtr
	deep := any("leaf")
	for range 100 {
		deep = map[string]any{"d": deep}
	}
	l := New(Budget{}, KeyFunc(redactPassword))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"self map", self, map[string]any{"a": 1, "self": Cycle}},
		{"self slice", sl, []any{1, Cycle}},
		{"pointer cycle", cyc, map[string]any{"Next": Cycle}},
		{"nil pointer", nilPtr, nil},
		{"typed nil error", nilErr, nil},
		{"panicking MarshalJSON", panicMarshaler{}, Panic},
		{"panicking Error", panicError{}, Panic},
		{"secret in MarshalJSON", secretMarshaler{}, map[string]any{"user": "ann", "password": Redacted}},
		{"raw message", json.RawMessage(`{"a":[{"Password":"x"}],"n":1.5}`),
			map[string]any{"a": []any{map[string]any{"Password": Redacted}}, "n": json.Number("1.5")}},
		{"invalid raw message", json.RawMessage(`{"a"`), `{"a"`},
		{"struct", login{User: "ann", Password: "p", Hidden: "h", inner: "i", Embedded: Embedded{"eu"}},
			map[string]any{"user": "ann", "pw": Redacted, "Region": "eu"}},
		{"pointer to map with secret", &map[string]string{"token": "t"}, map[string]any{"token": Redacted}},
		{"slice of maps", []map[string]any{{"password": "p"}}, []any{map[string]any{"password": Redacted}}},
		{"floats", []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1}, []any{"NaN", "+Inf", "-Inf", 1.0}},
		{"error", errors.New("e"), "e"},
		{"func", func() {}, "func()"},
		{"int keys", map[int]string{2: "b"}, map[string]any{"2": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Sanitize(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
	// Depth: 32 levels of maps, then the marker.
	got := l.Sanitize(deep)
	d := 0
	for {
		m, ok := got.(map[string]any)
		if !ok {
			break
		}
		got = m["d"]
		d++
	}
	if d != DefaultMaxDepth || got != Depth {
		t.Errorf("deep map: %d levels then %v, want %d then %q", d, got, DefaultMaxDepth, Depth)
	}
}

type panicErrorPtr struct{}

func (*panicErrorPtr) Error() string { panic("boom") }

func TestSanitizeBudgets(t *testing.T) {
	l := New(Budget{MaxAttrs: 10, MaxValueBytes: 4}, nil)
	big := make([]int, 100)
	got := l.Sanitize(big).([]any)
	if len(got) != 11 || got[10] != Attrs+"=90" {
		t.Errorf("100 elements with MaxAttrs 10: got %d elements ending %v", len(got), got[len(got)-1])
	}
	if got := l.Sanitize([]string{"abcdef"}); !reflect.DeepEqual(got, []any{"abcd" + Truncated}) {
		t.Errorf("long string: %v", got)
	}
	m := map[string]int{}
	for i := range 50 {
		m[fmt.Sprint(i)] = i
	}
	if got := l.Sanitize(m).(map[string]any); len(got) != 11 || got[Attrs] != 40 {
		t.Errorf("map of 50 with MaxAttrs 10: %d entries, %v left out", len(got), got[Attrs])
	}
}

func TestRecord(t *testing.T) {
	l := New(Budget{MaxDepth: 3, MaxAttrs: 6, MaxValueBytes: 8}, KeyFunc(redactPassword))
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "a long message", 0)
	g := slog.Group("g1", slog.Group("g2", slog.Group("g3", slog.Group("g4", slog.Int("x", 1)))))
	r.AddAttrs(slog.String("password", "p"), slog.String("s", "0123456789"), g,
		slog.Any("v", panicValuer{}), slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3))
	nr, changed := record(l, r, 0, false)
	if !changed {
		t.Fatal("record not rewritten")
	}
	var got []string
	nr.Attrs(func(a slog.Attr) bool { got = append(got, a.String()); return true })
	want := []string{"password=[REDACTED]", "s=01234567!TRUNCATED", "g1=[g2=[g3=[g4=!DEPTH]]]", "!ATTRS=4"}
	if !reflect.DeepEqual(got, want) || nr.Message != "a long m"+Truncated {
		t.Errorf("got %q %v\nwant %v", nr.Message, got, want)
	}
	// A record within budget is passed on as it is, without allocating.
	ok := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	ok.AddAttrs(slog.Int("a", 1), slog.String("b", "x"))
	if _, changed := record(l, ok, 0, false); changed {
		t.Error("a record within budget was rewritten")
	}
}

func TestRecordAll(t *testing.T) {
	l := New(Budget{}, KeyFunc(redactPassword))
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.String("s", "x"), slog.Group("g", slog.Int("n", 1)), slog.Any("m", map[string]int{"a": 1}))
	nr, _ := record(l, r, 1, true)
	var got []string
	nr.Attrs(func(a slog.Attr) bool { got = append(got, a.String()); return true })
	want := []string{"s=[REDACTED]", "g=[n=[REDACTED]]", "m=[REDACTED]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add([]byte(`{"a":{"password":"x"},"b":[1,2,{"token":"y"}]}`), uint8(3), uint8(4))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`), uint8(0), uint8(0))
	f.Add([]byte("\xff\xfe"), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, depth, attrs uint8) {
		l := New(Budget{MaxDepth: int(depth % 40), MaxAttrs: int(attrs), MaxValueBytes: 16}, KeyFunc(redactPassword))
		b := l.Budget()
		out := l.Sanitize(json.RawMessage(data))
		// The tree is finite, within depth and count, and has no secret.
		n := 0
		var walk func(x any, d int)
		walk = func(x any, d int) {
			if d > b.MaxDepth+1 {
				t.Fatalf("depth %d beyond %d", d, b.MaxDepth)
			}
			switch v := x.(type) {
			case map[string]any:
				for k, e := range v {
					n++
					if redactPassword(k) && e != Redacted {
						t.Fatalf("%q: %v not redacted", k, e)
					}
					walk(e, d+1)
				}
			case []any:
				for _, e := range v {
					n++
					walk(e, d+1)
				}
			case string:
				if len(v) > b.MaxValueBytes+len(Truncated) {
					t.Fatalf("string of %d bytes", len(v))
				}
			}
		}
		walk(out, 0)
		if n > 2*b.MaxAttrs+2*b.MaxDepth+2 {
			t.Fatalf("%d nodes for MaxAttrs %d", n, b.MaxAttrs)
		}
		// Sanitize output encodes.
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("sanitized tree does not encode: %v", err)
		}
	})
}

type opaqueID struct{ n int }

func (o opaqueID) String() string { return fmt.Sprintf("id-%d", o.n) }

type panicOpaque struct{ n int }

func (panicOpaque) String() string { panic("boom") }

func TestSanitizeOpaqueStringer(t *testing.T) {
	l := New(Budget{}, nil)
	got := l.Sanitize([]any{opaqueID{7}, &opaqueID{8}, panicOpaque{}})
	want := []any{"id-7", "id-8", Panic}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// TestLongSensitiveKey: a key is judged whole, before it is cut to
// MaxValueBytes, so a sensitive word past the cut still redacts.
func TestLongSensitiveKey(t *testing.T) {
	l := New(Budget{MaxValueBytes: 8}, KeyFunc(func(k string) bool { return strings.HasSuffix(k, "password") }))
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.String("db_password", "s1"), slog.Any("m", map[string]string{"db_password": "s2"}))
	nr, _ := record(l, r, 0, false)
	var got []string
	nr.Attrs(func(a slog.Attr) bool { got = append(got, a.String()); return true })
	want := []string{"db_passw!TRUNCATED=[REDACTED]", "m=[db_passw!TRUNCATED=[REDACTED]]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

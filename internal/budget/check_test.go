package budget

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/realtimeserver/observability/internal/hostile"
)

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abc", 5, "abc"},
		{"abcd", 3, "abc"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"aé", 2, "a"},                      // é is two bytes: not split
		{"aé", 3, "aé"},                     // whole
		{"a€b", 3, "a"},                     // € is three bytes
		{"a€b", 4, "a€"},                    // ends on the boundary
		{"😀x", 3, ""},                       // four bytes, nothing fits
		{"\xff\xff\xff", 2, "\xff\xff"},     // invalid bytes are sequences of one
		{"\x80\x80\x80\x80", 2, "\x80\x80"}, // stray continuation bytes too
		{"a\xe2\x82x", 3, "a\xe2\x82"},      // a broken sequence is not a sequence
	}
	for _, tt := range tests {
		if got := Cut(tt.s, tt.max); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

// FuzzCut checks Cut's promise: a prefix, within max, that ends on a
// boundary of the string's sequences, and the longest such.
func FuzzCut(f *testing.F) {
	for _, s := range []string{"", "abc", "héllo", "😀😀", "\xff\x80\xe2\x82", "a€b"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 64
		if max < 0 {
			max = -max
		}
		got := Cut(s, max)
		if !strings.HasPrefix(s, got) || (len(s) > max && len(got) > max) || (len(s) <= max && got != s) {
			t.Fatalf("Cut(%q, %d) = %q", s, max, got)
		}
		// The cut point is where decoding s sequence by sequence stops.
		want := 0
		for i := 0; i < len(s); {
			_, size := utf8.DecodeRuneInString(s[i:])
			if i+size > max {
				break
			}
			i += size
			want = i
		}
		if len(s) > max && len(got) != want {
			t.Fatalf("Cut(%q, %d) = %q, want %q", s, max, got, s[:want])
		}
	})
}

// pool returns attributes for random records: plain ones, ones at the
// edges of a small budget, and every hostile shape.
func pool() (plain, edge, other []slog.Attr) {
	credentials := valuerFunc(func() slog.Value { return slog.GroupValue(slog.String("password", "p")) })
	plain = []slog.Attr{
		slog.Int("a", 1), slog.Int64("n", -1), slog.Uint64("u", 1), slog.Float64("f", 1.5),
		slog.Bool("ok", true), slog.Duration("d", time.Second), slog.Time("t", time.Unix(0, 0)),
		slog.String("c", "three"), slog.String("user_id", "42"), slog.String("route", "/x"),
		slog.String("", "empty key"), {}, slog.Any("err", errors.New("boom")), slog.Any("ints", []int{1, 2}),
		slog.Any("strs", []string{"a", "b"}), slog.Any("raw", []byte("xy")),
	}
	edge = []slog.Attr{
		slog.String("password", "p"), slog.Int("token", 1), slog.String("Password", Redacted),
		slog.String("sixteen_bytes_ok", "0123456789abcdef"), slog.String("v", "0123456789abcdefX"),
		slog.String(strings.Repeat("k", 17), "long key"), slog.Int(strings.Repeat("p", 16), 1),
		slog.String("cut", "0123456789abcdef"+Truncated), slog.Int(Attrs, 3),
		slog.Any("long_err", errors.New(strings.Repeat("e", 20))), slog.Any("long_strs", []string{strings.Repeat("s", 17)}),
	}
	other = []slog.Attr{
		slog.Group("g", slog.String("password", "p")), slog.Group("g", slog.Int("a", 1)),
		slog.Group("", slog.String("token", "t")), slog.Group("empty"),
		slog.Any("login", credentials), slog.Any("v", valuerFunc(func() slog.Value { return slog.IntValue(1) })),
		slog.Any("m", map[string]string{"password": "p"}), slog.Any("h", http.Header{"Cookie": {"c"}}),
		slog.Any("nil", nil), slog.Any("i", 3), slog.Any("p", &struct{ Password string }{"p"}),
		slog.Any("s", struct{ A, B int }{1, 2}), slog.Any("nan", []float64{math.NaN()}),
	}
	for _, c := range hostile.Cases() {
		if c.Name == "50 MB key" {
			continue // cut on every record, it tells nothing and costs much
		}
		other = append(other, c.Attrs...)
	}
	return plain, edge, other
}

type valuerFunc func() slog.Value

func (f valuerFunc) LogValue() slog.Value { return f() }

// sameAttrs reports whether a and b are the same attributes, comparing
// values of kind Any by reflect.DeepEqual (which ends on cycles).
func sameAttrs(a, b []slog.Attr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Key != y.Key || x.Value.Kind() != y.Value.Kind() {
			return false
		}
		switch x.Value.Kind() {
		case slog.KindGroup:
			if !sameAttrs(x.Value.Group(), y.Value.Group()) {
				return false
			}
		case slog.KindAny, slog.KindLogValuer:
			if !reflect.DeepEqual(x.Value.Any(), y.Value.Any()) {
				return false
			}
		case slog.KindFloat64:
			if math.Float64bits(x.Value.Float64()) != math.Float64bits(y.Value.Float64()) {
				return false
			}
		default:
			if !x.Value.Equal(y.Value) {
				return false
			}
		}
	}
	return true
}

func attrsOf(r slog.Record) []slog.Attr {
	var out []slog.Attr
	r.Attrs(func(a slog.Attr) bool { out = append(out, a); return true })
	return out
}

// TestCheckAgreesWithWalk holds the check of Record (recordNeeds) to the
// walk, on random records under several Limiters: a record the check
// passes is one the walk leaves as it is, and what the walk writes passes
// the check, so that handlers in a row rewrite a record once.
func TestCheckAgreesWithWalk(t *testing.T) {
	plain, edge, other := pool()
	small := Budget{MaxValueBytes: 16, MaxAttrs: 6, MaxRecordBytes: 80, MaxDepth: 3}
	redact := func(k string) bool { return strings.EqualFold(k, "password") || strings.EqualFold(k, "token") }
	limiters := map[string]*Limiter{
		"default":          New(Budget{}, nil),
		"small":            New(small, nil),
		"redacting":        New(Budget{}, KeyFunc(redact)),
		"small, redacting": New(small, minKeys{KeyFunc(redact), 5}),
		"encodable":        NewEncodable(Budget{}),
		"small, encodable": NewEncodable(small),
	}
	messages := []string{"m", "", strings.Repeat("x", 16), strings.Repeat("x", 17), strings.Repeat("y", 70)}
	rng := rand.New(rand.NewPCG(1, 2))
	passed, rewritten := 0, 0
	for range 20000 {
		name := []string{"default", "small", "redacting", "small, redacting", "encodable", "small, encodable"}[rng.IntN(6)]
		l := limiters[name]
		r := slog.NewRecord(time.Now(), slog.LevelInfo, messages[rng.IntN(len(messages))], 0)
		for range rng.IntN(10) {
			switch p := rng.IntN(20); {
			case p < 12:
				r.AddAttrs(plain[rng.IntN(len(plain))])
			case p < 18:
				r.AddAttrs(edge[rng.IntN(len(edge))])
			default:
				r.AddAttrs(other[rng.IntN(len(other))])
			}
		}
		depth, all := rng.IntN(3), rng.IntN(8) == 0
		if !l.recordNeeds(&r, depth, all) {
			passed++
			w := walker{l: l}
			var out []slog.Attr
			i, n := 0, r.NumAttrs()
			r.Attrs(func(a slog.Attr) bool {
				i++
				if w.ownMarker(a, i == n, 0) {
					out = append(out, a)
				} else if b, ok := w.attr(a, depth, all); ok {
					out = append(out, b)
				} else {
					out = append(out, slog.String("left out", a.Key))
				}
				return true
			})
			if w.str(r.Message) != r.Message || !sameAttrs(out, attrsOf(r)) {
				t.Fatalf("%s (depth %d, all %v): the check passed a record the walk rewrites: %q %v -> %v",
					name, depth, all, r.Message, attrsOf(r), out)
			}
			continue
		}
		rewritten++
		nr, changed := record(l, r, depth, all)
		if !changed {
			t.Fatalf("%s: the check failed the record and Record did not rewrite it", name)
		}
		if all || nr.NumAttrs() == 0 {
			continue // all redacts every value again; nothing to compare
		}
		if l.recordNeeds(&nr, depth, all) && !nearRecordBytes(l, nr) && !hasDroppedElements(nr) {
			t.Fatalf("%s (depth %d): Record's output fails the check: %q %v", name, depth, nr.Message, attrsOf(nr))
		}
	}
	if passed < 2000 || rewritten < 2000 {
		t.Fatalf("%d records passed, %d rewritten: the pool no longer exercises both paths", passed, rewritten)
	}
}

// nearRecordBytes reports whether r reaches MaxRecordBytes: the walk may
// write its last attribute a little past it.
func nearRecordBytes(l *Limiter, r slog.Record) bool {
	var c counter
	w := walker{l: l}
	r.Attrs(func(a slog.Attr) bool { w.attr(a, 0, false); return true })
	c = w.counter
	return c.bytes+len(r.Message) >= l.b.MaxRecordBytes-l.b.MaxValueBytes
}

// hasDroppedElements reports whether a slice in r holds a map (slices of
// maps stay maps below the top): the walk's output for those is
// rewritten again, to itself.
func hasDroppedElements(r slog.Record) bool {
	found := false
	var walk func(x any)
	walk = func(x any) {
		switch v := x.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			found = true
		}
	}
	var attr func(a slog.Attr)
	attr = func(a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				attr(g)
			}
			return
		}
		if a.Value.Kind() == slog.KindAny {
			walk(a.Value.Any())
		}
	}
	r.Attrs(func(a slog.Attr) bool { attr(a); return true })
	return found
}

// TestRecordOnce: what Record wrote passes Record unchanged, for the
// shapes the walk rewrites: long strings, errors, slices, maps, structs,
// LogValuers, attributes past the budget.
func TestRecordOnce(t *testing.T) {
	// MaxAttrs 6: the map and its entries fit, the budget runs out at the
	// top (a map or struct cut in the middle may be cut again elsewhere:
	// its entries are counted in map order and written in key order).
	b := Budget{MaxValueBytes: 8, MaxAttrs: 6}
	for name, l := range map[string]*Limiter{"New": New(b, nil), "NewEncodable": NewEncodable(b)} {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "a long message", 0)
		r.AddAttrs(slog.String("s", "0123456789"), slog.Any("err", errors.New("e")),
			slog.Any("m", map[string]any{"a": []int{1}, "b": "0123456789"}), slog.Any("st", struct{ A []string }{[]string{"x"}}),
			slog.Any("v", valuerFunc(func() slog.Value { return slog.IntValue(1) })), slog.Int("past", 1), slog.Int("past2", 2))
		nr, changed := record(l, r, 0, false)
		if !changed {
			t.Fatalf("%s: not rewritten", name)
		}
		if _, again := record(l, nr, 0, false); again {
			t.Errorf("%s: Record rewrote its own output again: %q %v", name, nr.Message, attrsOf(nr))
		}
	}
}

type jsonOnly struct{}

func (jsonOnly) MarshalJSON() ([]byte, error) { return []byte(`{"b":1,"a":2}`), nil }

// TestEncodable: values that fit are left for encoding/json, in their own
// order; values that do not are rewritten as New rewrites them.
func TestEncodable(t *testing.T) {
	type pair struct {
		Z int `json:"z"`
		A int `json:"a"`
	}
	self := map[string]any{"a": 1}
	self["self"] = self
	l := NewEncodable(Budget{MaxDepth: 3, MaxAttrs: 8, MaxValueBytes: 8})
	keep := []any{pair{1, 2}, []int{1, 2}, map[string]int{"b": 1}, jsonOnly{}, errors.New(strings.Repeat("e", 100)),
		&pair{}, (*pair)(nil), make(chan int), complex(1, 2), []float64{math.NaN()}, time.Now(), json.RawMessage(`[1]`)}
	for _, x := range keep {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.Any("x", x))
		if _, changed := record(l, r, 0, false); changed {
			t.Errorf("%T %v: rewritten, want it left for encoding/json", x, x)
		}
	}
	rewrite := map[string]any{
		"cycle":        self,
		"deep":         map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": 1}}}},
		"long string":  []string{"0123456789"},
		"many":         make([]int, 9),
		"long in map":  map[string]string{"k": "0123456789"},
		"long map key": map[string]int{"0123456789": 1},
	}
	for name, x := range rewrite {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.Any("x", x))
		if _, changed := record(l, r, 0, false); !changed {
			t.Errorf("%s: left as it is, want it rewritten", name)
		}
	}
	// Fitting is counted against the record: two maps that fit alone do
	// not fit together.
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	m4 := map[string]int{"a": 1, "b": 2, "c": 3, "d": 4}
	r.AddAttrs(slog.Any("x", m4), slog.Any("y", m4))
	nr, changed := record(l, r, 0, false)
	if !changed {
		t.Fatal("two maps of 4 within MaxAttrs 8: not rewritten")
	}
	got := fmt.Sprint(attrsOf(nr))
	if !strings.Contains(got, "x=map[a:1 b:2 c:3 d:4]") || !strings.Contains(got, "!ATTRS=2]") {
		t.Errorf("got %s, want x kept and y's entries past the budget counted", got)
	}
}

func TestNeedsValueCallsErrorOnce(t *testing.T) {
	calls := 0
	e := countingErr{&calls}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Any("err", e))
	if _, changed := record(New(Budget{}, nil), r, 0, false); changed || calls != 1 {
		t.Errorf("a short error: rewritten %v, Error called %d times; want it kept, called once", changed, calls)
	}
	_ = cmp.Or(0)
}

type countingErr struct{ n *int }

func (e countingErr) Error() string { *e.n++; return "e" }

// record is Apply on a copy of r: the record Apply leaves, and whether it
// rewrote it.
func record(l *Limiter, r slog.Record, depth int, all bool) (slog.Record, bool) {
	changed := l.Apply(&r, depth, all)
	return r, changed
}

// recordNeeds reports whether r fails the check of Apply, as Apply runs it.
func (l *Limiter) recordNeeds(r *slog.Record, depth int, all bool) bool {
	var k Check
	if !l.Begin(&k, r, depth, all) {
		return true
	}
	fits := true
	r.Attrs(func(a slog.Attr) bool {
		fits = l.Fits(&k, a)
		return fits
	})
	return !fits
}

// minKeys is a Keys whose shortest sensitive key is given.
type minKeys struct {
	KeyFunc
	min int
}

func (m minKeys) MinLen() int { return m.min }

// Package hostile is the shared corpus of hostile values that every
// handler and sink of the kit is tested against, and the checks a handler
// must pass on each of them: no panic escapes, output stays bounded, JSON
// output stays valid JSON lines, and no secret reaches the output.
//
// Use [Check] for a handler that writes to an io.Writer:
//
//	hostile.Check(t, hostile.Options{
//		New:     func(w io.Writer) slog.Handler { return handler.Redact(slog.NewJSONHandler(w, nil)) },
//		JSON:    true,
//		Redacts: true,
//	})
//
// Or walk [Cases] yourself, log each with [Case.Log], and verify what
// arrived with [Verify].
package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secret is the value hidden in every case that carries a secret; it must
// never appear in the output of a redacting handler.
const Secret = "hunter2-s3cr3t-7f9c"

// Case is one hostile input: attributes (and possibly derived handlers)
// logged as one record.
type Case struct {
	// Name says what is hostile about it.
	Name string
	// Message of the record. Default: "hostile".
	Message string
	// Attrs of the record.
	Attrs []slog.Attr
	// With, when not nil, derives the handler the record is logged
	// through (WithGroup chains, WithAttrs).
	With func(slog.Handler) slog.Handler
	// Secret reports whether [Secret] is hidden somewhere in the case.
	Secret bool
}

// Log handles the case's record through h (derived by With), the record's
// attributes given to the record itself. A panic is returned as an error.
func (c Case) Log(ctx context.Context, h slog.Handler) error {
	return c.log(ctx, h, false)
}

// LogWith handles the case through h with its attributes given to
// h.WithAttrs instead of the record, as a logger's With would.
func (c Case) LogWith(ctx context.Context, h slog.Handler) error {
	return c.log(ctx, h, true)
}

func (c Case) log(ctx context.Context, h slog.Handler, with bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic escaped: %.200v", p)
		}
	}()
	if c.With != nil {
		h = c.With(h)
	}
	msg := c.Message
	if msg == "" {
		msg = "hostile"
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	if with {
		h = h.WithAttrs(c.Attrs)
	} else {
		r.AddAttrs(c.Attrs...)
	}
	if !h.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	_ = h.Handle(ctx, r) // a write error is the writer's business
	return nil
}

// Hostile types.

type selfValuer struct{}

func (s selfValuer) LogValue() slog.Value { return slog.AnyValue(s) }

type panicValuer struct{}

func (panicValuer) LogValue() slog.Value { panic("LogValue panicked") }

type secretValuer struct{}

func (secretValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", "ann"), slog.String("password", Secret))
}

// nilMethods has pointer methods that dereference their receiver, so a
// typed nil of it panics in each of them.
type nilMethods struct{ s string }

func (n *nilMethods) String() string               { return n.s }
func (n *nilMethods) Error() string                { return n.s }
func (n *nilMethods) MarshalJSON() ([]byte, error) { return []byte(n.s), nil }
func (n *nilMethods) MarshalText() ([]byte, error) { return []byte(n.s), nil }

// panicky panics in every method, without being nil.
type panicky struct{ X int }

func (panicky) String() string               { panic("String panicked") }
func (panicky) Error() string                { panic("Error panicked") }
func (panicky) MarshalJSON() ([]byte, error) { panic("MarshalJSON panicked") }

type panicStringer struct{ X int }

func (panicStringer) String() string { panic("String panicked") }

type panicText struct{}

func (panicText) MarshalText() ([]byte, error) { panic("MarshalText panicked") }

type secretJSON struct{}

func (secretJSON) MarshalJSON() ([]byte, error) {
	return []byte(`{"user":"ann","credentials":{"password":"` + Secret + `"}}`), nil
}

type creds struct {
	User     string
	Password string
	Nested   *creds
}

type node struct {
	Name string
	Next *node
}

type jsonTagged struct {
	Login string `json:"login"`
	Key   string `json:"api_key"`
}

// Sizes of the large cases.
const (
	BigString    = 50 << 20
	ManyAttrs    = 10_000
	NestedGroups = 100_000
	DeepValues   = 1_000
)

var (
	bigOnce sync.Once
	big     string
)

func bigString() string {
	bigOnce.Do(func() { big = strings.Repeat("x", BigString) })
	return big
}

// Cases returns the corpus. The large cases are built on each call (the
// 50 MB string once per process), so a caller may keep or drop them.
func Cases() []Case {
	selfMap := map[string]any{"a": 1}
	selfMap["self"] = selfMap
	secretSelfMap := map[string]any{"password": Secret}
	secretSelfMap["self"] = secretSelfMap
	selfSlice := []any{1, nil}
	selfSlice[1] = selfSlice
	cyc := &node{Name: "a"}
	cyc.Next = &node{Name: "b", Next: cyc}
	var nilM *nilMethods
	var nilIface any
	var nilMap map[string]any
	var nilPtr *int

	manyAttrs := make([]slog.Attr, ManyAttrs)
	for i := range manyAttrs {
		manyAttrs[i] = slog.Int(fmt.Sprintf("k%d", i), i)
	}
	manySecret := append(append([]slog.Attr(nil), manyAttrs...), slog.String("token", Secret))

	nested := slog.String("leaf", "x")
	nestedSecret := slog.String("password", Secret)
	for range NestedGroups {
		nested = slog.Group("g", nested)
		nestedSecret = slog.Group("g", nestedSecret)
	}
	deepMap := any(map[string]any{"password": Secret})
	deepSlice := any([]any{Secret})
	deepPtr := any(&creds{Password: Secret})
	for range DeepValues {
		deepMap = map[string]any{"d": deepMap}
		deepSlice = []any{deepSlice}
		p := deepPtr
		deepPtr = &p
	}
	bigMap := make(map[string]int, 100_000)
	for i := range 100_000 {
		bigMap[fmt.Sprint(i)] = i
	}

	withGroups := func(n int) func(slog.Handler) slog.Handler {
		return func(h slog.Handler) slog.Handler {
			for range n {
				h = h.WithGroup("g")
			}
			return h
		}
	}
	s := Secret
	hdr := http.Header{"Authorization": {"Bearer " + Secret}, "Accept": {"*/*"}}

	cases := []Case{
		{Name: "self-containing map", Attrs: []slog.Attr{slog.Any("m", selfMap)}},
		{Name: "slice containing itself", Attrs: []slog.Attr{slog.Any("s", selfSlice)}},
		{Name: "pointer cycle", Attrs: []slog.Attr{slog.Any("p", cyc)}},
		{Name: "LogValuer returning itself", Attrs: []slog.Attr{slog.Any("v", selfValuer{})}},
		{Name: "panicking LogValuer", Attrs: []slog.Attr{slog.Any("v", panicValuer{})}},
		{Name: "typed nil with panicking methods", Attrs: []slog.Attr{slog.Any("n", nilM), slog.Any("e", error(nilM)), slog.Any("s", fmt.Stringer(nilM))}},
		{Name: "typed nil in a map", Attrs: []slog.Attr{slog.Any("m", map[string]any{"n": nilM})}},
		{Name: "methods that panic", Attrs: []slog.Attr{slog.Any("p", panicky{}), slog.Any("e", error(panicky{})), slog.Any("s", panicStringer{}), slog.Any("t", panicText{}), slog.Any("m", map[string]any{"p": panicky{}, "t": panicText{}})}},
		{Name: "nil interface and pointers", Attrs: []slog.Attr{slog.Any("i", nilIface), slog.Any("p", nilPtr), slog.Any("m", nilMap), slog.Any("s", []any(nil))}},
		{Name: "invalid UTF-8", Message: "bad \xff\xfe msg", Attrs: []slog.Attr{slog.String("k\xffey", "v\xc3\x28al"), slog.Any("m", map[string]string{"\xff": "\xfe"})}},
		{Name: "control characters", Message: "a\x00b\x1b[31mred\n", Attrs: []slog.Attr{slog.String("k\n=x", "v\x00\x1b]0;title\x07")}},
		{Name: "NaN and Inf", Attrs: []slog.Attr{slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(1)), slog.Any("ninf", math.Inf(-1)), slog.Any("f32", float32(math.NaN())), slog.Any("fs", []float64{math.NaN(), math.Inf(1)})}},
		{Name: "50 MB string", Attrs: []slog.Attr{slog.String("big", bigString())}},
		{Name: "50 MB key", Attrs: []slog.Attr{slog.String(bigString(), "v")}},
		{Name: "50 MB message", Message: bigString()},
		{Name: "50 MB string in a map", Attrs: []slog.Attr{slog.Any("m", map[string]string{"big": bigString()})}},
		{Name: "10,000 attributes", Attrs: manyAttrs},
		{Name: "10,000 attributes in a group", Attrs: []slog.Attr{{Key: "g", Value: slog.GroupValue(manyAttrs...)}}},
		{Name: "map of 100,000 entries", Attrs: []slog.Attr{slog.Any("m", bigMap)}},
		{Name: "100,000 nested groups", Attrs: []slog.Attr{nested}},
		{Name: "100,000 chained WithGroup", With: withGroups(NestedGroups), Attrs: []slog.Attr{slog.Int("n", 1)}},
		{Name: "1,000 nested maps, slices and pointers", Attrs: []slog.Attr{slog.Any("m", deepMap), slog.Any("s", deepSlice), slog.Any("p", deepPtr)}, Secret: true},
		{Name: "channel, func, complex", Attrs: []slog.Attr{slog.Any("c", make(chan int)), slog.Any("f", func() {}), slog.Any("x", complex(1, 2))}},

		// Secrets under every shape.
		{Name: "secret under a plain key", Attrs: []slog.Attr{slog.String("password", Secret)}, Secret: true},
		{Name: "secret under word keys", Attrs: []slog.Attr{
			slog.String("db_password", s), slog.String("dbPassword", s), slog.String("X-Api-Key", s),
			slog.String("access-token", s), slog.String("client_secret", s), slog.String("private_key", s),
			slog.String("api-key", s), slog.String("DD_API_KEY", s), slog.String("Proxy-Authorization", s),
			slog.String("pwd", s), slog.String("AccessToken", s), slog.String("Set-Cookie", s),
		}, Secret: true},
		{Name: "secret under a sensitive key longer than any value", Attrs: []slog.Attr{
			slog.String(strings.Repeat("x", 100<<10)+"_password", Secret),
			slog.Any("m", map[string]string{strings.Repeat("y", 100<<10) + "-token": Secret}),
		}, Secret: true},
		{Name: "secret in a self-containing map", Attrs: []slog.Attr{slog.Any("m", secretSelfMap)}, Secret: true},
		{Name: "secret behind a pointer to a map", Attrs: []slog.Attr{slog.Any("m", &map[string]string{"token": Secret})}, Secret: true},
		{Name: "secret in a slice of maps", Attrs: []slog.Attr{slog.Any("s", []map[string]any{{"client_secret": Secret}})}, Secret: true},
		{Name: "secret in a struct", Attrs: []slog.Attr{slog.Any("c", creds{User: "ann", Password: Secret})}, Secret: true},
		{Name: "secret in a pointer to a nested struct", Attrs: []slog.Attr{slog.Any("c", &creds{Nested: &creds{Password: Secret}})}, Secret: true},
		{Name: "secret under a json tag", Attrs: []slog.Attr{slog.Any("c", jsonTagged{Login: "ann", Key: Secret})}, Secret: true},
		{Name: "secret in a json.RawMessage", Attrs: []slog.Attr{slog.Any("raw", json.RawMessage(`{"a":[{"Authorization":"`+Secret+`"}]}`))}, Secret: true},
		{Name: "secret in MarshalJSON output", Attrs: []slog.Attr{slog.Any("j", secretJSON{})}, Secret: true},
		{Name: "secret behind a LogValuer", Attrs: []slog.Attr{slog.Any("login", secretValuer{})}, Secret: true},
		{Name: "secret in http.Header", Attrs: []slog.Attr{slog.Any("headers", hdr)}, Secret: true},
		{Name: "secret at the bottom of 100,000 groups", Attrs: []slog.Attr{nestedSecret}, Secret: true},
		{Name: "secret after 10,000 attributes", Attrs: manySecret, Secret: true},
		{Name: "secret in a group named by a sensitive key", Attrs: []slog.Attr{slog.Group("credentials", slog.String("x", Secret))}, Secret: true},
		{Name: "secret through WithGroup with a sensitive name", With: func(h slog.Handler) slog.Handler { return h.WithGroup("secret") }, Attrs: []slog.Attr{slog.String("x", Secret)}, Secret: true},
		{Name: "secret in a map under a secret-named group", With: func(h slog.Handler) slog.Handler { return h.WithGroup("auth").WithGroup("token") }, Attrs: []slog.Attr{slog.Any("m", map[string]string{"v": Secret})}, Secret: true},
		{Name: "secret inside 100,000 chained WithGroup", With: withGroups(NestedGroups), Attrs: []slog.Attr{slog.String("password", Secret)}, Secret: true},
	}
	return cases
}

// Options says how [Check] builds and judges a handler.
type Options struct {
	// New returns the handler under test, writing to w. Required.
	New func(w io.Writer) slog.Handler
	// JSON: every line written must be a valid JSON object.
	JSON bool
	// Redacts: Secret must never appear in the output.
	Redacts bool
	// MaxBytes bounds the output of one case. Default: 8 MiB, room for
	// the kit's 1 MiB record budget after the worst escaping.
	MaxBytes int
	// Flush, when not nil, is called after each case and before the
	// output is checked (for handlers that buffer).
	Flush func()
}

// Check runs every case of [Cases] through a new handler from o.New, with
// the attributes on the record and again through WithAttrs, and verifies
// each output with [Verify].
func Check(t *testing.T, o Options) {
	t.Helper()
	for _, c := range Cases() {
		for _, with := range []bool{false, true} {
			name := c.Name
			if with {
				name += "/WithAttrs"
			}
			t.Run(name, func(t *testing.T) {
				w := &LimitWriter{Max: cmpOr(o.MaxBytes, 8<<20)}
				h := o.New(w)
				var err error
				if with {
					err = c.LogWith(t.Context(), h)
				} else {
					err = c.Log(t.Context(), h)
				}
				if err != nil {
					t.Fatal(err)
				}
				if o.Flush != nil {
					o.Flush()
				}
				Verify(t, c, w, o)
			})
		}
	}
}

func cmpOr(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// Verify checks what a handler wrote for c: within o.MaxBytes, valid JSON
// lines when o.JSON, and no [Secret] when o.Redacts and c hides one.
func Verify(t testing.TB, c Case, w *LimitWriter, o Options) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	limit := cmpOr(o.MaxBytes, 8<<20)
	if w.N > int64(limit) {
		t.Errorf("%s: %d bytes written, more than %d", c.Name, w.N, limit)
	}
	out := w.buf.Bytes()
	if o.Redacts && c.Secret && bytes.Contains(out, []byte(Secret)) {
		i := bytes.Index(out, []byte(Secret))
		t.Errorf("%s: the secret reached the output: …%s…", c.Name, out[max(0, i-200):min(len(out), i+50)])
	}
	if o.JSON {
		for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if len(line) == 0 && len(out) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Errorf("%s: line %d is not a JSON object (%v): %.300q", c.Name, i+1, err, line)
			}
		}
	}
}

// LimitWriter keeps the first Max bytes written to it and counts all of
// them. It is safe for concurrent use.
type LimitWriter struct {
	Max int
	N   int64 // bytes written in all
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *LimitWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.N += int64(len(p))
	if room := w.Max + 1 - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (w *LimitWriter) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

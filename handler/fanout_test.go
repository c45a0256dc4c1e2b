package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

func TestFanoutSlogtest(t *testing.T) {
	var a, b bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		a.Reset()
		b.Reset()
		return Fanout(slog.NewJSONHandler(&a, nil), slog.NewJSONHandler(&b, nil))
	}, func(t *testing.T) map[string]any {
		if a.String() != b.String() {
			t.Errorf("children differ:\n%s\n%s", a.String(), b.String())
		}
		return jsonLine(t, &a)
	})
}

func TestFanoutSingleSlogtest(t *testing.T) {
	var a bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		a.Reset()
		return Fanout(nil, slog.NewJSONHandler(&a, nil))
	}, func(t *testing.T) map[string]any { return jsonLine(t, &a) })
}

func TestFanoutFailingChildren(t *testing.T) {
	errDown := errors.New("backend down")
	tests := []struct {
		name     string
		children []*recorder
		wantErrs []string // substrings of the joined error, in order
	}{
		{"all fine", []*recorder{{}, {}}, nil},
		{"one errors", []*recorder{{err: errDown}, {}}, []string{"backend down"}},
		{"one panics with a string", []*recorder{{}, {panicV: "boom"}, {}}, []string{"boom"}},
		{"one panics with an error", []*recorder{{panicV: errDown}, {}}, []string{"backend down"}},
		{"error and panic", []*recorder{{err: errDown}, {panicV: "boom"}, {}}, []string{"backend down", "boom"}},
		{"single child panics", []*recorder{{panicV: "alone"}}, []string{"alone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := make([]slog.Handler, len(tt.children))
			for i, c := range tt.children {
				hs[i] = c
			}
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Int("a", 1))
			err := Fanout(hs...).Handle(t.Context(), r)
			if tt.wantErrs == nil {
				if err != nil {
					t.Fatalf("Handle = %v, want nil", err)
				}
			} else {
				if err == nil {
					t.Fatalf("Handle = nil, want an error mentioning %q", tt.wantErrs)
				}
				msg := err.Error()
				for _, w := range tt.wantErrs {
					i := strings.Index(msg, w)
					if i < 0 {
						t.Fatalf("error %q lacks %q", msg, w)
					}
					msg = msg[i+len(w):]
				}
				if tt.children[0].err != nil && !errors.Is(err, errDown) {
					t.Errorf("errors.Is(%v, errDown) = false", err)
				}
			}
			for i, c := range tt.children {
				want := 1
				if c.panicV != nil {
					want = 0
				}
				if c.records != want || c.attrs != want {
					t.Errorf("child %d got %d records with %d attrs, want %d", i, c.records, c.attrs, want)
				}
			}
		})
	}
}

func TestFanoutEnabled(t *testing.T) {
	debug, warn := &recorder{level: slog.LevelDebug}, &recorder{level: slog.LevelWarn}
	tests := []struct {
		name string
		h    slog.Handler
		want map[slog.Level]bool
	}{
		{"debug+warn", Fanout(debug, warn), map[slog.Level]bool{slog.LevelDebug - 1: false, slog.LevelDebug: true, slog.LevelError: true}},
		{"warn only", Fanout(warn, &recorder{level: slog.LevelError}), map[slog.Level]bool{slog.LevelInfo: false, slog.LevelWarn: true}},
		{"none", Fanout(), map[slog.Level]bool{slog.LevelError: false}},
		{"nils", Fanout(nil, nil), map[slog.Level]bool{slog.LevelError: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for l, want := range tt.want {
				if got := tt.h.Enabled(t.Context(), l); got != want {
					t.Errorf("Enabled(%v) = %v, want %v", l, got, want)
				}
			}
		})
	}

	// Only enabled children see the record.
	debug.records, warn.records = 0, 0
	slog.New(Fanout(debug, warn)).Info("m")
	if debug.records != 1 || warn.records != 0 {
		t.Errorf("Info reached debug %d times and warn %d times, want 1 and 0", debug.records, warn.records)
	}
}

// mutator changes the record it is given, to show that its siblings are
// not affected.
type mutator struct{ recorder }

func (m *mutator) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.String("added", "by mutator"), slog.Int("x", 1), slog.Int("y", 2))
	return nil
}

func TestFanoutChildrenIsolated(t *testing.T) {
	var buf bytes.Buffer
	h := Fanout(&mutator{}, slog.NewJSONHandler(&buf, nil))
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
	for i := range 6 { // spill past the record's inline attributes
		r.AddAttrs(slog.Int(string(rune('a'+i)), i))
	}
	if err := h.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	got := jsonLine(t, &buf)
	want := map[string]any{"level": "INFO", "msg": "m", "a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0, "e": 4.0, "f": 5.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

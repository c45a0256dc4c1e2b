package hostile

import (
	"io"
	"log/slog"
	"testing"
)

// TestCorpusFindsFaults shows the checks can fail: a handler that writes
// its attributes unredacted and unbounded is caught.
func TestCorpusFindsFaults(t *testing.T) {
	var leaked, tooBig bool
	for _, c := range Cases() {
		w := &LimitWriter{Max: 8 << 20}
		h := slog.NewTextHandler(w, nil)
		if c.Name != "secret under a plain key" && c.Name != "50 MB string" {
			continue // the others could crash a handler without a budget
		}
		if err := c.Log(t.Context(), h); err != nil {
			continue
		}
		ft := &fakeT{}
		Verify(ft, c, w, Options{Redacts: true})
		if ft.failed {
			if c.Secret {
				leaked = true
			} else {
				tooBig = true
			}
		}
	}
	if !leaked || !tooBig {
		t.Errorf("the checks did not catch an unredacted (%v) or unbounded (%v) handler", leaked, tooBig)
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }

func TestLimitWriter(t *testing.T) {
	w := &LimitWriter{Max: 4}
	io.WriteString(w, "abc")
	io.WriteString(w, "defgh")
	if w.N != 8 || string(w.Bytes()) != "abcde" {
		t.Errorf("N=%d kept %q, want 8 and %q", w.N, w.Bytes(), "abcde")
	}
}

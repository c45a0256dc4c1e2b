//go:build !race

package prometheus

import "testing"

// Negotiating the format of a scrape allocates nothing.
func TestAllocsNegotiate(t *testing.T) {
	for _, accept := range []string{"", "*/*", acceptPrometheus242Native, acceptPrometheus3} {
		if got := testing.AllocsPerRun(100, func() { negotiate(accept, true) }); got != 0 {
			t.Errorf("negotiate(%q): %v allocs, want 0", accept, got)
		}
	}
}

package dbmetrics

import (
	"fmt"
	"strings"
	"testing"
)

func TestSourceAndCacheBounds(t *testing.T) {
	in := newInstrument(nil)
	for i := range 2 * MaxCachedStatements {
		info := in.info(fmt.Sprintf("SELECT * FROM t%d", i))
		want := fmt.Sprintf("t%d", i)
		if i >= MaxSources {
			want = SourceOther
		}
		if info.source != want {
			t.Fatalf("statement %d: source %q; want %q", i, info.source, want)
		}
	}
	if n := len(*in.cache.Load()); n != MaxCachedStatements {
		t.Errorf("cached %d statements; want %d", n, MaxCachedStatements)
	}
	if got := in.admit("t5"); got != "t5" {
		t.Errorf("admit of a known source = %q; want t5", got)
	}
	if got := in.admit("fresh"); got != SourceOther {
		t.Errorf("admit past MaxSources = %q; want %q", got, SourceOther)
	}
	long := "SELECT * FROM t1 WHERE " + strings.Repeat("x = 1 AND ", MaxCachedSQLLen/10) + "1"
	in2 := newInstrument(nil)
	if info := in2.info(long); info.source != "t1" {
		t.Errorf("long statement source %q; want t1", info.source)
	}
	if n := len(*in2.cache.Load()); n != 0 {
		t.Errorf("a statement longer than MaxCachedSQLLen was cached")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("no-such-driver", "", nil); err == nil || !strings.Contains(err.Error(), "no-such-driver") {
		t.Errorf("Open of an unknown driver: %v; want an error naming it", err)
	}
}

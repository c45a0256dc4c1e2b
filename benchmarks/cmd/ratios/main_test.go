package main

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `goos: linux
BenchmarkLog/slog-json-2         	 1000000	       700.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkLog/enrich              	 1000000	       750 ns/op	      16 B/op	       1 allocs/op
BenchmarkDatadogShip/datadog-2   	 1000000	       500 ns/op	 2000000 records/s	       0 allocs/op
BenchmarkLog/slog-json-2         	 1000000	       710.5 ns/op	       0 B/op	       0 allocs/op
PASS
`
	got, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got["BenchmarkLog/slog-json"]); n != 2 {
		t.Errorf("slog-json rounds = %d, want 2 (the -2 suffix stripped)", n)
	}
	if s := got["BenchmarkLog/enrich"]; len(s) != 1 || s[0].ns != 750 || s[0].bytes != 16 || s[0].allocs != 1 {
		t.Errorf("enrich = %+v, want one round of 750 ns, 16 B, 1 alloc", s)
	}
	if s := got["BenchmarkDatadogShip/datadog"]; len(s) != 1 || s[0].ns != 500 {
		t.Errorf("datadog = %+v, want one round of 500 ns (custom units skipped)", s)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("BenchmarkX/a-2 10 5 ns/op 0 B/op 0 allocs/op\n")
	f.Add("BenchmarkX 1 NaN ns/op\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parse(strings.NewReader(s))
		if err != nil {
			return
		}
		for name, ss := range got {
			if !strings.HasPrefix(name, "Benchmark") || len(ss) == 0 {
				t.Errorf("row %q with %d rounds", name, len(ss))
			}
		}
	})
}

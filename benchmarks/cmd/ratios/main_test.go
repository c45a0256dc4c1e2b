package main

import (
	"os"
	"slices"
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

// pageArgs are the arguments benchmarks/README.md was made with, from the
// benchmarks folder; the page shows them.
var pageArgs = []string{"-markdown", "-note", "cmd/ratios/testdata/note.md", "-footprint", "cmd/ratios/testdata/footprint.txt", "cmd/ratios/testdata/bench.txt"}

// TestPageIsCurrent: benchmarks/README.md is exactly what this command
// makes of the run kept in testdata, so that no figure on it was typed by
// hand and no change to the scenarios goes unpublished.
func TestPageIsCurrent(t *testing.T) {
	t.Chdir("../..")
	var got strings.Builder
	if err := run(pageArgs, &got); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("benchmarks/README.md is not the output of cmd/ratios; from the benchmarks folder, run\n\tgo run ./cmd/ratios %s > README.md", shellJoin(pageArgs))
	}
}

func TestPageShowsItsCommand(t *testing.T) {
	t.Chdir("../..")
	var got strings.Builder
	if err := run(pageArgs, &got); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"go run ./cmd/ratios " + strings.Join(pageArgs, " ") + " > README.md",
		"for i in " + roundsList(keptRounds(t)) + "; do go test -run '^$' -bench . -benchmem -count=1 >> cmd/ratios/testdata/bench.txt; done",
		"go test -count=1 -run Footprint -v ./footprint > cmd/ratios/testdata/footprint.txt",
	} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("the page does not show the command\n\t%s", want)
		}
	}
}

// keptRounds returns the most rounds of any row in the kept run.
func keptRounds(t *testing.T) int {
	f, err := os.Open("cmd/ratios/testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ss := range data {
		n = max(n, len(ss))
	}
	return n
}

func TestAnalyzeOrphans(t *testing.T) {
	data := map[string][]sample{
		"BenchmarkHistogram/ours":          {{ns: 40}, {ns: 50}},
		"BenchmarkHistogram/client_golang": {{ns: 100}, {ns: 100}},
		"BenchmarkNew/x":                   {{ns: 1}},
	}
	results, missed, orphans := analyze(data)
	if len(results) != 1 || len(results[0].ratios) != 1 {
		t.Fatalf("results = %+v, want one scenario with one ratio", results)
	}
	if got := results[0].ratios[0]; got.value != 0.45 || got.lo != 0.4 || got.hi != 0.5 {
		t.Errorf("ratio = %v from %v to %v, want 0.45 (the median of 0.4 and 0.5) from 0.4 to 0.5", got.value, got.lo, got.hi)
	}
	if missed != 0 {
		t.Errorf("missed = %d, want 0 (0.45 ≤ 0.6)", missed)
	}
	if !slices.Equal(orphans, []string{"BenchmarkNew/x"}) {
		t.Errorf("orphans = %q, want the row no scenario shows", orphans)
	}
}

func TestShellJoin(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{[]string{"-markdown", "a/b.txt"}, "-markdown a/b.txt"},
		{[]string{"-note", "it's here"}, `-note 'it'\''s here'`},
		{[]string{"$HOME", ""}, `'$HOME' ''`},
	} {
		if got := shellJoin(tt.in); got != tt.want {
			t.Errorf("shellJoin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRunFlags(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-note", "x.md", "bench.txt"}, &out); err == nil {
		t.Error("-note without -markdown: no error")
	}
	if err := run([]string{"a", "b"}, &out); err == nil {
		t.Error("two files: no error")
	}
}

func TestWrap(t *testing.T) {
	for _, tt := range []struct {
		in    string
		width int
		want  string
	}{
		{"a bb ccc", 4, "a bb\nccc"},
		{"a  bb\nccc", 10, "a bb ccc"},
		{"averylongword b", 4, "averylongword\nb"},
	} {
		if got := wrap(tt.in, tt.width); got != tt.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

// A bound on a row's own figures is judged on the row's median time and
// allocations, and a row past either is counted as a target not met.
func TestAnalyzeRowBound(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rounds  []sample
		missed  int
		verdict string
	}{
		{"within", []sample{{ns: 20}, {ns: 60}, {ns: 30}}, 0, "| suppressed (0 allocs/op) | 30.00 ns | 20.00 ns to 60.00 ns | ≤ 50.00 ns, ≤ 0 allocs/op | met |"},
		{"slow", []sample{{ns: 55}, {ns: 60}, {ns: 30}}, 1, "| suppressed (0 allocs/op) | 55.00 ns | 30.00 ns to 60.00 ns | ≤ 50.00 ns, ≤ 0 allocs/op | **not met** |"},
		{"allocates", []sample{{ns: 20, allocs: 1}, {ns: 20, allocs: 1}}, 1, "| suppressed (1 allocs/op) | 20.00 ns | 20.00 ns to 20.00 ns | ≤ 50.00 ns, ≤ 0 allocs/op | **not met** |"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := map[string][]sample{
				"BenchmarkLog/slog-json":  {{ns: 600}},
				"BenchmarkLog/suppressed": tt.rounds,
			}
			results, missed, _ := analyze(data)
			if missed != tt.missed {
				t.Errorf("missed = %d, want %d", missed, tt.missed)
			}
			var page strings.Builder
			writeTables(&page, results, missed)
			if !strings.Contains(page.String(), tt.verdict) {
				t.Errorf("the table has no line\n\t%s\n%s", tt.verdict, page.String())
			}
		})
	}
}

// Command ratios reads the output of interleaved benchmark rounds and
// prints, for each scenario, the median of every row and its ratio to the
// scenario's baseline, against the target where there is one. It is how
// the README's performance tables are produced:
//
//	cd benchmarks
//	for i in 1 2 3 4 5; do go test -run '^$' -bench . -benchmem -count=1 >> bench.txt; done
//	go run ./cmd/ratios bench.txt
//
// Running -count=1 five times, rather than -count=5 once, interleaves the
// rounds of every row, so that drift in the machine's speed lands on both
// sides of a ratio instead of on one row.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ratio is one compared row: ours over base, or, with overhead set, the
// overhead of ours over bare divided by the overhead of base over bare.
type ratio struct {
	row, base string
	bare      string  // for overhead ratios: the row both are measured over
	max       float64 // target: the ratio must be at most this; 0: none
}

type scenario struct {
	title  string
	rows   []string // rows to show, in order
	ratios []ratio
}

var scenarios = []scenario{
	{"BenchmarkLog (one Info record, three attributes, to io.Discard)",
		[]string{"slog-json", "json", "enrich", "slog-json-ids", "enrich-span", "enrich-span-json", "redact", "console", "fanout-2", "datadog", "zap", "zerolog", "disabled-slog-json", "disabled"},
		[]ratio{
			{row: "json", base: "slog-json"},
			{row: "enrich", base: "slog-json", max: 1.10},
			{row: "slog-json-ids", base: "slog-json"},
			{row: "enrich-span", base: "slog-json"},
			{row: "enrich-span-json", base: "slog-json", max: 1.15},
			{row: "redact", base: "slog-json", max: 1.15},
			{row: "console", base: "slog-json", max: 1.20},
			{row: "fanout-2", base: "slog-json"},
			{row: "datadog", base: "slog-json", max: 1.3},
			{row: "zap", base: "slog-json"},
			{row: "zerolog", base: "slog-json"},
			{row: "disabled", base: "disabled-slog-json", max: 1.25},
		}},
	{"BenchmarkDatadogShip (records delivered end to end to a local intake, gzip)",
		[]string{"baseline-sync", "datadog"},
		[]ratio{{row: "datadog", base: "baseline-sync"}}},
	{"BenchmarkIncrement (2 tags, existing series, through metricsink.Sink)",
		[]string{"ours", "client_golang", "vm", "dogstatsd"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.6}, {row: "ours", base: "vm"}}},
	{"BenchmarkIncrementParallel",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang"}}},
	{"BenchmarkHistogram",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.6}}},
	{"BenchmarkScrape (10,000 series)",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.25}}},
	{"BenchmarkCounterHandle (Add on a handle with 2 tags)",
		[]string{"ours", "vm", "client_golang"},
		[]ratio{{row: "ours", base: "vm", max: 1.5}, {row: "ours", base: "client_golang"}}},
	{"BenchmarkHistogramHandle",
		[]string{"ours", "vm"},
		[]ratio{{row: "ours", base: "vm", max: 1.5}}},
	{"BenchmarkHTTP (overhead over the bare handler)",
		[]string{"bare", "ours", "promhttp"},
		[]ratio{{row: "ours", base: "promhttp", bare: "bare", max: 0.6}}},
	{"BenchmarkHTTPTraced (always-sample, discarding exporter; overhead over the bare handler)",
		[]string{"bare", "ours", "otelhttp"},
		[]ratio{{row: "ours", base: "otelhttp", bare: "bare", max: 1.0}}},
	{"BenchmarkDB (point select, in-memory SQLite)",
		[]string{"sqlx", "ours"},
		[]ratio{{row: "ours", base: "sqlx", max: 1.05}}},
	{"BenchmarkDBTraced (always-sample, discarding exporter)",
		[]string{"ours", "otelsql"},
		[]ratio{{row: "ours", base: "otelsql", max: 1.0}}},
	{"BenchmarkWS (100-byte echo over loopback)",
		[]string{"bare", "ours"},
		[]ratio{{row: "ours", base: "bare", max: 1.05}}},
}

// sample is what one round reported for one row.
type sample struct{ ns, bytes, allocs float64 }

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) (map[string][]sample, error) {
	out := map[string][]sample{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		var s sample
		ok := false
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns, ok = v, true
			case "B/op":
				s.bytes = v
			case "allocs/op":
				s.allocs = v
			}
		}
		if ok {
			out[m[1]] = append(out[m[1]], s)
		}
	}
	return out, sc.Err()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func med(ss []sample, f func(sample) float64) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return median(xs)
}

func ns(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.2f ns", v)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ratios bench.txt")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data, err := parse(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	missed := 0
	for _, sc := range scenarios {
		name := strings.Fields(sc.title)[0]
		get := func(row string) ([]sample, bool) {
			s, ok := data[name+"/"+row]
			return s, ok && len(s) > 0
		}
		if _, ok := get(sc.rows[0]); !ok {
			continue
		}
		fmt.Printf("\n**%s**\n\n| row | ns/op (median) | B/op | allocs/op | rounds |\n| --- | ---: | ---: | ---: | ---: |\n", sc.title)
		for _, row := range sc.rows {
			s, ok := get(row)
			if !ok {
				continue
			}
			fmt.Printf("| %s | %s | %.0f | %.0f | %d |\n", row, ns(med(s, func(x sample) float64 { return x.ns })),
				med(s, func(x sample) float64 { return x.bytes }), med(s, func(x sample) float64 { return x.allocs }), len(s))
		}
		fmt.Printf("\n| ratio | median | target | |\n| --- | ---: | --- | --- |\n")
		for _, r := range sc.ratios {
			a, ok1 := get(r.row)
			b, ok2 := get(r.base)
			if !ok1 || !ok2 {
				continue
			}
			// The ratio of each round, then their median: rounds are
			// interleaved, so a round's rows saw the same machine.
			n := min(len(a), len(b))
			var xs []float64
			label := r.row + " / " + r.base
			if r.bare != "" {
				c, ok := get(r.bare)
				if !ok {
					continue
				}
				n = min(n, len(c))
				label = "(" + r.row + " − " + r.bare + ") / (" + r.base + " − " + r.bare + ")"
				for i := range n {
					xs = append(xs, (a[i].ns-c[i].ns)/(b[i].ns-c[i].ns))
				}
			} else {
				for i := range n {
					xs = append(xs, a[i].ns/b[i].ns)
				}
			}
			v := median(xs)
			target, verdict := "", ""
			if r.max > 0 {
				target = fmt.Sprintf("≤ %.2f×", r.max)
				verdict = "met"
				if v > r.max {
					verdict = "**not met**"
					missed++
				}
			}
			fmt.Printf("| %s | %.3f× | %s | %s |\n", label, v, target, verdict)
		}
	}
	if missed > 0 {
		fmt.Printf("\n%d target(s) not met.\n", missed)
	}
}

// Command ratios reads the output of interleaved benchmark rounds and
// prints, for each scenario, the median of every row and its ratio to the
// scenario's baseline, against the target where there is one.
//
//	cd benchmarks
//	for i in 1 2 3 4 5; do go test -run '^$' -bench . -benchmem -count=1 >> bench.txt; done
//	go run ./cmd/ratios bench.txt
//
// With -markdown it writes the whole of benchmarks/README.md instead: how
// the figures were made, the tables, the footprint check's output when
// -footprint names a file holding it, and a note on the run (its date, the
// machine, what else ran on it) from the file -note names. The page shows
// the command lines that produced it, its own included. The run the page
// was made from is kept in cmd/ratios/testdata, and TestPageIsCurrent
// fails when README.md is not what this command makes of it:
//
//	cd benchmarks
//	d=cmd/ratios/testdata
//	: > $d/bench.txt; for i in 1 2 3 4 5; do go test -run '^$' -bench . -benchmem -count=1 >> $d/bench.txt; done
//	go test -count=1 -run Footprint -v ./footprint > $d/footprint.txt
//	$EDITOR $d/note.md   # the date, the machine, what else ran
//	go run ./cmd/ratios -markdown -note $d/note.md -footprint $d/footprint.txt $d/bench.txt > README.md
//
// Running -count=1 several times, rather than -count=N once, interleaves
// the rounds of every row, so that drift in the machine's speed lands on
// both sides of a ratio instead of on one row.
package main

import (
	"bufio"
	"flag"
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
// With no base it is a bound on the row's own figures, for a promise no
// ratio expresses: its median time at most maxNs and its median
// allocations at most maxAllocs.
type ratio struct {
	row, base string
	bare      string  // for overhead ratios: the row both are measured over
	max       float64 // target: the ratio must be at most this; 0: none

	maxNs, maxAllocs float64 // with no base: the bounds on the row itself
}

type scenario struct {
	title  string
	rows   []string // rows to show, in order
	ratios []ratio
	about  string // what the rows are, for the page; no figures
}

var scenarios = []scenario{
	{"BenchmarkLog (one Info record, three attributes, to io.Discard)",
		[]string{"slog-json", "json", "enrich", "enrich-storm", "slog-json-ids", "enrich-span", "enrich-span-json", "setup", "redact", "console", "fanout-2", "datadog", "zap", "zerolog", "disabled-slog-json", "disabled", "suppressed"},
		[]ratio{
			{row: "json", base: "slog-json"},
			{row: "enrich", base: "slog-json", max: 1.10},
			{row: "enrich-storm", base: "enrich", max: 1.05},
			{row: "slog-json-ids", base: "slog-json"},
			{row: "enrich-span", base: "slog-json"},
			{row: "enrich-span-json", base: "slog-json", max: 1.15},
			{row: "setup", base: "slog-json"},
			{row: "redact", base: "slog-json", max: 1.15},
			{row: "console", base: "slog-json", max: 1.20},
			{row: "fanout-2", base: "slog-json"},
			{row: "datadog", base: "slog-json", max: 1.3},
			{row: "zap", base: "slog-json"},
			{row: "zerolog", base: "slog-json"},
			{row: "disabled", base: "disabled-slog-json", max: 1.25},
			{row: "suppressed", maxNs: 50},
		},
		"`slog-json` is the standard library's JSON handler, the baseline. `json` is `handler.JSON`, the " +
			"writer of `LOG_FORMAT=json` (the same bytes). `enrich` is `enrich.New` over slog's JSON handler, " +
			"adding the five identity attributes to every record. `slog-json-ids` adds a trace and a span id " +
			"by hand through slog's handler, the floor of any enrichment over that writer; `enrich-span` is " +
			"`enrich` under a span over slog's handler, `enrich-span-json` the same over `handler.JSON`, " +
			"which is what `Setup` builds. `redact`, `console`, `fanout-2` (two slog JSON handlers) and " +
			"`datadog` (queued for a local intake) are the other handlers; `zap` and `zerolog` log the same " +
			"record their own way. `enrich-storm` is `enrich` behind storm control (`handler.NewStorm`) with " +
			"limits no benchmark reaches, so that every record passes the limiter: its ratio to `enrich` is what " +
			"the limiter adds to a record that is not part of a storm. `setup` is the record through " +
			"the logger `Setup` builds (JSON, storm control with such limits, enrichment, redaction, the level " +
			"counts). `disabled` is a record below the level through the kit's gate, beside slog's handler's. " +
			"`suppressed` is a record Setup's storm control refuses, handed to the logger's handler: what the kit " +
			"spends on a record it suppresses (slog.Logger's own work to make a record comes before any handler; " +
			"`BenchmarkStorm` in the handler package shows it)."},
	{"BenchmarkDatadogShip (records delivered end to end to a local intake, gzip)",
		[]string{"baseline-sync", "datadog"},
		[]ratio{{row: "datadog", base: "baseline-sync"}},
		"Records logged, encoded, batched, gzipped, posted and acknowledged by a local intake, per record " +
			"of wall time: `datadog` is the handler with its one sender; `baseline-sync` is slog's JSON " +
			"handler into a buffer, with a gzip and a POST every 1,000 records on the caller's goroutine."},
	{"BenchmarkIncrement (2 tags, existing series, through metricsink.Sink)",
		[]string{"ours", "client_golang", "vm", "dogstatsd"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.6}, {row: "ours", base: "vm"}},
		"One counter increment looked up by name and tags on every call: `ours` through the " +
			"`metricsink.Sink` interface into the Prometheus registry, `client_golang` through " +
			"`WithLabelValues(...).Inc()`, `vm` through VictoriaMetrics' `GetOrCreateCounter` on a " +
			"pre-built name, `dogstatsd` through the DogStatsD sink."},
	{"BenchmarkIncrementParallel",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang"}},
		"`BenchmarkIncrement` from every core at once on the same series."},
	{"BenchmarkHistogram",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.6}},
		"One observation with two tags on an existing series, the same buckets in both."},
	{"BenchmarkScrape (10,000 series)",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.25}},
		"One whole exposition of 10,000 counter series in 10 families, to `io.Discard`."},
	{"BenchmarkScrapeOpenMetrics (10,000 series)",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.25}},
		"`BenchmarkScrape` in OpenMetrics 1.0.0, which Prometheus asks for first when it does not scrape " +
			"native histograms: ours through `WriteOpenMetrics`, client_golang through `Gather` and `expfmt`'s " +
			"OpenMetrics encoder, as `promhttp` answers that `Accept` header."},
	{"BenchmarkScrapeProtobuf (10,000 series)",
		[]string{"ours", "client_golang"},
		[]ratio{{row: "ours", base: "client_golang", max: 0.5}},
		"`BenchmarkScrape` in the protobuf format Prometheus asks for when it scrapes native histograms: " +
			"ours through `WriteProtobuf` with `promproto` imported, client_golang through `Gather` and " +
			"`expfmt`'s delimited encoder, as `promhttp` answers that `Accept` header."},
	{"BenchmarkCounterHandle (Add on a handle with 2 tags)",
		[]string{"ours", "vm", "client_golang"},
		[]ratio{{row: "ours", base: "vm", max: 1.5}, {row: "ours", base: "client_golang"}},
		"A series resolved before the loop: `metricsink.NewCounter`'s handle, a held VictoriaMetrics " +
			"`*metrics.Counter`, a cached client_golang counter."},
	{"BenchmarkHistogramHandle",
		[]string{"ours", "vm"},
		[]ratio{{row: "ours", base: "vm", max: 1.5}},
		"`metricsink.NewHistogram`'s handle beside a held VictoriaMetrics histogram, the same buckets."},
	{"BenchmarkHistogramNative",
		[]string{"ours", "client_golang", "client_golang-classic"},
		[]ratio{{row: "ours", base: "client_golang", max: 1.0}, {row: "ours", base: "client_golang-classic"}},
		"One observation in a series with native buckets (schema 3, at most 160), latencies from 400 µs " +
			"to 3 s: `metricsink.NewHistogram`'s handle, which keeps the classic buckets too, beside a " +
			"cached client_golang native histogram (bucket factor 1.1), without classic buckets and " +
			"(`client_golang-classic`) with the same classic buckets as ours."},
	{"BenchmarkHTTP (overhead over the bare handler)",
		[]string{"bare", "ours", "promhttp"},
		[]ratio{{row: "ours", base: "promhttp", bare: "bare", max: 0.6}},
		"One request through a `ServeMux` pattern into a recorder: `bare`, `ours` (`httpmetrics` with " +
			"route, method and status labels and a request id, no access log, no tracer), `promhttp` " +
			"(duration and counter, the route curried in). The ratio compares what each adds to `bare`."},
	{"BenchmarkHTTPTraced (always-sample, discarding exporter; overhead over the bare handler)",
		[]string{"bare", "ours", "otelhttp"},
		[]ratio{{row: "ours", base: "otelhttp", bare: "bare", max: 1.0}},
		"`BenchmarkHTTP` with every span sampled into a discarding exporter: `ours` makes metrics and a " +
			"server span, `otelhttp` a server span alone (its metrics to a no-op meter provider)."},
	{"BenchmarkDB (point select, in-memory SQLite)",
		[]string{"sqlx", "ours"},
		[]ratio{{row: "ours", base: "sqlx", max: 1.05}},
		"One row by primary key through sqlx's `Get`: plain sqlx, and sqlx opened by `dbmetrics` " +
			"recording into the Prometheus registry (duration, count, pool gauges, slow-query check)."},
	{"BenchmarkDBTraced (always-sample, discarding exporter)",
		[]string{"ours", "otelsql"},
		[]ratio{{row: "ours", base: "otelsql", max: 1.0}},
		"`dbmetrics` with metrics and a client span per statement, beside XSAM/otelsql (spans alone)."},
	{"BenchmarkWS (100-byte echo over loopback)",
		[]string{"bare", "ours"},
		[]ratio{{row: "ours", base: "bare", max: 1.05}},
		"One round trip of a text message between a coder/websocket client and an echo server over " +
			"TCP on 127.0.0.1: `bare`, and both ends wrapped by `wsmetrics` (four messages counted)."},
	{"BenchmarkWSMessage (what wsmetrics adds per message)",
		[]string{"discard", "prometheus"},
		[]ratio{{row: "prometheus", base: "discard"}},
		"One `Conn.MessageData` call (the event read from the JSON, the labels, two counters) into " +
			"`metricsink.Discard` (the tracker's own work) and into the Prometheus registry."},
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

// header returns the goos, goarch, pkg and cpu lines that go test prints
// before the first benchmark, each once, in order.
func header(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		for _, k := range []string{"goos:", "goarch:", "pkg:", "cpu:"} {
			if strings.HasPrefix(l, k) && !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
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

// rowResult is one row's medians over its rounds.
type rowResult struct {
	name              string
	ns, bytes, allocs float64
	rounds            int
}

// ratioResult is one ratio's median over the rounds, and the lowest and
// highest of the rounds' ratios.
type ratioResult struct {
	label  string
	value  float64
	lo, hi float64
	max    float64
	missed bool

	// A bound on a row's own figures (maxNs > 0): value, lo and hi are
	// times in ns, allocs the median allocations.
	maxNs, maxAllocs, allocs float64
}

type result struct {
	sc     scenario
	rows   []rowResult
	ratios []ratioResult
}

// analyze computes every scenario present in data, and returns the rows
// that belong to no scenario, so that none is left out unsaid.
func analyze(data map[string][]sample) (results []result, missed int, orphans []string) {
	known := map[string]bool{}
	for _, sc := range scenarios {
		name := strings.Fields(sc.title)[0]
		for _, row := range sc.rows {
			known[name+"/"+row] = true
		}
		get := func(row string) ([]sample, bool) {
			s, ok := data[name+"/"+row]
			return s, ok && len(s) > 0
		}
		if _, ok := get(sc.rows[0]); !ok {
			continue
		}
		res := result{sc: sc}
		for _, row := range sc.rows {
			s, ok := get(row)
			if !ok {
				continue
			}
			res.rows = append(res.rows, rowResult{row,
				med(s, func(x sample) float64 { return x.ns }),
				med(s, func(x sample) float64 { return x.bytes }),
				med(s, func(x sample) float64 { return x.allocs }), len(s)})
		}
		for _, r := range sc.ratios {
			if r.base == "" {
				a, ok := get(r.row)
				if !ok {
					continue
				}
				xs := make([]float64, len(a))
				for i, x := range a {
					xs[i] = x.ns
				}
				rr := ratioResult{label: r.row, value: median(xs), lo: slices.Min(xs), hi: slices.Max(xs),
					allocs: med(a, func(x sample) float64 { return x.allocs }), maxNs: r.maxNs, maxAllocs: r.maxAllocs}
				rr.missed = rr.value > r.maxNs || rr.allocs > r.maxAllocs
				if rr.missed {
					missed++
				}
				res.ratios = append(res.ratios, rr)
				continue
			}
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
			if len(xs) == 0 {
				continue
			}
			v := median(xs)
			rr := ratioResult{label: label, value: v, lo: slices.Min(xs), hi: slices.Max(xs), max: r.max, missed: r.max > 0 && v > r.max}
			if rr.missed {
				missed++
			}
			res.ratios = append(res.ratios, rr)
		}
		results = append(results, res)
	}
	for name := range data {
		if !known[name] {
			orphans = append(orphans, name)
		}
	}
	slices.Sort(orphans)
	return results, missed, orphans
}

// writeTables writes each scenario's rows and ratios as markdown tables.
func writeTables(w io.Writer, results []result, missed int) {
	for _, res := range results {
		fmt.Fprintf(w, "\n**%s**\n\n", res.sc.title)
		writeScenario(w, res)
	}
	if missed > 0 {
		fmt.Fprintf(w, "\n%d target(s) not met.\n", missed)
	}
}

func writeScenario(w io.Writer, res result) {
	fmt.Fprintf(w, "| row | ns/op (median) | B/op | allocs/op | rounds |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range res.rows {
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %d |\n", r.name, ns(r.ns), r.bytes, r.allocs, r.rounds)
	}
	fmt.Fprintf(w, "\n| ratio (or row, for a bound on its own figures) | median | rounds' range | target | |\n| --- | ---: | ---: | --- | --- |\n")
	for _, r := range res.ratios {
		target, verdict := "", ""
		if r.maxNs > 0 {
			verdict = "met"
			if r.missed {
				verdict = "**not met**"
			}
			fmt.Fprintf(w, "| %s (%.0f allocs/op) | %s | %s to %s | ≤ %s, ≤ %.0f allocs/op | %s |\n", r.label, r.allocs,
				ns(r.value), ns(r.lo), ns(r.hi), ns(r.maxNs), r.maxAllocs, verdict)
			continue
		}
		if r.max > 0 {
			target = fmt.Sprintf("≤ %.2f×", r.max)
			verdict = "met"
			if r.missed {
				verdict = "**not met**"
			}
		}
		fmt.Fprintf(w, "| %s | %.3f× | %.2f× to %.2f× | %s | %s |\n", r.label, r.value, r.lo, r.hi, target, verdict)
	}
}

// page is what -markdown writes besides the tables.
type page struct {
	args      []string // the command line, after "go run ./cmd/ratios"
	rounds    int      // the most rounds of any row
	header    []string // goos, goarch, pkg, cpu
	note      string   // the run's own note, markdown
	footprint string   // the footprint check's output, or ""
	fpFile    string   // the file it was read from
	benchFile string
}

const intro = `# Benchmarks

What the kit costs beside the libraries it replaces, measured by the benchmarks of this module
(a module of its own, so that client_golang, promhttp, zap, zerolog, otelhttp and otelsql never enter
the kit's ` + "`go.mod`" + `). Every figure on this page was produced by the commands below, and the page
itself is the output of ` + "`cmd/ratios`" + `: edit ` + "`cmd/ratios`" + ` or re-run them, never this file.

Each row is the median of its rounds. Each ratio is the median of the rounds' ratios to the
scenario's baseline, measured in the same run, beside the lowest and the highest of them: running
` + "`-count=1`" + ` several times, rather than ` + "`-count=N`" + ` once, interleaves the rows, so that drift in the
machine's speed lands on both sides of a ratio, and the range shows how much drift there was. A
target is what the kit promises for that ratio; ` + "`cmd/ratios`" + ` marks each met or not met. On a shared
machine the absolute times move with the load; the ratios move much less, but they move: read a
ratio near its target as "at the target", and compare runs made under the same conditions.
`

const elsewhere = `## Measured elsewhere

These measurements need a quiet machine or a process of their own, so they are not part of this run.
Each test asserts its bound; ` + "`-v`" + ` prints the figures it measured.

| what | command (from the repository's root) |
| --- | --- |
| the Prometheus registry's memory bound: peak RSS of a process filling 200,000 names, and 1,000 series with 100 KB tag values | ` + "`go test -run '^TestMemoryBound$' -v ./metricsink/prometheus/`" + ` |
| the dashboard's log ring, per kept record, from both cores at once, beside ` + "`handler.JSON`" + ` | ` + "`go test ./livedash -run '^$' -bench RingHandle -benchmem -count 1`" + ` |
| the demo's POST throughput with the dashboard on against off (40 pairs of rounds on fresh demos, SQLite on tmpfs, a 95 % interval; fails below 0.98×; about 5 minutes) | ` + "`go test ./cmd/demo -run TestDashboardThroughput -dashboard-throughput -timeout 30m -v`" + ` |
| the same with the dashboard off in both rounds (the method's own noise), and with the Logs page open | ` + "`-dashboard-throughput-control`" + `, ` + "`-dashboard-throughput-watched`" + ` added to the command above |

To see where a row's time goes, profile it, for example:

` + "```sh" + `
go test -run '^$' -bench 'BenchmarkWS/ours' -benchtime=3s -cpuprofile ws.prof -o bench.test .
go tool pprof -top -cum bench.test ws.prof | grep -E 'wsmetrics|metricsink'
` + "```" + `
`

// writePage writes the whole markdown page.
func writePage(w io.Writer, p page, results []result, missed int, orphans []string) {
	fmt.Fprint(w, intro)
	fmt.Fprintf(w, "\n## The run\n\n")
	if p.note != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(p.note))
	}
	if len(p.header) > 0 {
		fmt.Fprintf(w, "%s\n\n", wrap("As `go test` reported it: `"+strings.Join(p.header, "`, `")+"`.", 100))
	}
	fmt.Fprintf(w, "From the `benchmarks` folder:\n\n```sh\n")
	fmt.Fprintf(w, ": > %s; for i in %s; do go test -run '^$' -bench . -benchmem -count=1 >> %s; done\n",
		p.benchFile, roundsList(p.rounds), p.benchFile)
	if p.fpFile != "" {
		fmt.Fprintf(w, "go test -count=1 -run Footprint -v ./footprint > %s\n", p.fpFile)
	}
	fmt.Fprintf(w, "go run ./cmd/ratios %s > README.md\n```\n", shellJoin(p.args))
	fmt.Fprintf(w, "\n## Time and allocations\n")
	for _, res := range results {
		fmt.Fprintf(w, "\n### %s\n\n", res.sc.title)
		if res.sc.about != "" {
			fmt.Fprintf(w, "%s\n\n", wrap(res.sc.about, 100))
		}
		writeScenario(w, res)
	}
	fmt.Fprintf(w, "\n")
	if missed > 0 {
		fmt.Fprintf(w, "%d target(s) not met in this run.\n\n", missed)
	} else {
		fmt.Fprintf(w, "Every target met in this run.\n\n")
	}
	if len(orphans) > 0 {
		fmt.Fprintf(w, "%s\n\n", wrap("Rows in the run that no scenario of `cmd/ratios` shows: `"+strings.Join(orphans, "`, `")+"`.", 100))
	}
	if p.footprint != "" {
		fmt.Fprintf(w, "## Footprint\n\n")
		fmt.Fprintf(w, "The same small program (console logs through `Setup`, `/metrics` with one counter and one\n"+
			"histogram, one wrapped HTTP handler, one sqlx database on SQLite) built twice, stripped: on the kit,\n"+
			"and on `log/slog`, client_golang and sqlx alone. Third-party modules are counted from\n"+
			"`go version -m`, leaving out the kit's own and the SQLite driver's. Its output in this run\n"+
			"(`go test -count=1 -run Footprint -v ./footprint`):\n\n```\n%s\n```\n\n", strings.TrimRight(p.footprint, "\n"))
	}
	fmt.Fprint(w, elsewhere)
}

// wrap breaks text into lines of at most width bytes at spaces (a longer
// word stands alone on its line).
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		if i > 0 && n+1+len(word) > width {
			b.WriteByte('\n')
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// roundsList returns "1 2 … n".
func roundsList(n int) string {
	var b strings.Builder
	for i := 1; i <= max(n, 1); i++ {
		if i > 1 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// shellJoin quotes each argument that a POSIX shell would split or expand.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ratios", flag.ContinueOnError)
	markdown := fs.Bool("markdown", false, "write the whole benchmarks/README.md page, not the tables alone")
	notePath := fs.String("note", "", "with -markdown: a `file` of markdown on the run (date, machine, what else ran)")
	fpPath := fs.String("footprint", "", "with -markdown: a `file` holding the output of go test -count=1 -run Footprint -v ./footprint")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ratios [-markdown [-note file] [-footprint file]] bench.txt")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one file of benchmark output, got %d arguments", fs.NArg())
	}
	if !*markdown && (*notePath != "" || *fpPath != "") {
		return fmt.Errorf("-note and -footprint go with -markdown")
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	data, err := parse(strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return fmt.Errorf("%s holds no benchmark results", fs.Arg(0))
	}
	results, missed, orphans := analyze(data)
	w := bufio.NewWriter(stdout)
	if !*markdown {
		writeTables(w, results, missed)
		return w.Flush()
	}
	p := page{args: args, header: header(raw), benchFile: fs.Arg(0), fpFile: *fpPath}
	for _, ss := range data {
		p.rounds = max(p.rounds, len(ss))
	}
	if *notePath != "" {
		b, err := os.ReadFile(*notePath)
		if err != nil {
			return err
		}
		p.note = string(b)
	}
	if *fpPath != "" {
		b, err := os.ReadFile(*fpPath)
		if err != nil {
			return err
		}
		p.footprint = string(b)
	}
	writePage(w, p, results, missed, orphans)
	return w.Flush()
}

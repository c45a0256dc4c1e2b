package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// TestDashboardThroughput is a measurement rather than a check of
// behaviour, run only when asked:
//
//	go test ./cmd/demo -run TestDashboardThroughput -dashboard-throughput -timeout 30m -v
var (
	dashboardThroughput = flag.Bool("dashboard-throughput", false, "measure the demo's POST throughput with the dashboard on (nobody watching) against off")
	throughputPairs     = flag.Int("dashboard-throughput-pairs", 40, "pairs of rounds (one off, one on) after the warm-up pair")
	throughputClients   = flag.Int("dashboard-throughput-clients", 8, "clients posting at once")
	throughputSpan      = flag.Duration("dashboard-throughput-span", 2*time.Second, "length of one round")
	throughputBallast   = flag.Int("dashboard-throughput-ballast", 64<<20, "bytes held live through every round, so that the collector is paced as in a service with a heap of that size rather than the demo's few MB")
	throughputWait      = flag.Duration("dashboard-throughput-wait", 5*time.Minute, "how long to wait, in all, for other processes to leave the CPU before a pair")
	throughputControl   = flag.Bool("dashboard-throughput-control", false, "run both rounds of every pair with the dashboard off, to show the measurement's own noise")
	throughputWatched   = flag.Bool("dashboard-throughput-watched", false, "keep the Logs page's live stream open in the dashboard's rounds: the cost while somebody watches (no target)")
)

// TestDashboardThroughput measures what the dashboard costs the demo while
// nobody watches: POST /api/videos/{id}/comments as fast as 8 clients can
// (-dashboard-throughput-clients), in pairs of rounds, one with
// DASHBOARD=false and one with =true, each on a fresh demo and a fresh
// SQLite database. The result is the median of the pairs' throughput
// ratios (on/off); the test fails below 0.98.
//
// What makes 2 % visible:
//   - The databases live on tmpfs (/dev/shm) where there is one, so the
//     rounds measure the demo's work rather than the disk's fsync.
//   - 40 pairs of 2 s by default: the log gives the quartiles of the pair
//     ratios and a 95 % interval for their median; with the dashboard off
//     in both rounds (-dashboard-throughput-control) the median is within
//     about 1 % of 1.
//   - Each pair's rounds run seconds apart and alternate which goes first
//     (off-on, on-off, ...), so drift cancels out; a first pair warms up
//     and is discarded, and each round counts from 300 ms after its
//     clients start, so start-up work done once in a service's life is
//     not counted every two seconds.
//   - A pair starts only once other processes have used less than 10 % of
//     a core for half a second (waiting at most -dashboard-throughput-wait
//     in all), and a pair in which they took more, in either round, is
//     measured again (up to three times as many pairs in all), so that a
//     build or a benchmark elsewhere is not read as the dashboard's cost;
//     the test fails, with no result, when too few pairs were quiet.
//   - A ballast (64 MiB by default) is held through every round, so the
//     garbage collector is paced as in a service with a heap of that size.
//     Without it the demo's live heap is about 1.6 MB, and the dashboard's
//     own 4.6 MB (its ring of records, once it keeps one) would cut the
//     collections by half and make the demo faster with the dashboard
//     than without.
//
// With -dashboard-throughput-watched the dashboard's rounds keep the Logs
// page's live stream open, as a person watching would: the ring then keeps
// every record, and the test reports that cost without a target.
func TestDashboardThroughput(t *testing.T) {
	if !*dashboardThroughput {
		t.Skip("a measurement: run with -dashboard-throughput")
	}
	const maxOthers = 0.10 // cores other processes may use during a round
	pairs, span, clients := *throughputPairs, *throughputSpan, *throughputClients
	if pairs < 1 || span <= 0 || clients < 1 {
		t.Fatalf("-dashboard-throughput-pairs=%d -dashboard-throughput-span=%v -dashboard-throughput-clients=%d: want at least one pair of a positive length, and a client", pairs, span, clients)
	}
	dir := databaseDir(t)
	ballast := make([]byte, max(*throughputBallast, 0)) // pointer-free: counted in the heap, never scanned
	defer runtime.KeepAlive(ballast)
	second := !*throughputControl // the dashboard setting of the "on" round
	if *throughputWatched && !second {
		t.Fatal("-dashboard-throughput-watched with -dashboard-throughput-control: nothing would be watched")
	}
	rounds := 0
	measure := func(dashboard bool) round {
		rounds++
		r := postThroughput(t, filepath.Join(dir, fmt.Sprintf("round%d", rounds)), dashboard, clients, span)
		t.Logf("  round %3d dashboard=%-5v %6.0f POST/s, cpu %3.0f%%, others %3.0f%%, %5.0f POST per cpu-second, %d GCs",
			rounds, dashboard, r.rate, 100*r.cpu, 100*r.others, r.perCPU, r.gcs)
		return r
	}
	measure(false)
	measure(second)
	t.Log("(the first pair warms up and is discarded)")
	var ratios, perCPU, offs, ons []float64
	busy := 0
	waitUntil := time.Now().Add(*throughputWait)
	for p := 0; len(ratios) < pairs && p < 3*pairs; p++ {
		if !waitQuiet(maxOthers, waitUntil) {
			t.Logf("other processes kept the CPU busy for %v", *throughputWait)
			break
		}
		var off, on round
		order := "off, on"
		if len(ratios)%2 == 0 {
			off, on = measure(false), measure(second)
		} else {
			order = "on, off"
			on, off = measure(second), measure(false)
		}
		if off.others > maxOthers || on.others > maxOthers {
			busy++
			t.Logf("pair (%s) discarded: other processes used %.0f%% and %.0f%% of a core", order, 100*off.others, 100*on.others)
			continue
		}
		ratios, perCPU = append(ratios, on.rate/off.rate), append(perCPU, on.perCPU/off.perCPU)
		offs, ons = append(offs, off.rate), append(ons, on.rate)
		t.Logf("pair %2d (%s): off %.0f, on %.0f POST/s: ratio %.3f (per cpu-second %.3f)",
			len(ratios), order, off.rate, on.rate, on.rate/off.rate, on.perCPU/off.perCPU)
	}
	what := "dashboard on (nobody watching) against off"
	if *throughputWatched {
		what = "dashboard on (the Logs page open) against off"
	}
	if !second {
		what = "control: dashboard off in both rounds"
	}
	t.Logf("%s: %d quiet pairs of %v rounds (%d discarded as busy), %d clients, a ballast of %d MiB, databases in %s",
		what, len(ratios), span, busy, clients, len(ballast)>>20, dir)
	if len(ratios) < pairs {
		t.Fatalf("only %d of %d pairs ran on a quiet machine: no result", len(ratios), pairs)
	}
	t.Logf("median POST/s: off %.0f, on %.0f", median(offs), median(ons))
	t.Logf("pair ratios: min %.3f, quartiles %.3f %.3f %.3f, max %.3f",
		slices.Min(ratios), quantile(ratios, 0.25), median(ratios), quantile(ratios, 0.75), slices.Max(ratios))
	t.Logf("median pair ratio of POST per cpu-second (on/off): %.3f", median(perCPU))
	lo, hi := medianInterval(ratios)
	t.Logf("median pair ratio of POST/s (on/off): %.3f, 95%% interval %.3f to %.3f", median(ratios), lo, hi)
	if m := median(ratios); m < 0.98 && !*throughputWatched {
		t.Errorf("with the dashboard on, throughput is %.3f of the run without it (median of %d pair ratios), want at least 0.98", m, pairs)
	}
}

// databaseDir is where the rounds' databases go: a directory on tmpfs
// when /dev/shm is there, else the test's temporary directory.
func databaseDir(t *testing.T) string {
	if d, err := os.MkdirTemp("/dev/shm", "demo-throughput-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	t.Log("no /dev/shm: the databases are on disk, and fsync may dominate the rounds")
	return t.TempDir()
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

// medianInterval is a distribution-free interval holding the median of
// the population xs was drawn from with at least 95 % confidence: the
// k-th smallest and k-th largest of xs, for the largest k with
// P(Binomial(n, 1/2) < k) <= 2.5 %.
func medianInterval(xs []float64) (lo, hi float64) {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	k, cum, p := 0, 0.0, math.Pow(0.5, float64(n)) // p = P(B = 0)
	for i := 0; i < n/2; i++ {
		if cum+p > 0.025 {
			break
		}
		cum += p
		k = i + 1
		p = p * float64(n-i) / float64(i+1) // P(B = i+1)
	}
	if k == 0 {
		return s[0], s[n-1] // too few pairs for 95 %: the whole range
	}
	return s[k-1], s[n-k]
}

// quantile interpolates the q-quantile of xs.
func quantile(xs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// round is what one round measured: POST/s, the cores the process used
// and those other processes used meanwhile, POSTs per CPU-second of the
// process (clients included), and garbage collections.
type round struct {
	rate, cpu, others, perCPU float64
	gcs                       uint64
}

// postThroughput starts a demo on a fresh database in dir, posts comments
// with clients clients, and measures the comments created over span, after
// a warm-up. It removes dir when done.
func postThroughput(t *testing.T, dir string, dashboard bool, clients int, span time.Duration) round {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	env := map[string]string{
		"PORT":            "0",
		"PROMETHEUS_PORT": strconv.Itoa(testenv.FreePort(t)),
		"DATABASE_URL":    "sqlite://" + filepath.Join(dir, "demo.db"),
		"LOG_FORMAT":      "json",
		"DASHBOARD":       strconv.FormatBool(dashboard),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	out := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Labelled, as every goroutine the demo and the clients start, so a
	// CPU profile of the test (-test.cpuprofile) tells the rounds apart:
	// go tool pprof -tagfocus=dashboard=true ...
	labels := pprof.WithLabels(ctx, pprof.Labels("dashboard", strconv.FormatBool(dashboard)))
	pprof.SetGoroutineLabels(labels)
	defer pprof.SetGoroutineLabels(context.Background())
	go func() { done <- run(ctx, nil, lookup, out, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	base := waitFor(t, "the API URL", out, apiRE)
	if got := strings.Contains(out.String(), "Dashboard "); got != dashboard {
		t.Fatalf("dashboard line printed = %v, want %v:\n%s", got, dashboard, out)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	if dashboard && *throughputWatched {
		watch(t, ctx, waitFor(t, "the dashboard URL", out, dashboardRE))
	}
	// The clients post from the start; the round counts from warmUp on,
	// once the demo's first-request work is done (connections opened,
	// SQLite's cache filled, the Ring's buffers allocated), which a
	// service does once in its life rather than every few seconds.
	const warmUp = 300 * time.Millisecond
	var n atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("%s/api/videos/%d/comments", base, c%5+1)
			for !stop.Load() {
				resp, err := client.Post(url, "application/json", strings.NewReader(`{"user_id": 1, "body": "load"}`))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					n.Add(1)
				}
			}
		}()
	}
	time.Sleep(warmUp)
	n0, gc0, cpu0, busy0, start := n.Load(), gcCycles(), cpuTime(), machineBusy(), time.Now()
	time.Sleep(span)
	posts, gcs, own, busy, el := n.Load()-n0, gcCycles()-gc0, cpuTime()-cpu0, machineBusy()-busy0, time.Since(start).Seconds()
	stop.Store(true)
	wg.Wait()
	others := max(0, (busy-own).Seconds()/el)
	if busy0 == 0 {
		others = 0 // no /proc/stat: nothing known
	}
	return round{rate: float64(posts) / el, cpu: own.Seconds() / el, others: others,
		perCPU: float64(posts) / own.Seconds(), gcs: gcs}
}

func gcCycles() uint64 {
	m := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time all processes have used, and the time the
// hypervisor took, from /proc/stat; 0 where there is none.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, x := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		v, _ := strconv.ParseInt(x, 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// waitQuiet waits until other processes have used at most maxOthers cores
// over half a second, and reports false if that did not happen by until.
func waitQuiet(maxOthers float64, until time.Time) bool {
	for {
		cpu0, busy0, start := cpuTime(), machineBusy(), time.Now()
		time.Sleep(500 * time.Millisecond)
		own := cpuTime() - cpu0
		if (machineBusy()-busy0-own).Seconds()/time.Since(start).Seconds() <= maxOthers {
			return true
		}
		if time.Now().After(until) {
			return false
		}
		time.Sleep(time.Second)
	}
}

// watch opens the Logs page's live stream of the dashboard at url and
// reads it until ctx ends.
func watch(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(url, "/")+"/api/stream?page=logs", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("the Logs page's stream: %s", resp.Status)
	}
	go func() {
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
	}()
}

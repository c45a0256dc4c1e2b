package prometheus

import (
	"math"
	"runtime"
	runtimemetrics "runtime/metrics"
	"slices"
	"strings"
	"time"
)

// The go_* and process_* families, written by the registry itself under
// the names the Prometheus ecosystem (and VictoriaMetrics/metrics, which
// the kit used for them before) gives them, so that dashboards and alert
// rules keep working: every family with # HELP and # TYPE, counters ending
// in _total, the constant labels on every line.

// runtimeReader reads the runtime families into fams, as Snapshot gives
// them and the text exposition writes them (appendFamily): the one place
// their values are read.
type runtimeReader struct {
	fams   []Family
	consts []Tag // sorted by key
}

// labels returns own and the constant labels whose keys own lacks,
// sorted by key, in a fresh slice.
func (r *runtimeReader) labels(own ...Tag) []Tag {
	labels := slices.Clone(own)
	for _, c := range r.consts {
		if !slices.ContainsFunc(own, func(t Tag) bool { return t.Key == c.Key }) {
			labels = append(labels, c)
		}
	}
	slices.SortFunc(labels, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return labels
}

// family adds a family of one series.
func (r *runtimeReader) family(name, typ, help string, s Series) {
	unit := ""
	switch base := strings.TrimSuffix(name, "_total"); {
	case strings.HasSuffix(base, "_seconds"):
		unit = "seconds"
	case strings.HasSuffix(base, "_bytes"):
		unit = "bytes"
	}
	r.fams = append(r.fams, Family{Name: name, Type: typ, Help: help, Unit: unit, Series: []Series{s}})
}

// one adds a counter or gauge family of one series without labels of its
// own.
func (r *runtimeReader) one(name, typ, help string, v float64) {
	r.family(name, typ, help, Series{Labels: r.labels(), Value: v})
}

// runtimeSamples are the runtime/metrics the go_* families read, and
// their names.
var runtimeSamples = [...]struct{ key, name, typ, help string }{
	{"/sched/latencies:seconds", "go_sched_latencies_seconds", "histogram", "Time goroutines spent runnable before running."},
	{"/sync/mutex/wait/total:seconds", "go_mutex_wait_seconds_total", "counter", "Time goroutines spent blocked on a sync.Mutex or sync.RWMutex."},
	{"/cpu/classes/gc/mark/assist:cpu-seconds", "go_gc_mark_assist_cpu_seconds_total", "counter", "CPU time goroutines spent helping the garbage collector."},
	{"/cpu/classes/gc/total:cpu-seconds", "go_gc_cpu_seconds_total", "counter", "CPU time spent on garbage collection."},
	{"/gc/pauses:seconds", "go_gc_pauses_seconds", "histogram", "Stop-the-world pauses of the garbage collector."},
	{"/cpu/classes/scavenge/total:cpu-seconds", "go_scavenge_cpu_seconds_total", "counter", "CPU time spent returning memory to the operating system."},
	{"/gc/gomemlimit:bytes", "go_memlimit_bytes", "gauge", "The Go runtime's memory limit (GOMEMLIMIT)."},
}

// maxRuntimeBuckets bounds the buckets of a runtime histogram.
const maxRuntimeBuckets = 30

// readGo reads the go_* families.
func (w *runtimeReader) readGo() {
	samples := make([]runtimemetrics.Sample, len(runtimeSamples))
	for i, s := range runtimeSamples {
		samples[i].Name = s.key
	}
	runtimemetrics.Read(samples)
	for i, s := range runtimeSamples {
		v := samples[i].Value
		switch v.Kind() {
		case runtimemetrics.KindUint64:
			w.one(s.name, s.typ, s.help, float64(v.Uint64()))
		case runtimemetrics.KindFloat64:
			w.one(s.name, s.typ, s.help, v.Float64())
		case runtimemetrics.KindFloat64Histogram:
			w.histogram(s.name, s.help, v.Float64Histogram())
		}
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, m := range [...]struct {
		name, typ, help string
		v               float64
	}{
		{"go_memstats_alloc_bytes", "gauge", "Bytes of allocated heap objects.", float64(ms.Alloc)},
		{"go_memstats_alloc_bytes_total", "counter", "Bytes allocated for heap objects, in all.", float64(ms.TotalAlloc)},
		{"go_memstats_buck_hash_sys_bytes", "gauge", "Bytes of memory in profiling bucket hash tables.", float64(ms.BuckHashSys)},
		{"go_memstats_frees_total", "counter", "Heap objects freed.", float64(ms.Frees)},
		{"go_memstats_gc_cpu_fraction", "gauge", "Fraction of the CPU time used by the garbage collector since the program started.", ms.GCCPUFraction},
		{"go_memstats_gc_sys_bytes", "gauge", "Bytes of memory in garbage collection metadata.", float64(ms.GCSys)},
		{"go_memstats_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.", float64(ms.HeapAlloc)},
		{"go_memstats_heap_idle_bytes", "gauge", "Bytes in idle heap spans.", float64(ms.HeapIdle)},
		{"go_memstats_heap_inuse_bytes", "gauge", "Bytes in in-use heap spans.", float64(ms.HeapInuse)},
		{"go_memstats_heap_objects", "gauge", "Allocated heap objects.", float64(ms.HeapObjects)},
		{"go_memstats_heap_released_bytes", "gauge", "Bytes of physical memory returned to the operating system.", float64(ms.HeapReleased)},
		{"go_memstats_heap_sys_bytes", "gauge", "Bytes of heap memory obtained from the operating system.", float64(ms.HeapSys)},
		{"go_memstats_last_gc_time_seconds", "gauge", "When the last garbage collection finished, in seconds since the epoch.", float64(ms.LastGC) / 1e9},
		{"go_memstats_lookups_total", "counter", "Pointer lookups by the runtime.", float64(ms.Lookups)},
		{"go_memstats_mallocs_total", "counter", "Heap objects allocated.", float64(ms.Mallocs)},
		{"go_memstats_mcache_inuse_bytes", "gauge", "Bytes of allocated mcache structures.", float64(ms.MCacheInuse)},
		{"go_memstats_mcache_sys_bytes", "gauge", "Bytes of memory obtained from the operating system for mcache structures.", float64(ms.MCacheSys)},
		{"go_memstats_mspan_inuse_bytes", "gauge", "Bytes of allocated mspan structures.", float64(ms.MSpanInuse)},
		{"go_memstats_mspan_sys_bytes", "gauge", "Bytes of memory obtained from the operating system for mspan structures.", float64(ms.MSpanSys)},
		{"go_memstats_next_gc_bytes", "gauge", "Heap size at which the next garbage collection starts.", float64(ms.NextGC)},
		{"go_memstats_other_sys_bytes", "gauge", "Bytes of memory in miscellaneous off-heap runtime allocations.", float64(ms.OtherSys)},
		{"go_memstats_stack_inuse_bytes", "gauge", "Bytes in stack spans.", float64(ms.StackInuse)},
		{"go_memstats_stack_sys_bytes", "gauge", "Bytes of stack memory obtained from the operating system.", float64(ms.StackSys)},
		{"go_memstats_sys_bytes", "gauge", "Bytes of memory obtained from the operating system.", float64(ms.Sys)},
		{"go_cgo_calls_total", "counter", "Calls made from Go to C.", float64(runtime.NumCgoCall())},
		{"go_cpus", "gauge", "Logical CPUs usable by the process.", float64(runtime.NumCPU())},
		{"go_gc_forced_total", "counter", "Garbage collections forced by the application calling runtime.GC.", float64(ms.NumForcedGC)},
		{"go_gomaxprocs", "gauge", "GOMAXPROCS: the most operating system threads running Go code at once.", float64(runtime.GOMAXPROCS(0))},
		{"go_goroutines", "gauge", "Goroutines that exist.", float64(runtime.NumGoroutine())},
	} {
		w.one(m.name, m.typ, m.help, m.v)
	}
	threads, _ := runtime.ThreadCreateProfile(nil)
	w.one("go_threads", "gauge", "Operating system threads created.", float64(threads))

	// The last 256 pauses, as a summary of quantiles.
	n := min(int(ms.NumGC), len(ms.PauseNs))
	pauses := make([]float64, n)
	for i := range pauses {
		pauses[i] = float64(ms.PauseNs[i]) / 1e9
	}
	slices.Sort(pauses)
	gc := Series{Labels: w.labels(), Count: uint64(ms.NumGC), Sum: float64(ms.PauseTotalNs) / 1e9}
	for _, q := range [...]float64{0, 0.25, 0.5, 0.75, 1} {
		v := 0.0
		if n > 0 {
			v = pauses[int(math.Round(q*float64(n-1)))]
		}
		gc.Objectives = append(gc.Objectives, Objective{Quantile: q, Value: v})
	}
	w.family("go_gc_duration_seconds", "summary", "Stop-the-world pauses of the last 256 garbage collections, as quantiles.", gc)

	w.family("go_info", "gauge", "The Go version the program was built with.",
		Series{Labels: w.labels(Tag{Key: "version", Value: runtime.Version()}), Value: 1})
}

// histogram adds a runtime histogram as a Prometheus one, with at most
// maxRuntimeBuckets buckets and none above 1 second for seconds (the
// runtime's reach 10,000 s, which only add series), and a NaN sum, which
// the runtime does not keep (the exposition writes neither _sum nor
// _count, which alone would mislead).
func (w *runtimeReader) histogram(name, help string, h *runtimemetrics.Float64Histogram) {
	bounds, counts := h.Buckets, h.Counts
	var tail uint64
	if strings.HasSuffix(name, "_seconds") {
		for len(bounds) > 1 && bounds[len(bounds)-1] > 1 {
			bounds = bounds[:len(bounds)-1]
			tail += counts[len(counts)-1]
			counts = counts[:len(counts)-1]
		}
	}
	s := Series{Labels: w.labels(), Sum: math.NaN(), Buckets: make([]Bucket, 0, maxRuntimeBuckets+2)}
	step := float64(len(counts)) / maxRuntimeBuckets
	next := 0.0
	var total uint64
	for i, c := range counts {
		total += c
		if float64(i) < next {
			continue
		}
		next += step
		if le := bounds[i+1]; !math.IsInf(le, 1) {
			s.Buckets = append(s.Buckets, Bucket{UpperBound: le, Count: total})
		}
	}
	total += tail
	s.Buckets = append(s.Buckets, Bucket{UpperBound: math.Inf(1), Count: total})
	s.Count = total
	w.family(name, "histogram", help, s)
}

// startTime is when the process started, for process_start_time_seconds
// where the system does not say.
var startTime = time.Now()

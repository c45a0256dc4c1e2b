package livedash

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The families the pages read, by their exposed names.
const (
	famHTTPCount     = "http_requests_total"
	famHTTPDuration  = "http_request_duration_seconds"
	famDBCount       = "db_queries_total"
	famDBDuration    = "db_query_duration_seconds"
	famDBErrors      = "db_query_errors_total"
	famPoolInUse     = "db_pool_in_use_connections"
	famPoolOpen      = "db_pool_open_connections"
	famPoolIdle      = "db_pool_idle_connections"
	famPoolMax       = "db_pool_max_open_connections"
	famPoolWaits     = "db_pool_waits_total"
	famPoolWaitSecs  = "db_pool_wait_seconds_total"
	famWSConnections = "websocket_connections"
	famWSMessages    = "websocket_messages_total"
)

// SlowQueryMessage is the message of the records the Database page lists
// as slow queries, with their source, operation, duration and sql
// attributes: what the dbmetrics package logs.
const SlowQueryMessage = "slow query"

// info is what the Home page shows about the process.
type info struct {
	started time.Time
	static  [][2]string
}

func newInfo(o Options) info {
	svc := o.Service
	if svc == "" {
		svc = filepath.Base(os.Args[0])
	}
	ver := o.Version
	bi, haveBI := debug.ReadBuildInfo()
	if ver == "" && haveBI {
		ver = bi.Main.Version
	}
	rows := [][2]string{
		{"service", svc},
		{"environment", o.Environment},
		{"version", ver},
		{"host", hostname()},
		{"pid", strconv.Itoa(os.Getpid())},
		{"go", runtime.Version()},
		{"os/arch", runtime.GOOS + "/" + runtime.GOARCH},
	}
	if haveBI {
		rows = append(rows, [2]string{"module", strings.TrimSpace(bi.Main.Path + " " + bi.Main.Version)})
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "-race", "CGO_ENABLED":
				rows = append(rows, [2]string{s.Key, s.Value})
			}
		}
	}
	return info{started: time.Now(), static: rows}
}

func (in info) rows(now time.Time) []row {
	out := make([]row, 0, len(in.static)+3)
	for _, r := range in.static {
		out = append(out, row{"name": r[0], "value": r[1]})
	}
	out = append(out,
		row{"name": "started", "value": in.started.Format(time.RFC3339)},
		row{"name": "uptime", "value": now.Sub(in.started).Truncate(time.Second).String()},
		row{"name": "GOMAXPROCS", "value": strconv.Itoa(runtime.GOMAXPROCS(0))},
	)
	return out
}

// row is one table row: column id to a string or a jsonFloat.
type row map[string]any

// tick is one live update of a page.
type tick struct {
	T      int64                           `json:"t"`
	Charts map[string]map[string]jsonFloat `json:"charts,omitempty"`
	Tables map[string][]row                `json:"tables,omitempty"`
	Meta   map[string]string               `json:"meta,omitempty"`
	// Hist is the headline history, on the Home page's first update:
	// Names of the series, then points of [t, value per name].
	Hist *histJSON  `json:"hist,omitempty"`
	Logs logRecords `json:"logs,omitempty"`
}

type histJSON struct {
	Names  []string `json:"names"`
	Points []point  `json:"points"`
}

func (t *tick) chart(id, series string, v float64) {
	if t.Charts == nil {
		t.Charts = map[string]map[string]jsonFloat{}
	}
	c := t.Charts[id]
	if c == nil {
		c = map[string]jsonFloat{}
		t.Charts[id] = c
	}
	c[series] = jsonFloat(v)
}

func (t *tick) table(id string, rows []row) {
	if t.Tables == nil {
		t.Tables = map[string][]row{}
	}
	if rows == nil {
		rows = []row{}
	}
	t.Tables[id] = rows
}

// headlineSampler computes the headline series from the Source and the
// runtime: what is sampled while nobody watches.
type headlineSampler struct {
	src  Source
	rt   *runtimeReader
	past []headlineState // the last window+1 states, oldest first
}

type headlineState struct {
	at         time.Time
	total, err float64
	h          hist
}

func newHeadlineSampler(src Source) *headlineSampler {
	return &headlineSampler{src: src, rt: newRuntimeReader(rtTotal, rtReleased, rtGoroutines)}
}

func (s *headlineSampler) sample(now time.Time) (int64, [len(headline)]float64) {
	st := headlineState{at: now}
	if s.src != nil {
		for _, f := range s.src.Snapshot() {
			switch f.Name {
			case famHTTPCount:
				for i := range f.Series {
					st.total += f.Series[i].Value
					if strings.HasPrefix(label(f.Series[i].Labels, "status"), "5") {
						st.err += f.Series[i].Value
					}
				}
			case famHTTPDuration:
				for i := range f.Series {
					st.h.add(&f.Series[i])
				}
			}
		}
	}
	if len(s.past) > window {
		s.past = slices.Delete(s.past, 0, len(s.past)-window)
	}
	s.past = append(s.past, st)
	old := s.past[0]
	secs := now.Sub(old.at).Seconds()
	have := len(s.past) > 1
	var v [len(headline)]float64
	v[0] = rate(st.total, old.total, secs, have)
	dTotal, dErr := st.total-old.total, st.err-old.err
	v[1] = math.NaN()
	if have && dTotal > 0 {
		v[1] = math.Max(0, dErr) / dTotal
	}
	v[2] = math.NaN()
	if have {
		d := st.h.minus(&old.h)
		v[2] = d.quantile(0.95)
	}
	s.rt.read()
	v[3] = s.rt.value(rtTotal) - s.rt.value(rtReleased)
	v[4] = s.rt.value(rtGoroutines)
	return now.UnixMilli(), v
}

// view is the state of one open page: what it has seen, and the last
// window+1 snapshots for rates and quantiles.
type view struct {
	d       *Dashboard
	page    string
	family  string // Metrics page: the family shown
	series  string // Metrics page: the series charted (its label string)
	level   string
	snaps   []*snap
	rt      *runtimeReader
	rtPast  []rtState
	lastSeq uint64
	lastT   int64
	famSig  string
	first   bool
	logBuf  copier // Logs page: the records of the update being built
}

type rtState struct {
	at                   time.Time
	cycles, allocs, objs float64
	cpu, cpuGC, cpuTotal float64
	pauses, lat          hist
}

func (d *Dashboard) newView(page, family, series string) *view {
	v := &view{d: d, page: page, family: family, series: series, first: true}
	if page == "runtime" {
		v.rt = newRuntimeReader(rtHeapObjects, rtHeapGoal, rtTotal, rtReleased, rtGCCycles, rtPauses,
			rtGoroutines, rtLatencies, rtCPUGC, rtCPUTotal, rtGOMAXPROCS, rtAllocs, rtObjects)
	}
	return v
}

// next builds the page's update for now.
func (v *view) next(now time.Time) *tick {
	t := &tick{T: now.UnixMilli()}
	switch v.page {
	case "home":
		v.home(t, now)
	case "http", "db", "ws", "metrics":
		var fams []Family
		if v.d.src != nil {
			fams = v.d.src.Snapshot()
		}
		if len(v.snaps) > window {
			v.snaps = slices.Delete(v.snaps, 0, len(v.snaps)-window)
		}
		v.snaps = append(v.snaps, newSnap(now, fams))
		cur := v.snaps[len(v.snaps)-1]
		var old *snap
		if len(v.snaps) > 1 {
			old = v.snaps[0]
		}
		switch v.page {
		case "http":
			v.http(t, cur, old)
		case "db":
			v.db(t, cur, old)
		case "ws":
			v.ws(t, cur, old)
		case "metrics":
			v.metrics(t, cur, old)
		}
	case "logs":
		v.logs(t)
	case "runtime":
		v.runtime(t, now)
	}
	v.first = false
	return t
}

func (v *view) home(t *tick, now time.Time) {
	t.table("info", v.d.info.rows(now))
	pts := v.d.hist.points()
	if v.first {
		t.Hist = &histJSON{Names: headline[:], Points: pts}
	} else {
		for _, p := range pts {
			if p.T > v.lastT {
				for i, name := range headline {
					t.chart(name, name, float64(p.V[i]))
				}
				t.T = p.T
			}
		}
	}
	if n := len(pts); n > 0 {
		v.lastT = pts[n-1].T
	}
	if v.d.ring != nil {
		st := v.d.ring.Stats()
		t.table("ring", []row{{"records": jsonFloat(st.Records), "bytes": jsonFloat(st.Bytes),
			"handled": jsonFloat(st.Handled), "evicted": jsonFloat(st.Evicted)}})
	}
}

func secsOf(cur, old *snap) (float64, bool) {
	if old == nil {
		return 0, false
	}
	return cur.at.Sub(old.at).Seconds(), true
}

func (v *view) http(t *tick, cur, old *snap) {
	secs, have := secsOf(cur, old)
	full := newGrouper("route", "method", "status")
	full.counters(cur.family(famHTTPCount), old.family(famHTTPCount), false)
	full.histograms(cur.family(famHTTPDuration), old.family(famHTTPDuration))
	var rows []row
	full.each(func(g *group) {
		d := g.h.minus(&g.ph)
		rows = append(rows, row{
			"route": label(g.labels, "route"), "method": label(g.labels, "method"), "status": label(g.labels, "status"),
			"rate": jsonFloat(rate(g.total, g.prev, secs, have)), "total": jsonFloat(g.total),
			"p50": jsonFloat(q(have, &d, 0.5)), "p95": jsonFloat(q(have, &d, 0.95)), "p99": jsonFloat(q(have, &d, 0.99)),
		})
	})
	sortRows(rows, "total")
	t.table("requests", rows)

	byRoute := newGrouper("route")
	byRoute.counters(cur.family(famHTTPCount), old.family(famHTTPCount), true)
	byRoute.histograms(cur.family(famHTTPDuration), old.family(famHTTPDuration))
	all := newGrouper()
	all.histograms(cur.family(famHTTPDuration), old.family(famHTTPDuration))
	byRoute.each(func(g *group) {
		name := g.name(" ")
		t.chart("rate", name, rate(g.total, g.prev, secs, have))
		ratio := math.NaN()
		if dt := g.total - g.prev; have && dt > 0 {
			ratio = math.Max(0, g.errs-g.prevE) / dt
		}
		t.chart("errors", name, ratio)
		d := g.h.minus(&g.ph)
		t.chart("p95", name, q(have, &d, 0.95))
	})
	all.each(func(g *group) {
		d := g.h.minus(&g.ph)
		t.chart("latency", "p50", q(have, &d, 0.5))
		t.chart("latency", "p95", q(have, &d, 0.95))
		t.chart("latency", "p99", q(have, &d, 0.99))
	})
}

func q(have bool, h *hist, quant float64) float64 {
	if !have {
		return math.NaN()
	}
	return h.quantile(quant)
}

func (v *view) db(t *tick, cur, old *snap) {
	secs, have := secsOf(cur, old)
	g := newGrouper("source", "operation")
	g.counters(cur.family(famDBCount), old.family(famDBCount), false)
	g.histograms(cur.family(famDBDuration), old.family(famDBDuration))
	errs := newGrouper("source", "operation")
	errs.counters(cur.family(famDBErrors), old.family(famDBErrors), false)
	var rows []row
	g.each(func(gr *group) {
		name := gr.name(" ")
		d := gr.h.minus(&gr.ph)
		e := errs.get(gr.labels)
		r := rate(gr.total, gr.prev, secs, have)
		p95 := q(have, &d, 0.95)
		rows = append(rows, row{
			"source": label(gr.labels, "source"), "operation": label(gr.labels, "operation"),
			"rate": jsonFloat(r), "total": jsonFloat(gr.total), "p95": jsonFloat(p95),
			"errors": jsonFloat(e.total), "error_rate": jsonFloat(rate(e.total, e.prev, secs, have)),
		})
		t.chart("rate", name, r)
		t.chart("p95", name, p95)
	})
	sortRows(rows, "total")
	t.table("queries", rows)

	pool := newGrouper("db")
	pool.gauges(cur.family(famPoolInUse))
	inUse := map[string]float64{}
	pool.each(func(gr *group) { inUse[gr.name("")] = gr.gauge })
	get := func(fam string) map[string]float64 {
		g := newGrouper("db")
		g.gauges(cur.family(fam))
		m := map[string]float64{}
		g.each(func(gr *group) { m[gr.name("")] = gr.gauge })
		return m
	}
	open, idle, maxOpen := get(famPoolOpen), get(famPoolIdle), get(famPoolMax)
	waits := newGrouper("db")
	waits.counters(cur.family(famPoolWaits), old.family(famPoolWaits), false)
	waitSecs := newGrouper("db")
	waitSecs.counters(cur.family(famPoolWaitSecs), old.family(famPoolWaitSecs), false)
	var prows []row
	for _, db := range sortedKeys(inUse, maxOpen) {
		w := waits.get([]metricTag{{Key: "db", Value: db}})
		ws := waitSecs.get([]metricTag{{Key: "db", Value: db}})
		t.chart("pool", db+" in use", inUse[db])
		t.chart("pool", db+" max", maxOpen[db])
		t.chart("waits", db, rate(w.total, w.prev, secs, have))
		prows = append(prows, row{"db": db, "in_use": jsonFloat(inUse[db]), "open": jsonFloat(open[db]),
			"idle": jsonFloat(idle[db]), "max": jsonFloat(maxOpen[db]), "waits": jsonFloat(w.total),
			"wait_seconds": jsonFloat(ws.total)})
	}
	t.table("pool", prows)
	t.table("slow", v.slowQueries())
}

// maxSlowShown is how many slow queries the Database page lists.
const maxSlowShown = 25

// slowQueries lists the latest slow-query records in the ring, newest
// first: time, source, operation, duration, SQL (shortened) and request id.
func (v *view) slowQueries() []row {
	if v.d.ring == nil {
		return nil
	}
	es := v.d.ring.st.withMessage(SlowQueryMessage, maxSlowShown)
	rows := make([]row, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		e := &es[i]
		r := row{"time": e.time.Format("15:04:05.000"), "request_id": e.rid}
		each := func(k, val []byte) {
			switch string(k) {
			case "source", "operation", "duration":
				r[string(k)] = string(val)
			case "sql":
				r["sql"] = truncate(string(val), 240)
			}
		}
		eachKV(e.own, each)
		eachKV(e.pre, each)
		rows = append(rows, r)
	}
	return rows
}

func (v *view) ws(t *tick, cur, old *snap) {
	secs, have := secsOf(cur, old)
	conns := newGrouper("channel")
	conns.gauges(cur.family(famWSConnections))
	msgs := newGrouper("channel", "event", "direction")
	msgs.counters(cur.family(famWSMessages), old.family(famWSMessages), false)
	byChan := newGrouper("channel", "direction")
	byChan.counters(cur.family(famWSMessages), old.family(famWSMessages), false)
	var crows []row
	conns.each(func(g *group) {
		name := g.name("")
		t.chart("connections", name, g.gauge)
		in := byChan.get([]metricTag{{Key: "channel", Value: name}, {Key: "direction", Value: "in"}})
		out := byChan.get([]metricTag{{Key: "channel", Value: name}, {Key: "direction", Value: "out"}})
		crows = append(crows, row{"channel": name, "connections": jsonFloat(g.gauge),
			"in_rate": jsonFloat(rate(in.total, in.prev, secs, have)), "out_rate": jsonFloat(rate(out.total, out.prev, secs, have))})
	})
	t.table("channels", crows)
	var mrows []row
	msgs.each(func(g *group) {
		r := rate(g.total, g.prev, secs, have)
		t.chart("messages", g.name(" "), r)
		mrows = append(mrows, row{"channel": label(g.labels, "channel"), "event": label(g.labels, "event"),
			"direction": label(g.labels, "direction"), "rate": jsonFloat(r), "total": jsonFloat(g.total)})
	})
	sortRows(mrows, "total")
	t.table("messages", mrows)
}

// maxSeriesShown bounds the rows of the Metrics page's series table.
const maxSeriesShown = 200

func (v *view) metrics(t *tick, cur, old *snap) {
	secs, have := secsOf(cur, old)
	var sig strings.Builder
	for _, f := range cur.list {
		sig.WriteString(f.Name)
		sig.WriteString(strconv.Itoa(len(f.Series)))
	}
	if s := sig.String(); s != v.famSig || v.first {
		v.famSig = s
		rows := make([]row, 0, len(cur.list))
		for _, f := range cur.list {
			rows = append(rows, row{"name": f.Name, "type": f.Type, "help": f.Help, "unit": f.Unit, "series": jsonFloat(len(f.Series))})
		}
		slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a["name"].(string), b["name"].(string)) })
		t.table("families", rows)
	}
	if v.family == "" && len(cur.list) > 0 {
		// Until one is picked, show the request count, or the first family.
		v.family = cur.list[0].Name
		if cur.family(famHTTPCount) != nil {
			v.family = famHTTPCount
		}
	}
	f := cur.family(v.family)
	if f == nil {
		return
	}
	of := old.family(v.family)
	prev := map[string]*Series{}
	if of != nil {
		for i := range of.Series {
			prev[labelString(of.Series[i].Labels)] = &of.Series[i]
		}
	}
	t.Meta = map[string]string{"family": f.Name, "type": f.Type, "unit": f.Unit, "help": f.Help}
	chart := v.series
	if chart == "" {
		// Until one is picked, chart the busiest series of the family.
		best := -1.0
		for i := range f.Series {
			s := &f.Series[i]
			if x := s.Value + float64(s.Count); x > best {
				best, chart = x, labelString(s.Labels)
			}
		}
	}
	var rows []row
	for i := range f.Series {
		s := &f.Series[i]
		id := labelString(s.Labels)
		r := row{"labels": id}
		p, hadPrev := prev[id]
		var vals map[string]float64
		switch f.Type {
		case "counter":
			pv := 0.0
			if hadPrev {
				pv = p.Value
			}
			vals = map[string]float64{"rate": rate(s.Value, pv, secs, have && hadPrev)}
			r["value"], r["rate"] = jsonFloat(s.Value), jsonFloat(vals["rate"])
		case "histogram":
			var h, ph hist
			h.add(s)
			if hadPrev {
				ph.add(p)
			}
			d := h.minus(&ph)
			vals = map[string]float64{"p50": q(have && hadPrev, &d, 0.5), "p95": q(have && hadPrev, &d, 0.95), "p99": q(have && hadPrev, &d, 0.99)}
			r["count"], r["sum"] = jsonFloat(float64(s.Count)), jsonFloat(s.Sum)
			for k, x := range vals {
				r[k] = jsonFloat(x)
			}
		default:
			vals = map[string]float64{"value": s.Value}
			r["value"] = jsonFloat(s.Value)
		}
		if id == chart {
			t.Meta["series"] = id
			for k, x := range vals {
				t.chart("series", k, x)
			}
		}
		if len(rows) < maxSeriesShown {
			rows = append(rows, r)
		}
	}
	t.table("series", rows)
}

// logs adds the records kept since the last update, oldest first: the
// newest maxLogsPerTick of them, within maxLogTextPerTick of text.
func (v *view) logs(t *tick) {
	if v.d.ring == nil {
		return
	}
	if v.lastSeq == 0 {
		t.Meta = map[string]string{"keeps": v.d.ring.st.keeps()}
	}
	c := &v.logBuf
	c.slots, c.text = c.slots[:0], c.text[:0]
	if v.d.ring.st.batch(c, v.lastSeq+1, math.MaxUint64, true, maxLogsPerTick, maxLogTextPerTick) == 0 {
		return
	}
	es := c.entries()
	v.lastSeq = es[0].seq
	slices.Reverse(es)
	t.Logs = es
}

// cursor is where the page's client stands once it has the update just
// built: the last record it has (Logs) or the last headline point (Home).
// It goes into the update's id, which the client sends back when it
// reconnects.
func (v *view) cursor() uint64 {
	switch v.page {
	case "logs":
		return v.lastSeq
	case "home":
		return uint64(max(v.lastT, 0))
	}
	return 0
}

// resume carries on from the connection the client had before, whose
// last update's cursor was cur: the Logs page from the record after it,
// the Home page from the headline point after it, without the history
// again. The other pages first take the snapshot their rates need, and
// resume reports that the first update should wait a second for it.
func (v *view) resume(cur uint64, now time.Time) (wait bool) {
	switch v.page {
	case "logs":
		if v.d.ring != nil {
			v.lastSeq = min(cur, v.d.ring.Stats().Handled)
		}
		return false
	case "home":
		v.lastT, v.first = int64(min(cur, math.MaxInt64)), false
		return false
	}
	v.next(now)
	return true
}

func (v *view) runtime(t *tick, now time.Time) {
	r := v.rt
	r.read()
	st := rtState{at: now, cycles: r.value(rtGCCycles), allocs: r.value(rtAllocs), objs: r.value(rtObjects),
		cpu: processCPU(), cpuGC: r.value(rtCPUGC), cpuTotal: r.value(rtCPUTotal),
		pauses: r.histogram(rtPauses), lat: r.histogram(rtLatencies)}
	if len(v.rtPast) > window {
		v.rtPast = slices.Delete(v.rtPast, 0, len(v.rtPast)-window)
	}
	v.rtPast = append(v.rtPast, st)
	old := v.rtPast[0]
	have := len(v.rtPast) > 1
	secs := now.Sub(old.at).Seconds()

	heap, goal, total, released := r.value(rtHeapObjects), r.value(rtHeapGoal), r.value(rtTotal), r.value(rtReleased)
	t.chart("heap", "heap objects", heap)
	t.chart("heap", "heap goal", goal)
	t.chart("heap", "runtime total", total-released)
	t.chart("gc", "GC cycles", rate(st.cycles, old.cycles, secs, have))
	pd := st.pauses.minus(&old.pauses)
	t.chart("pauses", "p50", q(have, &pd, 0.5))
	t.chart("pauses", "p99", q(have, &pd, 0.99))
	t.chart("pauses", "max", ifHave(have, pd.maxObserved()))
	t.chart("goroutines", "goroutines", r.value(rtGoroutines))
	ld := st.lat.minus(&old.lat)
	t.chart("sched", "p50", q(have, &ld, 0.5))
	t.chart("sched", "p99", q(have, &ld, 0.99))
	t.chart("cpu", "process", rate(st.cpu, old.cpu, secs, have))
	gcShare := math.NaN()
	if dt := st.cpuTotal - old.cpuTotal; have && dt > 0 {
		gcShare = math.Max(0, st.cpuGC-old.cpuGC) / dt * float64(runtime.GOMAXPROCS(0))
	}
	t.chart("cpu", "GC (estimate)", gcShare)
	t.chart("alloc", "allocated", rate(st.allocs, old.allocs, secs, have))

	t.table("runtime", []row{
		{"name": "heap objects", "value": fmtBytes(heap)},
		{"name": "heap goal", "value": fmtBytes(goal)},
		{"name": "runtime memory (mapped − released)", "value": fmtBytes(total - released)},
		{"name": "live objects", "value": fmtNum(st.objs)},
		{"name": "GC cycles", "value": fmtNum(st.cycles)},
		{"name": "goroutines", "value": fmtNum(r.value(rtGoroutines))},
		{"name": "GOMAXPROCS", "value": fmtNum(r.value(rtGOMAXPROCS))},
		{"name": "process CPU time", "value": fmtNum(st.cpu) + " s"},
		{"name": "go", "value": runtime.Version()},
	})
}

func ifHave(have bool, x float64) float64 {
	if !have {
		return math.NaN()
	}
	return x
}

func fmtBytes(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB (%s bytes)", x/(1<<20), strconv.FormatFloat(x, 'f', 0, 64))
}

func fmtNum(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// sortRows sorts rows by the numeric column key, largest first.
func sortRows(rows []row, key string) {
	slices.SortStableFunc(rows, func(a, b row) int {
		x, _ := a[key].(jsonFloat)
		y, _ := b[key].(jsonFloat)
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
}

func sortedKeys(ms ...map[string]float64) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

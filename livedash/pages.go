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

// rows are the process's facts, the running time among the first.
func (in info) rows(now time.Time) []row {
	out := make([]row, 0, len(in.static)+3)
	for i, r := range in.static {
		out = append(out, row{"name": r[0], "value": r[1]})
		if i == 2 { // after service, environment and version
			out = append(out,
				row{"name": "uptime", "value": spokenSpan(now.Sub(in.started))},
				row{"name": "started", "value": in.started.Format(time.RFC3339)},
				row{"name": "GOMAXPROCS", "value": strconv.Itoa(runtime.GOMAXPROCS(0))})
		}
	}
	return out
}

// row is one table row: column id to a string or a jsonFloat.
type row map[string]any

// tick is one live update of a page.
type tick struct {
	T int64 `json:"t"`
	// Hist is the page's chart points since its last update: on its
	// first, the whole history kept.
	Hist   *histChunk        `json:"hist,omitempty"`
	Tables map[string][]row  `json:"tables,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	Logs   logRecords        `json:"logs,omitempty"`
	Traces *traceSummary     `json:"traces,omitempty"`
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

// home gives the headline series: request rate, 5xx ratio, p95 latency,
// process CPU, runtime memory and goroutines.
func (s *sampled) home(e *emit) {
	secs, have := s.secs()
	all := newGrouper()
	all.counters(s.cur.family(famHTTPCount), s.old.family(famHTTPCount), true)
	all.histograms(s.cur.family(famHTTPDuration), s.old.family(famHTTPDuration))
	g := all.get(nil)
	e.chart("rps", "requests/s", rate(g.total, g.prev, secs, have))
	ratio := math.NaN()
	if dt := g.total - g.prev; have && dt > 0 {
		ratio = math.Max(0, g.errs-g.prevE) / dt
	}
	e.chart("errors", "5xx ratio", ratio)
	d := g.h.minus(&g.ph)
	e.chart("p95", "p95", q(have, &d, 0.95))
	e.chart("cpu", "process", s.cpuRate())
	e.chart("memory", "memory", s.rt.total-s.rt.released)
	e.chart("goroutines", "goroutines", s.rt.gor)
}

// cpuRate is the CPU the process used over the window, in cores.
func (s *sampled) cpuRate() float64 {
	if s.rtOld == nil {
		return math.NaN()
	}
	return rate(s.rt.cpu, s.rtOld.cpu, s.rt.at.Sub(s.rtOld.at).Seconds(), true)
}

func (s *sampled) http(e *emit) {
	cur, old := s.cur, s.old
	secs, have := s.secs()
	if e.tables() {
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
		e.table("requests", rows)
	}
	if e.batch == nil {
		return
	}
	byRoute := newGrouper("route")
	byRoute.counters(cur.family(famHTTPCount), old.family(famHTTPCount), true)
	byRoute.histograms(cur.family(famHTTPDuration), old.family(famHTTPDuration))
	byRoute.each(func(g *group) {
		name := g.name(" ")
		e.chart("rate", name, rate(g.total, g.prev, secs, have))
		ratio := math.NaN()
		if dt := g.total - g.prev; have && dt > 0 {
			ratio = math.Max(0, g.errs-g.prevE) / dt
		}
		e.chart("errors", name, ratio)
		d := g.h.minus(&g.ph)
		e.chart("p95", name, q(have, &d, 0.95))
	})
	all := newGrouper()
	all.histograms(cur.family(famHTTPDuration), old.family(famHTTPDuration))
	all.each(func(g *group) {
		d := g.h.minus(&g.ph)
		e.chart("latency", "p50", q(have, &d, 0.5))
		e.chart("latency", "p95", q(have, &d, 0.95))
		e.chart("latency", "p99", q(have, &d, 0.99))
	})
}

func q(have bool, h *hist, quant float64) float64 {
	if !have {
		return math.NaN()
	}
	return h.quantile(quant)
}

// db gives the queries by source and operation, leaving out those that
// never ran (a begin, commit or rollback the program never uses), and the
// connection pools.
func (s *sampled) db(e *emit) {
	cur, old := s.cur, s.old
	secs, have := s.secs()
	g := newGrouper("source", "operation")
	g.counters(cur.family(famDBCount), old.family(famDBCount), false)
	g.histograms(cur.family(famDBDuration), old.family(famDBDuration))
	errs := newGrouper("source", "operation")
	errs.counters(cur.family(famDBErrors), old.family(famDBErrors), false)
	var rows []row
	g.each(func(gr *group) {
		e2 := errs.get(gr.labels)
		if gr.total == 0 && e2.total == 0 {
			return
		}
		name := gr.name(" ")
		d := gr.h.minus(&gr.ph)
		r := rate(gr.total, gr.prev, secs, have)
		p95 := q(have, &d, 0.95)
		if e.tables() {
			rows = append(rows, row{
				"source": label(gr.labels, "source"), "operation": label(gr.labels, "operation"),
				"rate": jsonFloat(r), "total": jsonFloat(gr.total), "p95": jsonFloat(p95),
				"errors": jsonFloat(e2.total), "error_rate": jsonFloat(rate(e2.total, e2.prev, secs, have)),
			})
		}
		e.chart("rate", name, r)
		e.chart("p95", name, p95)
	})
	sortRows(rows, "total")
	e.table("queries", rows)

	gauge := func(fam string) map[string]float64 {
		g := newGrouper("db")
		g.gauges(cur.family(fam))
		m := map[string]float64{}
		g.each(func(gr *group) { m[gr.name("")] = gr.gauge })
		return m
	}
	inUse, open, idle, maxOpen := gauge(famPoolInUse), gauge(famPoolOpen), gauge(famPoolIdle), gauge(famPoolMax)
	waits := newGrouper("db")
	waits.counters(cur.family(famPoolWaits), old.family(famPoolWaits), false)
	waitSecs := newGrouper("db")
	waitSecs.counters(cur.family(famPoolWaitSecs), old.family(famPoolWaitSecs), false)
	var prows []row
	for _, db := range sortedKeys(inUse, maxOpen) {
		w := waits.get([]metricTag{{Key: "db", Value: db}})
		ws := waitSecs.get([]metricTag{{Key: "db", Value: db}})
		e.chart("pool", db+" in use", inUse[db])
		e.chart("pool", db+" max", maxOpen[db])
		e.chart("waits", db, rate(w.total, w.prev, secs, have))
		prows = append(prows, row{"db": db, "in_use": jsonFloat(inUse[db]), "open": jsonFloat(open[db]),
			"idle": jsonFloat(idle[db]), "max": jsonFloat(maxOpen[db]), "waits": jsonFloat(w.total),
			"wait_seconds": jsonFloat(ws.total)})
	}
	e.table("pool", prows)
}

// maxSlowShown is how many slow queries the Database page lists.
const maxSlowShown = 25

// slowQueries lists the latest slow-query records in the ring, newest
// first: time, source, operation, duration (as a person reads it, "174.6
// ms"), SQL (shortened) and request id.
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
			case "source", "operation":
				r[string(k)] = string(val)
			case "duration":
				r["duration"] = readableDuration(string(val))
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

// readableDuration writes a duration as time.Duration writes it
// ("174.584668ms") the way a person reads it ("174.6 ms"), and other text
// as it is.
func readableDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	x, unit, prec := d.Seconds(), "s", 2
	switch a := d.Abs(); {
	case a >= time.Minute:
		return spokenSpan(d)
	case a >= time.Second:
	case a >= time.Millisecond:
		x, unit, prec = x*1e3, "ms", 1
	case a >= time.Microsecond:
		x, unit, prec = x*1e6, "µs", 1
	default:
		x, unit, prec = x*1e9, "ns", 0
	}
	num := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	return num + " " + unit
}

// spokenSpan writes d, to the second, as "7 min 57 s", "2 h 5 s" or
// "3 d 4 h 0 s": each unit from the largest one that is not zero, those
// in between that are zero left out but the seconds.
func spokenSpan(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < 0 {
		return "-" + spokenSpan(-d)
	}
	var b []byte
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "min"}} {
		if n := d / u.d; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ' ')
			b = append(b, u.name...)
			b = append(b, ' ')
			d -= n * u.d
		}
	}
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	return string(append(b, " s"...))
}

func (s *sampled) ws(e *emit) {
	cur, old := s.cur, s.old
	secs, have := s.secs()
	conns := newGrouper("channel")
	conns.gauges(cur.family(famWSConnections))
	msgs := newGrouper("channel", "event", "direction")
	msgs.counters(cur.family(famWSMessages), old.family(famWSMessages), false)
	byChan := newGrouper("channel", "direction")
	byChan.counters(cur.family(famWSMessages), old.family(famWSMessages), false)
	var crows []row
	conns.each(func(g *group) {
		name := g.name("")
		e.chart("connections", name, g.gauge)
		if e.tables() {
			in := byChan.get([]metricTag{{Key: "channel", Value: name}, {Key: "direction", Value: "in"}})
			out := byChan.get([]metricTag{{Key: "channel", Value: name}, {Key: "direction", Value: "out"}})
			crows = append(crows, row{"channel": name, "connections": jsonFloat(g.gauge),
				"in_rate": jsonFloat(rate(in.total, in.prev, secs, have)), "out_rate": jsonFloat(rate(out.total, out.prev, secs, have))})
		}
	})
	e.table("channels", crows)
	var mrows []row
	msgs.each(func(g *group) {
		r := rate(g.total, g.prev, secs, have)
		e.chart("messages", g.name(" "), r)
		if e.tables() {
			mrows = append(mrows, row{"channel": label(g.labels, "channel"), "event": label(g.labels, "event"),
				"direction": label(g.labels, "direction"), "rate": jsonFloat(r), "total": jsonFloat(g.total)})
		}
	})
	sortRows(mrows, "total")
	e.table("messages", mrows)
}

// maxSeriesShown bounds the rows of the Metrics page's series table.
const maxSeriesShown = 200

// metrics adds the Metrics page's tables: the families (when they
// changed), and the series of the family shown with what is charted of
// them, and picks the series charted until one is: the busiest.
func (v *view) metrics(t *tick, s *sampled) {
	cur := s.cur
	secs, have := s.secs()
	var sig strings.Builder
	for _, f := range cur.list {
		sig.WriteString(f.Name)
		sig.WriteString(strconv.Itoa(len(f.Series)))
	}
	if sg := sig.String(); sg != v.famSig || v.first {
		v.famSig = sg
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
	fi := cur.fams[v.family]
	t.Meta = map[string]string{"family": f.Name, "type": f.Type, "unit": f.Unit, "help": f.Help}
	if !v.picked {
		// Until one is picked, chart the busiest series of the family.
		best := -1.0
		for i := range f.Series {
			sr := &f.Series[i]
			if x := sr.Value + float64(sr.Count); x > best {
				best, v.series, v.picked = x, cur.ids[fi][i], true
			}
		}
	}
	var rows []row
	for i := range f.Series {
		sr := &f.Series[i]
		id := cur.ids[fi][i]
		if id == v.series {
			t.Meta["series"] = id
		}
		if len(rows) == maxSeriesShown {
			continue
		}
		r := row{"labels": id}
		switch f.Type {
		case "counter":
			r["value"] = jsonFloat(sr.Value)
		case "histogram", "summary":
			r["count"], r["sum"] = jsonFloat(float64(sr.Count)), jsonFloat(sr.Sum)
		default:
			r["value"] = jsonFloat(sr.Value)
		}
		vals, n := seriesValues(f, sr, s.old.series(f.Name, id), secs, have)
		for _, sv := range vals[:n] {
			if f.Type != "gauge" {
				r[sv.name] = jsonFloat(sv.v)
			}
		}
		rows = append(rows, r)
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

// view is the state of one open page: what its client has.
type view struct {
	d        *Dashboard
	page     string
	family   string // Metrics page: the family shown
	series   string // Metrics page: the series charted (its label string)
	picked   bool   // Metrics page: series is set ("" for a series without labels)
	lastSeq  uint64 // Logs page: the last record sent
	lastTick uint64 // pages with charts: the last history tick sent
	famSig   string
	first    bool
	logBuf   copier // Logs page: the records of the update being built
}

func (d *Dashboard) newView(page, family, series string) *view {
	return &view{d: d, page: page, family: family, series: series, picked: series != "", first: true}
}

// next builds the page's update for now: its tables from the latest
// reading, and its chart points since the last update from the history
// (on the first update, all of them).
func (v *view) next(now time.Time) *tick {
	t := &tick{T: now.UnixMilli()}
	s := v.d.latest.Load()
	group := v.page
	switch v.page {
	case "logs":
		v.logs(t)
		group = ""
	case "traces":
		if v.d.spans != nil {
			t.Traces = v.d.spans.summary()
		}
		group = ""
	case "home":
		t.table("info", v.d.info.rows(now))
		if v.d.ring != nil {
			st := v.d.ring.Stats()
			t.table("ring", []row{{"records": jsonFloat(st.Records), "bytes": jsonFloat(st.Bytes),
				"handled": jsonFloat(st.Handled), "evicted": jsonFloat(st.Evicted)}})
		}
	case "metrics":
		group = ""
		if s != nil {
			v.metrics(t, s)
		}
		if v.family != "" && v.picked {
			group = metricsGroup(v.family, v.series)
		}
	default:
		if s != nil {
			e := &emit{t: t}
			switch v.page {
			case "http":
				s.http(e)
			case "db":
				s.db(e)
				t.table("slow", v.slowQueries())
			case "ws":
				s.ws(e)
			case "runtime":
				s.runtime(e)
			}
		}
	}
	if group != "" {
		t.Hist, v.lastTick = v.d.hist.read(group, v.lastTick)
	}
	v.first = false
	return t
}

// cursor is where the page's client stands once it has the update just
// built: the last record it has (Logs) or the last history tick (pages
// with charts). It goes into the update's id, which the client sends back
// when it reconnects.
func (v *view) cursor() uint64 {
	if v.page == "logs" {
		return v.lastSeq
	}
	return v.lastTick
}

// resume carries on from the connection the client had before, whose
// last update's cursor was cur: the Logs page from the record after it,
// the pages with charts from the history tick after it, without the
// history again.
func (v *view) resume(cur uint64) {
	switch v.page {
	case "logs":
		if v.d.ring != nil {
			v.lastSeq = min(cur, v.d.ring.Stats().Handled)
		}
	default:
		v.lastTick = min(cur, v.d.hist.now())
	}
}

// runtime gives the Go runtime's charts and table. The GC pause and GC
// CPU lines hold their values between collections (see sampler).
func (s *sampled) runtime(e *emit) {
	st, old := s.rt, s.rtOld
	have := old != nil
	secs := 0.0
	if have {
		secs = st.at.Sub(old.at).Seconds()
	} else {
		old = st
	}
	e.chart("heap", "heap objects", st.heap)
	e.chart("heap", "heap goal", st.goal)
	e.chart("heap", "runtime total", st.total-st.released)
	e.chart("gc", "GC cycles", rate(st.cycles, old.cycles, secs, have))
	e.chart("pauses", "p50", s.pause[0])
	e.chart("pauses", "p99", s.pause[1])
	e.chart("pauses", "max", s.pause[2])
	e.chart("goroutines", "goroutines", st.gor)
	if e.batch != nil {
		ld := st.lat.minus(&old.lat)
		e.chart("sched", "p50", q(have, &ld, 0.5))
		e.chart("sched", "p99", q(have, &ld, 0.99))
	}
	e.chart("cpu", "process", s.cpuRate())
	e.chart("cpu", "GC (estimate)", s.gcCPU)
	e.chart("alloc", "allocated", rate(st.allocs, old.allocs, secs, have))
	e.chart("objects", "live objects", st.objs)

	if !e.tables() {
		return
	}
	e.table("runtime", []row{
		{"name": "heap objects", "value": fmtBytes(st.heap)},
		{"name": "heap goal", "value": fmtBytes(st.goal)},
		{"name": "runtime memory (mapped − released)", "value": fmtBytes(st.total - st.released)},
		{"name": "live objects", "value": fmtNum(st.objs)},
		{"name": "GC cycles", "value": fmtNum(st.cycles)},
		{"name": "goroutines", "value": fmtNum(st.gor)},
		{"name": "GOMAXPROCS", "value": fmtNum(st.procs)},
		{"name": "process CPU time", "value": fmtNum(st.cpu) + " s"},
		{"name": "go", "value": runtime.Version()},
	})
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

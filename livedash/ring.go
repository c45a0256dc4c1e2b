package livedash

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/realtimeserver/observability/internal/budget"
)

// Default bounds of a Ring.
const (
	DefaultRingRecords   = 5000
	DefaultRingBytes     = 4 << 20
	DefaultRingIdleAfter = 15 * time.Minute
)

// Per-record budgets of a Ring, held by the kit's record budget (package
// internal/budget, the same check and walk as every other backend) before
// a record is rendered. Past one, the budget's markers stand in the
// record (a value ending in !TRUNCATED, !ATTRS with the count left out,
// !DEPTH), and the Ring adds a marker attribute (TruncatedKey).
const (
	maxRecordAttrs = 64       // attributes per record (and per WithAttrs call), group members included
	maxDepth       = 8        // nested groups and values
	maxMsgBytes    = 4096     // the message, or a string value before it is shown, its marker included
	maxValueBytes  = 1024     // one value as shown, cut with "…"
	maxRecordBytes = 16 << 10 // the keys and values of one record, rendered
	entryOverhead  = 96       // what an entry costs beyond its text
)

// ringBudget is the Limiter of every Ring: the budget above, a string cut
// to leave room for its marker.
var ringBudget = budget.New(budget.Budget{MaxDepth: maxDepth, MaxAttrs: maxRecordAttrs,
	MaxValueBytes: maxMsgBytes - len(budget.Truncated), MaxRecordBytes: maxRecordBytes}, nil)

// TruncatedKey is the attribute a Ring adds to a record it shortened: a
// value over 1 KiB, more than 64 attributes, groups nested deeper than 8,
// or more than 16 KiB of attributes in all.
const TruncatedKey = "!truncated"

// RingOptions configure a Ring. A nil or zero RingOptions consists
// entirely of default values.
type RingOptions struct {
	// Level is the minimum level kept. It is read on every Enabled call,
	// so a *slog.LevelVar works. Default: slog.LevelInfo.
	Level slog.Leveler
	// MaxRecords is the most records kept; the oldest go first.
	// Default: DefaultRingRecords (5000).
	MaxRecords int
	// MaxBytes bounds the kept records' text plus a fixed overhead of
	// 96 bytes per record; the oldest go first. It is also the size of
	// the text buffer the Ring allocates on its first record (less when
	// MaxRecords records could not fill it, at least 64 KiB).
	// Default: DefaultRingBytes (4 MiB).
	MaxBytes int
	// IdleLevel is the minimum level kept while the Ring is idle: while
	// no dashboard page is open and IdleAfter has passed since the last
	// one closed (or none ever opened). Records below it are not even
	// rendered then, so a dashboard nobody looks at costs the service
	// nothing per record below it; warnings and errors, slow queries
	// among them, are still there when someone opens the dashboard. Set
	// it to Level to keep every record at all times. It is read on every
	// Enabled call, so a *slog.LevelVar works. Default: slog.LevelWarn.
	IdleLevel slog.Leveler
	// IdleAfter is how long the Ring goes on keeping every record (at
	// Level) after the last dashboard page closed. Default:
	// DefaultRingIdleAfter (15 minutes), the charts' history.
	IdleAfter time.Duration
}

// Ring is a slog.Handler that keeps the most recent records in memory, for
// the dashboard's Logs page. While a page of a Dashboard reading it is
// open, and for RingOptions.IdleAfter after, it keeps every record at
// RingOptions.Level; otherwise only those at IdleLevel (warnings and
// errors by default). Memory is bounded by RingOptions.MaxRecords
// and MaxBytes: on its first record a Ring allocates a table of MaxRecords
// entries (about 110 bytes each), a text buffer of MaxBytes (less when
// MaxRecords records could not fill it, at least 64 KiB), and a stage of
// 32 entries and 8 KiB of text per processor (GOMAXPROCS, at most 64)
// where records wait to join the others in batches. It keeps each
// record's text there, evicting the oldest records to make room, and
// allocates nothing more after that. Values are rendered to text when the
// record is handled, so a kept record holds no reference to the caller's
// data, and every value is cut to a budget first (see TruncatedKey).
//
// Handle renders outside any lock and holds a lock only to copy the text
// in; no method calls out (LogValue, String, Error) while holding one.
// A Ring and its With/WithGroup clones share one buffer and are safe for
// concurrent use. Place it behind redaction, as Setup does, so it keeps
// what every other backend sees.
type Ring struct {
	st     *ringStore
	pre    []byte // rendered WithAttrs attributes, shared and never appended to in place
	preN   int    // attributes in pre
	preRID string // request_id among them
	prefix string // open groups, "a.b."
	depth  int    // open groups
	over   bool   // more than maxDepth groups open: attributes are left out
	preCut bool   // pre carries the TruncatedKey marker
}

var _ slog.Handler = (*Ring)(nil)

// maxRecordText is more than the most text the budgets let through for
// one record: a 4 KiB message and about 20 KiB of attributes. minArena is
// the smallest text buffer.
const (
	maxRecordText = 32 << 10
	minArena      = 64 << 10
)

type ringStore struct {
	level    slog.Leveler
	idle     slog.Leveler
	watchers // IdleAfter
	maxRecs  int
	maxBytes int

	once   sync.Once
	stages []stage   // records not yet in the ring, per processor; see put
	pool   sync.Pool // of *stage: the one a processor used last
	next   atomic.Uint32
	mu     sync.Mutex // the ring; taken before any stage's lock
	slots  []slot     // circular, len maxRecs
	arena  []byte     // records' text, circular, in record order
	tail   uint64     // virtual end of the newest record's text
	head   int
	n      int
	bytes  int
	seq    uint64
	evict  uint64 // records evicted
	cursor []int  // per stage, while draining; under mu
}

// Staging: a record first goes to a small buffer of the processor that
// logged it (a stage, handed out by a sync.Pool, which keeps one per
// processor), and reaches the shared ring with others, in batches of up
// to stageRecs records or stageBytes of text. The lock, the bookkeeping and
// the ring's memory are shared by every processor, and touching them for
// each record moved their cache lines from core to core: that cost more
// than rendering the record. A reader drains every stage into the ring
// before it reads, so it misses nothing, and a drain merges the stages by
// record time.
const (
	stageRecs  = 32
	stageBytes = 8 << 10
	maxStages  = 64
)

// stage is a batch of rendered records on their way to the ring. Its lock
// is held only to copy a record in or out.
type stage struct {
	mu   sync.Mutex
	n    int
	used int
	recs [stageRecs]slot // pos is the offset in text
	text []byte          // len stageBytes
	_    [128]byte       // no cache line shared with the next stage's lock
}

// slot is one kept record. Its text, the message then its own rendered
// attributes, is at virtual position pos of the arena: physical offset
// pos % len(arena), never wrapping.
type slot struct {
	seq         uint64
	pos         uint64
	time        time.Time
	level       slog.Level
	pre         []byte // shared with the handler clone that produced it
	preRID      string // request id from pre, when it has one
	msgN, ownN  int32
	ridAt, ridN int32 // request id within own, when ridN > 0
	size        int32
}

// entry is a kept record as readers receive it: a copy that shares
// nothing with the Ring but pre, which is immutable.
type entry struct {
	seq   uint64
	time  time.Time
	level slog.Level
	msg   string
	rid   string
	pre   []byte
	own   []byte
}

// NewRing returns an empty Ring.
func NewRing(opts *RingOptions) *Ring {
	var o RingOptions
	if opts != nil {
		o = *opts
	}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultRingRecords
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultRingBytes
	}
	if o.IdleLevel == nil {
		o.IdleLevel = slog.LevelWarn
	}
	if o.IdleAfter <= 0 {
		o.IdleAfter = DefaultRingIdleAfter
	}
	return &Ring{st: &ringStore{level: o.Level, idle: o.IdleLevel, watchers: newWatchers(o.IdleAfter),
		maxRecs: o.MaxRecords, maxBytes: o.MaxBytes}}
}

// Enabled reports whether level is at least RingOptions.Level and, while
// the Ring is idle, at least RingOptions.IdleLevel.
func (h *Ring) Enabled(_ context.Context, level slog.Level) bool {
	s := h.st
	return level >= s.level.Level() && (s.watched() || level >= s.idle.Level())
}

// keeps says in a sentence what the Ring keeps, for the Logs page.
func (s *ringStore) keeps() string {
	lv, idle := s.level.Level(), s.idle.Level()
	if idle <= lv {
		return fmt.Sprintf("Every record at %v and above is kept.", lv)
	}
	return fmt.Sprintf("Records at %v and above are kept while a dashboard page is open and for %v after the last one closes; "+
		"at other times only those at %v and above.", lv, spoken(s.after), idle)
}

// spoken is d as a person would say it: "15 minutes", "30 seconds", or
// as time.Duration writes it when it is not whole minutes or seconds.
func spoken(d time.Duration) string {
	unit, name := time.Minute, "minute"
	if d%time.Minute != 0 {
		unit, name = time.Second, "second"
	}
	switch n := d / unit; {
	case d%unit != 0 || n < 1:
		return d.String()
	case n == 1:
		return "1 " + name
	default:
		return fmt.Sprintf("%d %ss", n, name)
	}
}

// WithAttrs returns a clone whose records carry attrs, rendered once.
func (h *Ring) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	w := attrWriter{dst: append([]byte(nil), h.pre...), pfx: []byte(h.prefix), n: h.preN, haveRID: h.preRID != "", cut: h.over}
	if in := attrs; !h.over {
		attrs = ringBudget.Attrs(attrs, h.depth, false)
		w.marks = len(attrs) != len(in) || &attrs[0] != &in[0] // rewritten
	}
	for _, a := range attrs {
		w.attr(a)
	}
	if w.n == h.preN && !w.cut && !w.mark {
		return h
	}
	if (w.cut || w.mark) && !h.preCut {
		w.dst = appendKV(w.dst, TruncatedKey, "true")
		c.preCut = true
	}
	if w.ridN > 0 {
		c.preRID = string(w.dst[w.ridAt : w.ridAt+w.ridN])
	}
	c.pre, c.preN = w.dst[:len(w.dst):len(w.dst)], w.n
	return &c
}

// WithGroup returns a clone whose later attributes are keyed under name.
// Keys are flattened with dots: group "req" and key "id" give "req.id".
func (h *Ring) WithGroup(name string) slog.Handler {
	if name == "" || h.over {
		return h
	}
	c := *h
	if h.depth >= maxDepth {
		// Past the budget, groups stop nesting (and costing): what is
		// logged inside them is left out and the record marked.
		c.over = true
		return &c
	}
	c.prefix = h.prefix + truncate(name, maxKeyBytes) + "."
	c.depth++
	return &c
}

// scratch is where Handle renders a record before copying it in.
type scratch struct{ dst, pfx []byte }

var scratchPool = sync.Pool{New: func() any { return &scratch{dst: make([]byte, 0, 1024), pfx: make([]byte, 0, 64)} }}

// Handle renders r and keeps it, evicting the oldest records past the
// bounds. It never returns an error.
func (h *Ring) Handle(_ context.Context, r slog.Record) error {
	sc := scratchPool.Get().(*scratch)
	w := attrWriter{dst: sc.dst[:0], pfx: append(sc.pfx[:0], h.prefix...), n: h.preN, haveRID: h.preRID != "", cut: h.over}
	// The record is held to the budget as it is rendered; one that does
	// not fit is rendered again as the budget rewrites it.
	var k budget.Check
	if !h.over && (!ringBudget.Begin(&k, &r, h.depth, false) || !w.record(&r, &k)) {
		ringBudget.Apply(&r, h.depth, false)
		w = attrWriter{dst: w.dst[:0], pfx: w.pfx[:len(h.prefix)], n: h.preN, haveRID: h.preRID != "", marks: true}
		w.record(&r, nil)
	} else if h.over {
		w.record(&r, nil)
	}
	if (w.cut || w.mark) && !h.preCut {
		w.dst = appendKV(w.dst, TruncatedKey, "true")
	}
	msg := r.Message // within maxMsgBytes: the budget cut it
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	h.st.put(h, r.Time, r.Level, msg, false, &w)
	if cap(w.dst) <= 64<<10 && cap(w.pfx) <= 4<<10 {
		sc.dst, sc.pfx = w.dst[:0], w.pfx[:0]
		scratchPool.Put(sc)
	}
	return nil
}

func (s *ringStore) alloc() {
	s.mu.Lock() // readers look at stages under mu
	defer s.mu.Unlock()
	s.slots = make([]slot, s.maxRecs)
	s.arena = make([]byte, max(minArena, min(s.maxBytes, s.maxRecs*maxRecordText)))
	s.stages = make([]stage, min(max(runtime.GOMAXPROCS(0), 1), maxStages))
	for i := range s.stages {
		s.stages[i].text = make([]byte, stageBytes)
	}
	s.cursor = make([]int, len(s.stages))
	s.pool.New = func() any { return &s.stages[int(s.next.Add(1))%len(s.stages)] }
}

// put stages a rendered record, and drains the stages into the ring when
// its stage is full. Nothing in it calls out: locks are held for the
// bookkeeping and the copies alone.
func (s *ringStore) put(h *Ring, t time.Time, level slog.Level, msg string, msgCut bool, w *attrWriter) {
	s.once.Do(s.alloc)
	own := w.dst
	msgN := len(msg)
	if msgCut {
		msgN += len("…")
	}
	if msgN+len(own) > len(s.arena) {
		// Beyond the budgets: cannot happen, but never overrun.
		own, w.ridN = nil, 0
	}
	need := msgN + len(own)
	sl := slot{time: t, level: level, pre: h.pre, preRID: h.preRID, msgN: int32(msgN), ownN: int32(len(own)),
		ridAt: int32(w.ridAt), ridN: int32(w.ridN), size: int32(need + entryOverhead)}
	if need > stageBytes {
		// Larger than any stage: straight to the ring, after what is staged.
		s.mu.Lock()
		s.drain()
		add(s, &sl, msg, msgCut, own)
		s.mu.Unlock()
		return
	}
	st := s.pool.Get().(*stage)
	for !st.add(&sl, msg, msgCut, own) {
		s.mu.Lock()
		s.drain()
		s.mu.Unlock()
	}
	s.pool.Put(st)
}

// add copies a record into st, as add copies one into the ring, and
// reports false when st has no room for it.
func (st *stage) add(sl *slot, msg string, msgCut bool, own []byte) bool {
	need := int(sl.msgN) + int(sl.ownN)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.n == stageRecs || st.used+need > stageBytes {
		return false
	}
	b := st.text[st.used:]
	copy(b, msg)
	if msgCut {
		copy(b[len(msg):], "…")
	}
	copy(b[sl.msgN:], own)
	st.recs[st.n] = *sl
	st.recs[st.n].pos = uint64(st.used)
	st.n++
	st.used += need
	return true
}

// drain moves every staged record into the ring, oldest first across
// the stages (each stage is in the order its records came). Under mu.
func (s *ringStore) drain() {
	for i := range s.stages {
		s.stages[i].mu.Lock()
		s.cursor[i] = 0
	}
	for {
		k := -1
		for i := range s.stages {
			st := &s.stages[i]
			if c := s.cursor[i]; c < st.n && (k < 0 || st.recs[c].time.Before(s.stages[k].recs[s.cursor[k]].time)) {
				k = i
			}
		}
		if k < 0 {
			break
		}
		st := &s.stages[k]
		sl := &st.recs[s.cursor[k]]
		s.cursor[k]++
		t := st.text[sl.pos : sl.pos+uint64(sl.msgN)+uint64(sl.ownN)]
		add(s, sl, t[:sl.msgN], false, t[sl.msgN:])
		*sl = slot{}
	}
	for i := range s.stages {
		s.stages[i].n, s.stages[i].used = 0, 0
		s.stages[i].mu.Unlock()
	}
}

// lockDrained takes the ring's lock with every staged record in it.
func (s *ringStore) lockDrained() {
	s.mu.Lock()
	if s.stages != nil { // nil until the first record
		s.drain()
	}
}

// add copies a record into the ring, evicting the oldest past the bounds.
// The record's text is msg (then "…" when msgCut; sl.msgN counts it)
// followed by own. Under mu.
func add[T string | []byte](s *ringStore, sl *slot, msg T, msgCut bool, own []byte) {
	need := uint64(sl.msgN) + uint64(sl.ownN)
	size := int(sl.size)
	l := uint64(len(s.arena))
	start := s.tail
	if start%l+need > l {
		start += l - start%l // the rest of the buffer stays unused
	}
	end := start + need
	for s.n > 0 && (s.n == s.maxRecs || s.bytes+size > s.maxBytes || end-s.slots[s.head].pos > l) {
		s.bytes -= int(s.slots[s.head].size)
		s.slots[s.head] = slot{}
		s.head = (s.head + 1) % s.maxRecs
		s.n--
		s.evict++
	}
	s.seq++
	off := start % l
	copy(s.arena[off:], msg)
	if msgCut {
		copy(s.arena[off+uint64(len(msg)):], "…")
	}
	copy(s.arena[off+uint64(sl.msgN):], own)
	kept := &s.slots[(s.head+s.n)%s.maxRecs]
	*kept = *sl
	kept.seq, kept.pos = s.seq, start
	s.tail = end
	s.n++
	s.bytes += size
}

// text is sl's text in the arena. Under the lock only.
func (s *ringStore) text(sl *slot) []byte {
	off := sl.pos % uint64(len(s.arena))
	return s.arena[off : off+uint64(sl.msgN)+uint64(sl.ownN)]
}

// copier collects copies of slots and their text under the lock, into
// memory sized beforehand from the average record (grown under the lock
// only when the records copied are larger or more), and makes entries of
// them after.
type copier struct {
	slots []slot
	text  []byte
}

func (s *ringStore) newCopier(k int) copier {
	s.lockDrained()
	n, text := s.n, s.bytes-s.n*entryOverhead
	s.mu.Unlock()
	if k <= 0 || k > n {
		k = n
	}
	avg := 0
	if n > 0 {
		avg = text / n
	}
	return copier{slots: make([]slot, 0, k+8), text: make([]byte, 0, (k+8)*(avg+8))}
}

// add copies sl, its pos becoming its offset in c.text. Under the lock.
func (c *copier) add(s *ringStore, sl *slot) {
	cp := *sl
	cp.pos = uint64(len(c.text))
	c.text = append(c.text, s.text(sl)...)
	c.slots = append(c.slots, cp)
}

func (c *copier) entries() []entry {
	out := make([]entry, len(c.slots))
	for i := range c.slots {
		sl := &c.slots[i]
		t := c.text[sl.pos : sl.pos+uint64(sl.msgN)+uint64(sl.ownN)]
		own := t[sl.msgN:len(t):len(t)]
		e := entry{seq: sl.seq, time: sl.time, level: sl.level, msg: string(t[:sl.msgN]), rid: sl.preRID, pre: sl.pre}
		if len(own) > 0 {
			e.own = own
		}
		if sl.ridN > 0 && e.rid == "" {
			e.rid = string(own[sl.ridAt : sl.ridAt+sl.ridN])
		}
		out[i] = e
	}
	return out
}

// entries returns copies of the kept entries with seq > after, oldest
// first, at most max of them (the newest max when there are more).
func (s *ringStore) entries(after uint64, max int) []entry {
	c := s.newCopier(max)
	s.lockDrained()
	if s.n == 0 || s.seq <= after {
		s.mu.Unlock()
		return nil
	}
	first := s.seq - uint64(s.n) + 1 // seq of the oldest kept
	skip := 0
	if after >= first {
		skip = int(after - first + 1)
	}
	k := s.n - skip
	if max > 0 && k > max {
		skip += k - max
		k = max
	}
	for i := range k {
		c.add(s, &s.slots[(s.head+skip+i)%s.maxRecs])
	}
	s.mu.Unlock()
	return c.entries()
}

// withMessage returns copies of the newest max entries whose message is
// msg, oldest first.
func (s *ringStore) withMessage(msg string, max int) []entry {
	c := s.newCopier(max)
	s.lockDrained()
	for i := s.n - 1; i >= 0 && (max <= 0 || len(c.slots) < max); i-- {
		sl := &s.slots[(s.head+i)%s.maxRecs]
		if int(sl.msgN) == len(msg) && string(s.text(sl)[:sl.msgN]) == msg {
			c.add(s, sl)
		}
	}
	s.mu.Unlock()
	slices.Reverse(c.slots)
	return c.entries()
}

// RingStats are a Ring's counts, for its own health.
type RingStats struct {
	// Records and Bytes are what the Ring holds now.
	Records, Bytes int
	// Handled counts every record kept since the Ring was made; Evicted
	// those pushed out since by newer ones.
	Handled, Evicted uint64
}

// Stats returns the Ring's counts.
func (h *Ring) Stats() RingStats {
	s := h.st
	s.lockDrained()
	defer s.mu.Unlock()
	return RingStats{Records: s.n, Bytes: s.bytes, Handled: s.seq, Evicted: s.evict}
}

// attrWriter flattens attributes, which the record budget has bounded,
// into (key, value) pairs, each a uvarint length and bytes. pfx is the open
// groups' key prefix ("a.b."), a scratch buffer; ridAt and ridN locate the
// first request id rendered in dst, unless haveRID says one is known
// already. When cut or mark is set, the record gets the TruncatedKey
// marker.
type attrWriter struct {
	dst         []byte
	pfx         []byte
	n           int
	haveRID     bool
	ridAt, ridN int
	cut         bool // rendered past maxRecordBytes: later attributes are left out
	mark        bool // a key or value was cut, or the budget left something out
	marks       bool // the budget rewrote the record: look for its markers
}

// record renders r's attributes, checking each with k before it renders
// it, and reports false when one does not fit (k nil: r fits).
func (w *attrWriter) record(r *slog.Record, k *budget.Check) bool {
	fits := true
	r.Attrs(func(a slog.Attr) bool {
		if k != nil && !ringBudget.Fits(k, a) {
			fits = false
			return false
		}
		w.attr(a)
		return !w.cut
	})
	return fits
}

// maxKeyBytes bounds one key or group name.
const maxKeyBytes = maxValueBytes / 4

func (w *attrWriter) attr(a slog.Attr) {
	if w.cut {
		return
	}
	v := a.Value
	if v.Kind() == slog.KindGroup {
		g := v.Group()
		if len(g) == 0 {
			return
		}
		at := len(w.pfx)
		if a.Key != "" {
			key, cut := cutKey(a.Key)
			w.pfx = append(w.pfx, key...)
			if cut {
				w.pfx = append(w.pfx, "…"...)
				w.mark = true
			}
			w.pfx = append(w.pfx, '.')
		}
		for _, ga := range g {
			w.attr(ga)
		}
		w.pfx = w.pfx[:at]
		return
	}
	if a.Key == "" && v.Kind() == slog.KindAny && v.Any() == nil {
		return // the empty Attr is ignored
	}
	if len(w.dst) >= maxRecordBytes {
		// Flattening repeats the names of groups in every key: past
		// the budget in rendered bytes, the rest is left out.
		w.cut = true
		return
	}
	key, keyCut := cutKey(a.Key)
	w.mark = w.mark || keyCut || (w.marks && a.Key == budget.Attrs)
	keyN := len(w.pfx) + len(key)
	if keyCut {
		keyN += len("…")
	}
	w.dst = binary.AppendUvarint(w.dst, uint64(keyN))
	w.dst = append(w.dst, w.pfx...)
	w.dst = append(w.dst, key...)
	if keyCut {
		w.dst = append(w.dst, "…"...)
	}
	lenAt := len(w.dst)
	w.dst = append(w.dst, 0) // room for a one-byte uvarint length
	valAt := len(w.dst)
	var cut bool
	w.dst, cut = renderValue(w.dst, v)
	vl := len(w.dst) - valAt
	w.mark = w.mark || cut || (w.marks && budgetCut(w.dst[valAt:], v.Kind()))
	if vl < 0x80 {
		w.dst[lenAt] = byte(vl)
	} else {
		// Values are at most maxValueBytes bytes: a two-byte uvarint.
		// Most are shorter, so the value moves only for the long ones.
		w.dst = append(w.dst, 0)
		copy(w.dst[valAt+1:], w.dst[valAt:len(w.dst)-1])
		binary.PutUvarint(w.dst[lenAt:lenAt+2], uint64(vl))
	}
	w.n++
	if !w.haveRID && a.Key == RequestIDKey && vl > 0 {
		w.haveRID, w.ridAt, w.ridN = true, len(w.dst)-vl, vl
	}
}

// cutKey returns k cut to maxKeyBytes, leaving room for "…", and whether
// it cut.
func cutKey(k string) (string, bool) {
	if len(k) <= maxKeyBytes {
		return k, false
	}
	return budget.Cut(k, maxKeyBytes-len("…")), true
}

// budgetCut reports whether text, a value the budget rewrote, is one of
// its markers of something left out: a cut string, a group past the
// depth, a slice that ends in the count of elements left out.
func budgetCut(text []byte, kind slog.Kind) bool {
	switch kind {
	case slog.KindString:
		return bytes.HasSuffix(text, []byte(budget.Truncated)) || string(text) == budget.Depth
	case slog.KindAny:
		return bytes.Contains(text, []byte(budget.Attrs+"=")) || bytes.Contains(text, []byte(budget.Truncated))
	}
	return false
}

// renderValue appends v, a value the record budget has made plain, as the
// Logs page shows it: invalid UTF-8 replaced, cut to maxValueBytes on a
// UTF-8 boundary and ended by "…"; it reports whether it cut. An error is
// its text and bytes are text; other values of kind Any (slices of plain
// values, times, numbers) are as fmt writes them. A method that panics
// gives "!PANIC".
func renderValue(dst []byte, v slog.Value) ([]byte, bool) {
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10), false
	case slog.KindUint64:
		return strconv.AppendUint(dst, v.Uint64(), 10), false
	case slog.KindFloat64:
		return strconv.AppendFloat(dst, v.Float64(), 'g', -1, 64), false
	case slog.KindBool:
		return strconv.AppendBool(dst, v.Bool()), false
	case slog.KindDuration:
		return append(dst, v.Duration().String()...), false
	case slog.KindTime:
		return v.Time().AppendFormat(dst, time.RFC3339Nano), false
	default:
		s = anyText(v.Any())
	}
	return appendPlain(dst, s, maxValueBytes)
}

// appendPlain appends s with invalid UTF-8 replaced, cut to max bytes
// (at least 3) on a UTF-8 boundary and ended by "…", and reports whether
// it cut: how the dashboard keeps text it shows.
func appendPlain(dst []byte, s string, max int) ([]byte, bool) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > max {
		return append(append(dst, budget.Cut(s, max-len("…"))...), "…"...), true
	}
	return append(dst, s...), false
}

// anyText is the text of x, a plain value of kind Any.
func anyText(x any) (s string) {
	defer func() {
		if recover() != nil {
			s = budget.Panic
		}
	}()
	switch v := x.(type) {
	case nil:
		return "<nil>"
	case error:
		return v.Error()
	case []byte:
		return string(v)
	}
	return fmt.Sprint(x)
}

// RequestIDKey is the attribute whose value the Logs page offers as a
// request filter, and TraceIDKey the one it links to the trace's page:
// the keys enrich adds.
const (
	RequestIDKey = "request_id"
	TraceIDKey   = "trace_id"
)

func appendKV(dst []byte, k, v string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	dst = append(dst, k...)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

// eachKV calls f for each pair rendered by attrWriter.
func eachKV(b []byte, f func(k, v []byte)) {
	for len(b) > 0 {
		kl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < kl {
			return
		}
		k := b[n : n+int(kl)]
		b = b[n+int(kl):]
		vl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < vl {
			return
		}
		f(k, b[n:n+int(vl)])
		b = b[n+int(vl):]
	}
}

// truncate cuts s to at most max bytes on a rune boundary, ending in "…",
// and returns a copy that does not keep s alive.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return strings.Clone(budget.Cut(s, max-len("…"))) + "…"
}

// logJSON is a record as the Logs page receives it.
type logJSON struct {
	Seq   uint64      `json:"seq"`
	T     int64       `json:"t"` // Unix milliseconds
	Level string      `json:"level"`
	Msg   string      `json:"msg"`
	RID   string      `json:"rid,omitempty"`
	Attrs [][2]string `json:"attrs"`
}

func toJSON(e *entry) logJSON {
	j := logJSON{Seq: e.seq, T: e.time.UnixMilli(), Level: e.level.String(), Msg: e.msg, RID: e.rid, Attrs: [][2]string{}}
	f := func(k, v []byte) { j.Attrs = append(j.Attrs, [2]string{string(k), string(v)}) }
	eachKV(e.pre, f)
	eachKV(e.own, f)
	return j
}

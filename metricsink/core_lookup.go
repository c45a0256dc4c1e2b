package metricsink

import (
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// Lookup is the one structure between a Sink method and a backend's
// series: it maps what a caller passed (the op, the raw name and the raw
// tags, in their order) to what the backend resolved for them (a series,
// or the reason to drop), so that a known series is found without a lock,
// an allocation or a hash of the whole key.
//
// It is a hash table of immutable buckets. A key's index is made from the
// lengths and a few bytes of the strings of the key (see lookupIndex),
// which costs a few loads where hashing every byte would cost more than
// the rest of a sample; the key is then compared in place. Keys alike in
// those bytes share an index: at most LookupBucketLen of them are
// remembered, and past that bound a key is resolved by the backend on
// each call, as it resolves any new key, so that keys made to collide
// slow down nothing but themselves and the few keys of their index. Get
// is lock-free; Put and DeleteFunc take a lock and copy one bucket (or,
// as the table grows, the table: O(1) per key amortised).
//
// The zero Lookup is not usable; build it with NewLookup, or Init it. Its
// methods are safe for concurrent use.
type Lookup[V any] struct {
	tab atomic.Pointer[lookupTable[V]]

	mu      sync.Mutex
	n       int
	max     int
	maxKey  int
	initial int
}

// LookupBucketLen is the most keys of one index a Lookup holds.
const LookupBucketLen = 16

type lookupTable[V any] struct {
	shift   uint // 64 - log2(len(buckets))
	buckets []atomic.Pointer[[]lookupEntry[V]]
}

// slot returns the bucket of the key whose lookupIndex is h: its top bits
// (the index's last multiplication carries every input bit up to them).
func (t *lookupTable[V]) slot(h uint64) *atomic.Pointer[[]lookupEntry[V]] {
	return &t.buckets[h>>t.shift]
}

type lookupEntry[V any] struct {
	h    uint64 // lookupIndex of the key
	op   Op
	name string
	tags []Tag
	v    V
}

// NewLookup returns an empty Lookup that remembers at most max keys, each
// of at most maxKeyBytes bytes (name, tag keys and values together).
func NewLookup[V any](max, maxKeyBytes int) *Lookup[V] {
	l := new(Lookup[V])
	l.Init(max, maxKeyBytes)
	return l
}

// Init makes the zero Lookup l what NewLookup returns, for a Lookup held
// by value in a backend's struct (one pointer fewer on its hot path). It
// must be called once, before any other method.
func (l *Lookup[V]) Init(max, maxKeyBytes int) {
	l.max, l.maxKey, l.initial = max, maxKeyBytes, 64
	l.tab.Store(newLookupTable[V](l.initial))
}

// newLookupTable returns a table of n buckets, n a power of two.
func newLookupTable[V any](n int) *lookupTable[V] {
	return &lookupTable[V]{shift: uint(64 - bits.Len(uint(n-1))), buckets: make([]atomic.Pointer[[]lookupEntry[V]], n)}
}

// Resolver resolves for a Lookup what it does not know.
type Resolver[V any] interface {
	// Resolve returns the value of a sample of op, name and tags that the
	// Lookup does not remember (or whose tags View refuses), remembering
	// it with Put when it should. The tags come by value, so that the
	// Sink method's Tags, whose address Find takes, stays on its stack.
	Resolve(op Op, name string, tags Tags) V
}

// Find returns the value remembered for op, name and *tags, or what r
// resolves when there is none or View refuses the tags. A known key costs
// no lock, no allocation and one call: the hot path of a backend's Sink
// methods.
func (l *Lookup[V]) Find(op Op, name string, tags *Tags, r Resolver[V]) V {
	list, err := View(tags)
	if err == nil {
		h := indexName(op, name)
		for i := range list {
			h = indexTag(h, &list[i])
		}
		h = indexEnd(h)
		if b := l.tab.Load().slot(h).Load(); b != nil {
			for i := range *b {
				e := &(*b)[i]
				if e.h == h && e.op == op && e.name == name && equalTags(e.tags, list) {
					return e.v
				}
			}
		}
	}
	return r.Resolve(op, name, *tags)
}

// Get returns the value remembered for op, name and tags (as View returns
// them), and whether there is one. It takes no lock and allocates nothing.
func (l *Lookup[V]) Get(op Op, name string, tags []Tag) (v V, ok bool) {
	h := lookupIndex(op, name, tags)
	t := l.tab.Load()
	b := t.slot(h).Load()
	if b == nil {
		return v, false
	}
	for i := range *b {
		e := &(*b)[i]
		if e.h == h && e.op == op && e.name == name && equalTags(e.tags, tags) {
			return e.v, true
		}
	}
	return v, false
}

func equalTags(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

// Put remembers v for op, name and tags and reports whether it did: not
// when the key is remembered already (the first value stays), is longer
// than the bound, or its bucket or the table is full. Like a map, Put
// keeps the strings it is given rather than copies of them: later calls
// with the same strings then compare equal at their first byte's address.
// A caller whose strings alias memory that changes (unsafe.String over a
// buffer) must pass copies.
func (l *Lookup[V]) Put(op Op, name string, tags []Tag, v V) bool {
	size := len(name)
	for _, t := range tags {
		size += len(t.Key) + len(t.Value)
	}
	if size > l.maxKey {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max {
		return false
	}
	h := lookupIndex(op, name, tags)
	t := l.tab.Load()
	slot := t.slot(h)
	var old []lookupEntry[V]
	if b := slot.Load(); b != nil {
		old = *b
	}
	same := 0
	for i := range old {
		e := &old[i]
		if e.h != h {
			continue
		}
		if e.op == op && e.name == name && equalTags(e.tags, tags) {
			return false
		}
		same++
	}
	if same >= LookupBucketLen {
		return false
	}
	next := make([]lookupEntry[V], len(old), len(old)+1)
	copy(next, old)
	next = append(next, lookupEntry[V]{h: h, op: op, name: name, tags: slices.Clone(tags), v: v})
	slot.Store(&next)
	l.n++
	if l.n > 2*len(t.buckets) {
		l.grow(t)
	}
	return true
}

// grow publishes a table of twice as many buckets. Entries are shared, not
// copied; a bucket past LookupBucketLen after the split keeps its keys.
func (l *Lookup[V]) grow(t *lookupTable[V]) {
	next := newLookupTable[V](2 * len(t.buckets))
	for i := range t.buckets {
		b := t.buckets[i].Load()
		if b == nil {
			continue
		}
		for _, e := range *b {
			slot := next.slot(e.h)
			var nb []lookupEntry[V]
			if p := slot.Load(); p != nil {
				nb = *p
			}
			nb = append(nb, e)
			slot.Store(&nb)
		}
	}
	l.tab.Store(next)
}

// DeleteFunc forgets every key whose value del reports, and returns how
// many it forgot.
func (l *Lookup[V]) DeleteFunc(del func(V) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tab.Load()
	gone := 0
	for i := range t.buckets {
		b := t.buckets[i].Load()
		if b == nil {
			continue
		}
		var keep []lookupEntry[V]
		for _, e := range *b {
			if !del(e.v) {
				keep = append(keep, e)
			}
		}
		if len(keep) != len(*b) {
			gone += len(*b) - len(keep)
			t.buckets[i].Store(&keep)
		}
	}
	l.n -= gone
	return gone
}

// Len returns the number of keys remembered.
func (l *Lookup[V]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// lookupIndex mixes the op, the name's length and its first and last
// eight bytes (all of a name of up to 16 bytes), and for each tag the value's length and first, middle and
// last bytes and the key's length: a few loads, where hashing every byte
// would cost more than the rest of a sample. Keys alike in all of these
// share an index: see Lookup.
func lookupIndex(op Op, name string, tags []Tag) uint64 {
	h := indexName(op, name)
	for i := range tags {
		h = indexTag(h, &tags[i])
	}
	return indexEnd(h)
}

// indexName, indexTag and indexEnd are lookupIndex in parts small enough
// to be inlined, so that Find computes the index without a call.
func indexName(op Op, name string) uint64 {
	n := len(name)
	h := uint64(op) | uint64(n)<<8
	switch {
	case n >= 8:
		h ^= load8(name) ^ bits.RotateLeft64(load8(name[n-8:]), 32)
	case n > 0:
		h |= uint64(name[0])<<24 | uint64(name[n>>1])<<32 | uint64(name[n-1])<<40
	}
	return h
}

func indexTag(h uint64, t *Tag) uint64 {
	v := t.Value
	x := uint64(len(v)) | uint64(len(t.Key))<<40
	if n := len(v); n > 0 {
		x |= uint64(v[0])<<16 | uint64(v[n-1])<<24 | uint64(v[n>>1])<<32
	}
	return bits.RotateLeft64(h, 21) ^ x
}

func indexEnd(h uint64) uint64 { return h * 0x9e3779b97f4a7c15 }

// load8 returns the first eight bytes of s, little-endian; the compiler
// makes it one load.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

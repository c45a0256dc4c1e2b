package metricsink

import (
	"maps"
	"sync/atomic"
	"unsafe"
)

// The hot path finds an existing series without locks or allocation:
// first the entry of the raw name (one map lookup per kind), then the raw
// tags, compared in place against the first few tag lists seen for that
// name, or looked up by a key built on the stack when there are more.
// Every structure the hot path reads is immutable once published; the slow
// path, under Prometheus.mu, publishes new versions.

// smallSeries is how many tag lists per name are compared in place before
// a name's series are looked up by key.
const smallSeries = 8

// cowMap is a map read without locks through an immutable snapshot and
// written under the owner's mutex. Writes go to dirty; a new snapshot is
// published once the lookups that missed it add up to a quarter of its
// size, so the copies cost amortised O(1) per entry.
type cowMap[V any] struct {
	read   atomic.Pointer[map[string]V]
	dirty  map[string]V
	misses int
}

func (c *cowMap[V]) load(key string) (V, bool) {
	if m := c.read.Load(); m != nil {
		v, ok := (*m)[key]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *cowMap[V]) loadBytes(key []byte) (V, bool) {
	if m := c.read.Load(); m != nil {
		v, ok := (*m)[string(key)]
		return v, ok
	}
	var zero V
	return zero, false
}

// getLocked looks key up in dirty and counts a miss when found.
func (c *cowMap[V]) getLocked(key []byte) (V, bool) {
	v, ok := c.dirty[string(key)]
	if ok {
		c.missLocked()
	}
	return v, ok
}

func (c *cowMap[V]) storeLocked(key string, v V) {
	if c.dirty == nil {
		c.dirty = make(map[string]V)
	}
	c.dirty[key] = v
	c.missLocked()
}

func (c *cowMap[V]) missLocked() {
	c.misses++
	if c.misses <= len(c.dirty)/4 {
		return
	}
	m := maps.Clone(c.dirty)
	c.read.Store(&m)
	c.misses = 0
}

// nameEntry holds the series recorded under one raw name and kind.
type nameEntry struct {
	small atomic.Pointer[[]cachedSeries] // up to smallSeries tag lists
	big   cowMap[*series]                // tag key -> series, past smallSeries
}

type cachedSeries struct {
	tags []Tag // as the caller gave them, owned
	s    *series
}

func equalTags(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameString(a[i].Key, b[i].Key) || !sameString(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// sameString is a == b, answering without a call to compare bytes when
// both share their bytes, as tags built from constants and reused values
// do.
func sameString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	return unsafe.StringData(a) == unsafe.StringData(b) || a == b
}

// find returns the series of e for tags, if the hot path knows it.
func (e *nameEntry) find(tags *Tags) *series {
	all := tags.All()
	if sm := e.small.Load(); sm != nil {
		for i := range *sm {
			if c := &(*sm)[i]; equalTags(c.tags, all) {
				return c.s
			}
		}
		if len(*sm) < smallSeries {
			return nil
		}
	}
	var buf [256]byte
	s, _ := e.big.loadBytes(tagsKey(&buf, tags))
	return s
}

// findLocked is find for the slow path, which also sees what is not yet
// published.
func (e *nameEntry) findLocked(tags *Tags) *series {
	if s := e.find(tags); s != nil {
		return s
	}
	var buf [256]byte
	s, _ := e.big.getLocked(tagsKey(&buf, tags))
	return s
}

// addLocked makes s the series of tags in e.
func (e *nameEntry) addLocked(tags *Tags, s *series) {
	var old []cachedSeries
	if sm := e.small.Load(); sm != nil {
		old = *sm
	}
	if len(old) < smallSeries {
		sm := make([]cachedSeries, len(old), len(old)+1)
		copy(sm, old)
		sm = append(sm, cachedSeries{tags: append([]Tag(nil), tags.All()...), s: s})
		e.small.Store(&sm)
		return
	}
	var buf [256]byte
	e.big.storeLocked(string(tagsKey(&buf, tags)), s)
}

// tagsKey returns an unambiguous key for tags as given, in the caller's
// order: each string preceded by its length. It uses buf when every string
// is shorter than 255 bytes and all fit, and allocates otherwise.
func tagsKey(buf *[256]byte, tags *Tags) []byte {
	all := tags.All()
	n := 0
	short := true
	for i := range all {
		n += 2 + len(all[i].Key) + len(all[i].Value)
		short = short && len(all[i].Key) < 255 && len(all[i].Value) < 255
	}
	if !short || n > len(buf) {
		return appendLongTagsKey(make([]byte, 0, n+8*MaxTags), all)
	}
	b := buf[:0]
	for i := range all {
		b = append(b, byte(len(all[i].Key)))
		b = append(b, all[i].Key...)
		b = append(b, byte(len(all[i].Value)))
		b = append(b, all[i].Value...)
	}
	return b
}

// appendLongTagsKey is tagsKey for long strings: a 255 marker, then
// lengths as 4 bytes, so it never equals a short key.
func appendLongTagsKey(dst []byte, all []Tag) []byte {
	dst = append(dst, 255)
	for _, t := range all {
		dst = append(dst, byte(len(t.Key)>>24), byte(len(t.Key)>>16), byte(len(t.Key)>>8), byte(len(t.Key)))
		dst = append(dst, t.Key...)
		dst = append(dst, byte(len(t.Value)>>24), byte(len(t.Value)>>16), byte(len(t.Value)>>8), byte(len(t.Value)))
		dst = append(dst, t.Value...)
	}
	return dst
}

// nameCacheSize is the number of lines, per kind, of the cache that finds
// a name's entry by the address of the name's bytes.
const nameCacheSize = 64

// nameCacheLine remembers the entry of one name string. It holds the
// string itself, which keeps its bytes alive: while the line exists no
// other string can occupy that address, so an equal address and length
// mean equal contents (strings are immutable).
type nameCacheLine struct {
	name string
	e    *nameEntry
}

func nameSlot(name string) uintptr {
	a := uintptr(unsafe.Pointer(unsafe.StringData(name)))
	return (a>>3 ^ a>>9 ^ uintptr(len(name))) % nameCacheSize
}

// entry returns the entry of the raw name for kind k, or nil.
func (p *Prometheus) entry(k kind, name string) *nameEntry {
	if c := p.nameCache[k][nameSlot(name)].Load(); c != nil &&
		unsafe.StringData(c.name) == unsafe.StringData(name) && len(c.name) == len(name) {
		return c.e
	}
	e, _ := p.hot[k].load(name)
	return e
}

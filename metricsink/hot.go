package metricsink

import (
	"maps"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"
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
	c.publishLocked()
}

// publishLocked makes the readers see every write so far.
func (c *cowMap[V]) publishLocked() {
	m := maps.Clone(c.dirty)
	c.read.Store(&m)
	c.misses = 0
}

// deleteLocked removes key and publishes at once, so that no reader finds
// it any more.
func (c *cowMap[V]) deleteLocked(key string) {
	if _, ok := c.dirty[key]; ok {
		delete(c.dirty, key)
		c.publishLocked()
	}
}

// nameEntry holds the series recorded under one raw name and kind.
type nameEntry struct {
	fam   *family                        // the family the name maps to
	small atomic.Pointer[[]cachedSeries] // up to smallSeries tag lists
	big   cowMap[*cachedSeries]          // tag key -> series, past smallSeries
}

// cachedSeries is what the hot path knows of one raw tag list.
type cachedSeries struct {
	tags []Tag // as the caller gave them, owned
	s    *series
	ov   *metrics.Gauge // counts the samples when s receives them as overflow
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

// find returns what the hot path knows of tags in e, or nil.
func (e *nameEntry) find(tags *Tags) *cachedSeries {
	all := tags.All()
	if sm := e.small.Load(); sm != nil {
		for i := range *sm {
			if c := &(*sm)[i]; equalTags(c.tags, all) {
				return c
			}
		}
		if len(*sm) < smallSeries {
			return nil
		}
	}
	var buf [256]byte
	c, _ := e.big.loadBytes(tagsKey(&buf, tags))
	return c
}

// findLocked is find for the slow path, which also sees what is not yet
// published.
func (e *nameEntry) findLocked(tags *Tags) *cachedSeries {
	if c := e.find(tags); c != nil {
		return c
	}
	var buf [256]byte
	c, _ := e.big.getLocked(tagsKey(&buf, tags))
	return c
}

// addLocked makes s the series of tags in e; ov, when not nil, counts the
// samples as overflow.
func (e *nameEntry) addLocked(tags *Tags, s *series, ov *metrics.Gauge) {
	var old []cachedSeries
	if sm := e.small.Load(); sm != nil {
		old = *sm
	}
	if len(old) < smallSeries {
		sm := make([]cachedSeries, len(old), len(old)+1)
		copy(sm, old)
		sm = append(sm, cachedSeries{tags: append([]Tag(nil), tags.All()...), s: s, ov: ov})
		e.small.Store(&sm)
		return
	}
	var buf [256]byte
	e.big.storeLocked(string(tagsKey(&buf, tags)), &cachedSeries{s: s, ov: ov})
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

// A family at its series limit is also searched by canonical labels, so
// that samples with tag lists the hot path has not remembered (ever new
// values sent to the overflow series) need neither the mutex nor an
// allocation. It serves only tags already in canonical form ("plain":
// snake_case keys in increasing order, none reserved or constant, values
// valid UTF-8), for which the canonical labels are rendered on the stack;
// others take the slow path. While the family is full, byCanon is published
// as soon as it changes, so a miss there means that no series has those
// labels.

// addCanonLocked records s as the series of fam with canonical labels
// canon, and updates fam.full.
func (p *Prometheus) addCanonLocked(fam *family, canon string, s *series) {
	fam.byCanon.storeLocked(canon, s)
	p.updateFullLocked(fam, true)
}

// removeCanonLocked forgets the series of fam with canonical labels canon.
func (p *Prometheus) removeCanonLocked(fam *family, canon string) {
	fam.byCanon.deleteLocked(canon)
	p.updateFullLocked(fam, false)
}

func (p *Prometheus) updateFullLocked(fam *family, changed bool) {
	full := len(fam.series) >= p.maxSeries
	if full && (changed || !fam.full.Load()) {
		fam.byCanon.publishLocked() // before readers rely on it
	}
	fam.full.Store(full)
}

// findFull returns the series of a full family fam for tags, and the
// overflow counter to add to when it is the overflow target, or nil when
// the slow path must decide.
func (p *Prometheus) findFull(fam *family, k kind, tags *Tags) (*series, *metrics.Gauge) {
	all := tags.All()
	if !p.plainTags(all) {
		return nil, nil
	}
	var buf [512]byte
	if s, ok := fam.byCanon.loadBytes(appendCanon(buf[:0], all, p.constLabels, false)); ok {
		if sameKind(s.kind, k) {
			return s, nil
		}
		return nil, nil
	}
	if c, ok := fam.byOther.loadBytes(appendCanon(buf[:0], all, p.constLabels, true)); ok && sameKind(c.s.kind, k) {
		return c.s, c.ov
	}
	return nil, nil
}

// plainTags reports whether tags are in canonical form: mapping leaves the
// keys as they are and sorting leaves their order, none is reserved or a
// constant label's, and every value is valid UTF-8.
func (p *Prometheus) plainTags(all []Tag) bool {
	for i := range all {
		k := all[i].Key
		if !plainKey(k) || k == "le" || k == "quantile" || p.constKeys[k] {
			return false
		}
		if i > 0 && all[i-1].Key >= k {
			return false
		}
		if !utf8.ValidString(all[i].Value) {
			return false
		}
	}
	return true
}

// plainKey reports whether k is its own snake_case mapping and does not
// start with a digit: lower-case letters, digits and single underscores,
// none leading or trailing.
func plainKey(k string) bool {
	if k == "" || k[0] == '_' || k[len(k)-1] == '_' || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '_' && k[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// appendCanon appends to dst the canonical labels of plain tags merged with
// the constant labels consts, as renderLabels renders them; with other,
// every value but the constant ones is "other", as for an overflow series.
func appendCanon(dst []byte, all, consts []Tag, other bool) []byte {
	if len(all)+len(consts) == 0 {
		return dst
	}
	dst = append(dst, '{')
	i, j := 0, 0
	for i < len(all) || j < len(consts) {
		var t Tag
		isConst := false
		if j >= len(consts) || (i < len(all) && all[i].Key < consts[j].Key) {
			t = all[i]
			i++
		} else {
			t = consts[j]
			j++
			isConst = true
		}
		if i+j > 1 {
			dst = append(dst, ',')
		}
		dst = append(dst, t.Key...)
		dst = append(dst, '=', '"')
		if other && !isConst {
			dst = append(dst, "other"...)
		} else {
			dst = appendLabelValue(dst, t.Value)
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

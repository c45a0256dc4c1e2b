package metricsink

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// cachedVariants counts the raw name and tag variants the hot path
// remembers, and the raw names remembered by the slow path.
func (p *Prometheus) cachedVariants() (tags, names int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.hot {
		for _, e := range p.hot[k].dirty {
			names++
			if sm := e.small.Load(); sm != nil {
				tags += len(*sm)
			}
			tags += len(e.big.dirty)
		}
	}
	return tags, names + len(p.names)
}

// Raw variants that map to one canonical series or family are remembered
// only up to a bound, however many there are.
func TestHotCacheBounded(t *testing.T) {
	p, err := NewPrometheus(&PrometheusOptions{
		DisableRuntimeMetrics: true,
		MaxSeriesPerMetric:    10,
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50000
	for i := range n {
		// three bytes 0x80-0xBF: invalid UTF-8, all one U+FFFD
		v := string([]byte{0x80 | byte(i>>12&63), 0x80 | byte(i>>6&63), 0x80 | byte(i&63)})
		p.Increment("logins", 1, KV("user", v))
		p.Increment("logins."+v, 1, Tags{}) // also one family: logins_total
	}
	tags, names := p.cachedVariants()
	if tags > 4096 || names > 4096 {
		t.Errorf("after %d raw variants of one series: %d tag variants and %d names remembered, want at most 4096 each", n, tags, names)
	}
	// The cap is reached, yet a new series is still found by the hot path.
	fresh := KV("user", "fresh")
	p.Increment("logins", 1, fresh)
	p.mu.Lock()
	e, _ := p.hot[kindCounter].getLocked([]byte("logins"))
	found := e != nil && e.findLocked(&fresh) != nil
	p.mu.Unlock()
	if !found {
		t.Errorf("a series created past the cap of raw variants is not on the hot path")
	}
	var b bytes.Buffer
	p.WritePrometheus(&b)
	for _, want := range []string{"logins_total{user=\"\uFFFD\"} 50000\n", "\nlogins_total 50000\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}

// For tags in canonical form, the lock-free rendering of a full family's
// search equals what the slow path renders.
func FuzzCanonicalTags(f *testing.F) {
	f.Add("a", "1", "b", "x\"y")
	f.Add("user_id", "other", "env", "v")
	f.Add("a__b", "v", "_a", "w")
	f.Add("le", "1", "x9", "\xff")
	f.Add("Key", "v", "k2", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		p, err := NewPrometheus(&PrometheusOptions{
			DisableRuntimeMetrics: true,
			ConstLabels:           map[string]string{"env": "f", "zone": "z"},
			Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		tags := KV(k1, v1, k2, v2)
		if plainKey(k1) != (snake(k1) == k1 && k1 != "" && (k1[0] < '0' || k1[0] > '9')) {
			t.Errorf("plainKey(%q) = %v, snake = %q", k1, plainKey(k1), snake(k1))
		}
		if !p.plainTags(tags.All()) {
			return
		}
		p.mu.Lock()
		fam, _, ok := p.familyLocked(kindCounter, "x")
		labels, ok2 := p.labelsLocked(fam, "x", &tags)
		p.mu.Unlock()
		if !ok || !ok2 {
			t.Fatalf("plain tags %q rejected by the slow path", tags.All())
		}
		if got, want := string(appendCanon(nil, tags.All(), p.constLabels, false)), string(renderLabels(nil, labels)); got != want {
			t.Errorf("appendCanon = %s, slow path renders %s", got, want)
		}
		other := make([]Tag, len(labels))
		for i, l := range labels {
			other[i] = l
			if !p.constKeys[l.Key] {
				other[i].Value = "other"
			}
		}
		if got, want := string(appendCanon(nil, tags.All(), p.constLabels, true)), string(renderLabels(nil, other)); got != want {
			t.Errorf("appendCanon(other) = %s, slow path renders %s", got, want)
		}
	})
}

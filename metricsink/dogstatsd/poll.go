package dogstatsd

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"

	"github.com/realtimeserver/observability/metricsink"
)

// poller reads GaugeFunc and CounterFunc functions on an interval, from one
// goroutine started with the first registration.
type poller struct {
	mu      sync.Mutex
	funcs   []*polled
	nextID  uint64
	started bool
	stopped bool
	quit    chan struct{}
	done    chan struct{}

	collectMu sync.Mutex // one collection at a time: counters keep state
}

type polled struct {
	id      uint64
	counter bool
	name    string
	series  *series
	f       func() float64
	busy    atomic.Bool // a read is in flight
	sent    int64       // counters: the integer total sent so far; under collectMu
}

// GaugeFunc registers f, read every Options.PollInterval and once more by
// Close, as the gauge name. The returned function unregisters it and may be
// called any number of times. An invalid name or tags are counted once and
// give a no-op.
func (s *Sink) GaugeFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(false, name, &tags, f)
}

// CounterFunc registers f, which returns a cumulative total, read every
// Options.PollInterval and once more by Close: each read sends the integer
// part of the increase since the previous read as a count (the whole first
// reading, and the whole reading after f went backwards). Fractions are
// carried to later reads, so a total of seconds loses nothing over time.
func (s *Sink) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(true, name, &tags, f)
}

func (s *Sink) register(counter bool, name string, tags *metricsink.Tags, f func() float64) func() {
	noop := func() {}
	if f == nil {
		s.drop(drop.InvalidValue, name)
		return noop
	}
	o := opGauge
	if counter {
		o = opCount
	}
	sr := s.lookup(o, name, tags)
	if sr == nil {
		return noop
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		s.drop(drop.Closed, name)
		return noop
	}
	p := &s.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	id := p.nextID
	p.funcs = append(p.funcs, &polled{id: id, counter: counter, name: name, series: sr, f: f})
	if !p.started {
		p.started = true
		p.quit = make(chan struct{})
		p.done = make(chan struct{})
		go s.pollLoop(p.quit, p.done)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			for i, q := range p.funcs {
				if q.id == id {
					p.funcs = append(p.funcs[:i:i], p.funcs[i+1:]...)
					break
				}
			}
		})
	}
}

func (s *Sink) pollLoop(quit, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.pollInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.collect()
		case <-quit:
			return
		}
	}
}

// stop ends the poller's goroutine, if any, and waits for it.
func (p *poller) stop() {
	p.mu.Lock()
	started, quit, done := p.started && !p.stopped, p.quit, p.done
	p.stopped = true
	p.mu.Unlock()
	if started {
		close(quit)
		<-done
	}
}

// collect reads every registered function once, without any lock held,
// each in a goroutine, waiting at most the callback timeout in all, and
// sends the results. A function still running from an earlier collection
// is not called again; it and one that misses the timeout are counted
// (reason timeout), one that panics too (reason panic).
func (s *Sink) collect() {
	p := &s.poll
	p.mu.Lock()
	funcs := append([]*polled(nil), p.funcs...)
	p.mu.Unlock()
	if len(funcs) == 0 {
		return
	}
	type result struct {
		q  *polled
		v  float64
		ok bool
	}
	ch := make(chan result, len(funcs)) // never blocks a late function
	started := 0
	for _, q := range funcs {
		if !q.busy.CompareAndSwap(false, true) {
			s.drop(drop.Timeout, q.name)
			continue
		}
		started++
		go func() {
			v, ok := read(q.f)
			q.busy.Store(false)
			ch <- result{q, v, ok}
		}()
	}
	results := make([]result, 0, started)
	timer := time.NewTimer(s.cbWait)
	defer timer.Stop()
wait:
	for range started {
		select {
		case r := <-ch:
			results = append(results, r)
		case <-timer.C:
			for range started - len(results) {
				s.drop(drop.Timeout, "")
			}
			break wait
		}
	}
	p.collectMu.Lock()
	defer p.collectMu.Unlock()
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed.Load() {
		return // Close has read them one last time
	}
	for _, r := range results {
		q, v := r.q, r.v
		if !r.ok {
			s.drop(drop.Panic, q.name)
			continue
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			s.drop(drop.InvalidValue, q.name)
			continue
		}
		if !q.counter {
			s.sent(s.client.Gauge(q.series.name, v, q.series.tags, 1))
			continue
		}
		if v < 0 || v > 1<<62 {
			s.drop(drop.InvalidValue, q.name)
			continue
		}
		total := int64(v)
		if total < q.sent { // went backwards: a reset
			q.sent = 0
		}
		if d := total - q.sent; d > 0 {
			q.sent = total
			s.sent(s.client.Count(q.series.name, d, q.series.tags, 1))
		}
	}
}

// read calls f, turning a panic into ok == false.
func read(f func() float64) (v float64, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f(), true
}

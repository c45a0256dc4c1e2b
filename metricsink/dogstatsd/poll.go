package dogstatsd

import (
	"math"
	"sync"
	"time"

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
	sent    int64 // counters: the integer total sent so far
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
		s.drop(reasonValue, name)
		return noop
	}
	sr := s.lookup(name, tags)
	if sr == nil {
		return noop
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		s.drop(reasonClosed, name)
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

// collect reads every registered function once and sends the results.
func (s *Sink) collect() {
	p := &s.poll
	p.collectMu.Lock()
	defer p.collectMu.Unlock()
	p.mu.Lock()
	funcs := append([]*polled(nil), p.funcs...)
	p.mu.Unlock()
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed.Load() {
		return // Close has read them one last time
	}
	for _, q := range funcs {
		v, ok := read(q.f)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			s.drop(reasonValue, q.name)
			continue
		}
		if !q.counter {
			s.sent(s.client.Gauge(q.series.name, v, q.series.tags, 1))
			continue
		}
		if v < 0 || v > 1<<62 {
			s.drop(reasonValue, q.name)
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

package dogstatsd

import (
	"math"
	"sync"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// poller reads the GaugeFunc and CounterFunc functions (metricsink.Funcs)
// on an interval, from one goroutine started with the first registration.
type poller struct {
	mu      sync.Mutex
	started bool
	stopped bool
	quit    chan struct{}
	done    chan struct{}

	collectMu sync.Mutex // one collection at a time: counters keep state
}

// polled is what the Sink keeps of one registered function.
type polled struct {
	counter bool
	series  *series
	sent    int64 // counters: the integer total sent so far; under collectMu
}

// GaugeFunc registers f, read every Options.PollInterval and once more by
// Close, as the gauge name. The returned function unregisters it: once it
// returns, nothing more of f is read or sent (it waits for a read in
// flight, at most Options.CallbackTimeout). It may be called any number
// of times. An invalid name or tags are counted once and give a no-op.
func (s *Sink) GaugeFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(opGauge, name, &tags, f)
}

// CounterFunc registers f, which returns a cumulative total, read every
// Options.PollInterval and once more by Close: each read sends the integer
// part of the increase since the previous read as a count (the whole first
// reading, and the whole reading after f went backwards, as after a
// reset). Fractions are carried to later reads, so a total of seconds
// loses nothing over time.
func (s *Sink) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(opCount, name, &tags, f)
}

func (s *Sink) register(o op, name string, tags *metricsink.Tags, f func() float64) func() {
	noop := func() {}
	if f == nil {
		s.drops.Drop(drop.InvalidValue, o.Kind(), name, "nil callback")
		return noop
	}
	sr := s.find(o, name, tags)
	if sr == nil {
		return noop
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		s.drops.Drop(drop.Closed, o.Kind(), name, "the sink is closed")
		return noop
	}
	_, undo := s.funcs.Add(name, o.Kind(), f, &polled{counter: o == opCount, series: sr})
	unregister := func() {
		undo()
		// A collection in flight leaves f out (Func.Gone); wait for it,
		// so that nothing of f is sent once this returns.
		s.poll.collectMu.Lock()
		s.poll.collectMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
	}
	p := &s.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.started = true
		p.quit = make(chan struct{})
		p.done = make(chan struct{})
		go s.pollLoop(p.quit, p.done)
	}
	return unregister
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

// collect reads every registered function once (metricsink.Funcs: each in
// a goroutine, without any lock held, waiting at most the callback timeout
// in all) and sends the results: a gauge its value, a counter the increase
// since the previous read.
func (s *Sink) collect() {
	readings := s.funcs.Read()
	p := &s.poll
	p.collectMu.Lock()
	defer p.collectMu.Unlock()
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed.Load() {
		return // Close has read them one last time
	}
	for _, r := range readings {
		if !r.OK || r.F.Gone() {
			continue // panicked (counted), or unregistered meanwhile
		}
		q, v := r.F.Data.(*polled), r.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			s.drops.Drop(drop.InvalidValue, r.F.Kind, r.F.Name, "DogStatsD carries finite values only")
			continue
		}
		if !q.counter {
			s.sent(s.client.Gauge(q.series.name, v, q.series.tags, 1))
			continue
		}
		if v > 1<<62 {
			s.drops.Drop(drop.InvalidValue, r.F.Kind, r.F.Name, "a CounterFunc total past 2^62")
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

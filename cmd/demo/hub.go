package main

import (
	"sync"
	"sync/atomic"
)

// subscriber is one connected socket's outbox. The hub never blocks on it:
// a subscriber whose outbox is full is dropped (its socket is closed by the
// writer loop when it sees done closed).
type subscriber struct {
	out  chan []byte
	done chan struct{}
	once sync.Once
	slow atomic.Bool // stopped because the outbox was full
}

func newSubscriber(size int) *subscriber {
	return &subscriber{out: make(chan []byte, size), done: make(chan struct{})}
}

func (s *subscriber) stop() { s.once.Do(func() { close(s.done) }) }

// Hub fans events out to the subscribers of each channel ("video:42").
type Hub struct {
	mu     sync.Mutex
	closed bool // after CloseAll, Subscribe refuses
	topics map[string]map[*subscriber]struct{}
	online atomic.Int64
	// slow counts subscribers dropped because their outbox was full.
	slow atomic.Int64
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{topics: make(map[string]map[*subscriber]struct{})}
}

// Subscribe adds s to channel. It reports false, adding nothing, once
// CloseAll has run.
func (h *Hub) Subscribe(channel string, s *subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	m := h.topics[channel]
	if m == nil {
		m = make(map[*subscriber]struct{})
		h.topics[channel] = m
	}
	m[s] = struct{}{}
	h.online.Add(1)
	return true
}

// Unsubscribe removes s from channel; removing it twice is harmless.
func (h *Hub) Unsubscribe(channel string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.topics[channel]
	if _, ok := m[s]; !ok {
		return
	}
	delete(m, s)
	if len(m) == 0 {
		delete(h.topics, channel)
	}
	h.online.Add(-1)
}

// Broadcast queues msg for every subscriber of channel without waiting on any.
func (h *Hub) Broadcast(channel string, msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.topics[channel] {
		select {
		case s.out <- msg:
		default:
			h.slow.Add(1)
			s.slow.Store(true)
			s.stop()
		}
	}
}

// CloseAll tells every subscriber to go away, and refuses new ones, for
// shutdown.
func (h *Hub) CloseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range h.topics {
		for s := range m {
			s.stop()
		}
	}
}

// Online is the number of connected sockets.
func (h *Hub) Online() int64 { return h.online.Load() }

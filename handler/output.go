package handler

import (
	"io"
	"sync"
)

// output is the writer shared by a handler and its clones, and the lock
// that makes each record one Write. Console and JSON write through it.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

// line is the pooled state of one record being written: its bytes, the
// open groups (for ReplaceAttr), and JSON's cached text of the last second
// it formatted.
type line struct {
	b      []byte
	groups []string
	timeCache
}

// maxPooled is the largest buffer returned to the pool.
const maxPooled = 64 << 10

var linePool = sync.Pool{New: func() any { return &line{b: make([]byte, 0, 1024)} }}

func getLine() *line { return linePool.Get().(*line) }

// write writes b, the line built in l, with one Write under the lock, and
// gives l back to the pool with the memory of b and groups, unless b grew
// past maxPooled.
func (o *output) write(l *line, b []byte, groups []string) error {
	o.mu.Lock()
	_, err := o.w.Write(b)
	o.mu.Unlock()
	if cap(b) <= maxPooled {
		l.b = b
		if groups != nil {
			clear(groups)
			l.groups = groups[:0]
		}
		linePool.Put(l)
	}
	return err
}

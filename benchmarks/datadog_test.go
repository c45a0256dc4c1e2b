package benchmarks

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/handler/datadog"
)

func init() {
	logCases = append(logCases, logCase{"datadog", benchLogDatadog})
}

// ddIntake is a local stand-in for Datadog's HTTP logs intake: it
// un-gzips every body, as the real one does, and answers 202.
type ddIntake struct {
	*httptest.Server
	requests atomic.Int64
	bytes    atomic.Int64 // uncompressed
}

var gzipReaders sync.Pool

func newDDIntake(b *testing.B) *ddIntake {
	in := &ddIntake{}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r.Body)
		} else {
			err = zr.Reset(r.Body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := io.Copy(io.Discard, zr)
		gzipReaders.Put(zr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in.requests.Add(1)
		in.bytes.Add(n)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(in.Close)
	return in
}

func newDatadog(b *testing.B, in *ddIntake) *datadog.Handler {
	h, err := datadog.New(&datadog.Options{
		APIKey:   "benchmark-key",
		URL:      in.URL + "/api/v2/logs",
		Service:  benchOptions.Service,
		Env:      benchOptions.Environment,
		Version:  benchOptions.Version,
		Hostname: benchOptions.Host,
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// closeDatadog delivers what is queued and stops h.
func closeDatadog(b *testing.B, h *datadog.Handler) datadog.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return h.Stats()
}

// benchLogDatadog is the datadog row of BenchmarkLog: the same record as
// slog-json, shipped to a local intake. The time per op is what the caller
// pays (encode and enqueue); the sender gzips and posts on its own
// goroutine. dropped/op reports the share of records that found the queue
// full because the loop logged faster than one sender ships.
func benchLogDatadog(b *testing.B) {
	in := newDDIntake(b)
	h := newDatadog(b, in)
	logger, ctx := slog.New(h), context.Background()
	b.ReportAllocs()
	for b.Loop() {
		logger.Log(ctx, slog.LevelInfo, "message", "a", 1, "b", 2, "c", "three")
	}
	s := closeDatadog(b, h)
	b.ReportMetric(float64(s.Dropped.Total())/float64(s.Enqueued), "dropped/op")
}

// BenchmarkDatadogShip measures delivery end to end: records logged,
// encoded, batched, gzipped, posted and un-gzipped by a local intake,
// in records per second of wall time until the last one is acknowledged.
// The loop waits when the queue nears its bound, so that nothing is
// dropped and the figure is the sustained rate. baseline-sync is the
// naive design beside it: slog's JSON handler into a buffer, and every
// 1,000 records a gzip and a POST on the caller's goroutine.
func BenchmarkDatadogShip(b *testing.B) {
	b.Run("datadog", func(b *testing.B) {
		in := newDDIntake(b)
		h := newDatadog(b, in)
		logger := slog.New(h)
		b.ReportAllocs()
		start := time.Now()
		for i := range b.N {
			logger.Info("message", "a", 1, "b", 2, "c", "three")
			if i%1000 == 999 {
				for h.Stats().QueueLength > datadog.DefaultQueueRecords-2000 {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		s := closeDatadog(b, h)
		if s.Sent != uint64(b.N) {
			b.Fatalf("sent %d of %d records: %+v", s.Sent, b.N, s)
		}
		b.ReportMetric(float64(s.Sent)/elapsed.Seconds(), "records/s")
	})
	b.Run("baseline-sync", func(b *testing.B) {
		in := newDDIntake(b)
		var body, zbody bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zbody, gzip.BestSpeed)
		client := &http.Client{}
		defer client.CloseIdleConnections()
		url := in.URL + "/api/v2/logs"
		post := func() {
			body.WriteByte(']')
			zbody.Reset()
			zw.Reset(&zbody)
			zw.Write(body.Bytes())
			zw.Close()
			resp, err := client.Post(url, "application/json", bytes.NewReader(zbody.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			body.Reset()
		}
		// Each JSON line ends in a newline; a comma before it makes the array.
		logger := slog.New(slog.NewJSONHandler(&commaWriter{&body}, nil))
		b.ReportAllocs()
		start := time.Now()
		n := 0
		for range b.N {
			logger.Info("message", "a", 1, "b", 2, "c", "three")
			if n++; n == 1000 {
				post()
				n = 0
			}
		}
		if n > 0 {
			post()
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	})
}

// commaWriter writes each JSON line into a JSON array being built.
type commaWriter struct{ b *bytes.Buffer }

func (w *commaWriter) Write(p []byte) (int, error) {
	if w.b.Len() == 0 {
		w.b.WriteByte('[')
	} else {
		w.b.WriteByte(',')
	}
	w.b.Write(p)
	return len(p), nil
}

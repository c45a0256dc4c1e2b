package datadog_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/realtimeserver/observability/handler/datadog"
)

// Example ships records to a local stand-in for Datadog's intake, which
// prints what it receives (less the timestamp, which changes).
func Example() {
	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, _ := gzip.NewReader(r.Body)
		var entries []map[string]any
		json.NewDecoder(zr).Decode(&entries)
		for _, e := range entries {
			delete(e, "timestamp")
			b, _ := json.Marshal(e) // sorted keys
			fmt.Println(string(b))
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer intake.Close()

	h, err := datadog.New(&datadog.Options{
		APIKey:   "not-a-real-key", // usually os.Getenv("DATADOG_API_KEY")
		URL:      intake.URL + "/api/v2/logs",
		Service:  "comments",
		Env:      "production",
		Version:  "1.4.0",
		Hostname: "web-1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := slog.New(h)
	logger.Info("comment created", "video_id", 42, slog.Group("user", "id", 7))
	logger.Error("save failed", "err", errors.New("disk full"), "trace_id", "1234")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		fmt.Println(err)
	}
	s := h.Stats()
	fmt.Printf("enqueued %d, sent %d, dropped %d, queued %d\n", s.Enqueued, s.Sent, s.Dropped.Total(), s.QueueLength)
	// Output:
	// {"ddsource":"go","ddtags":"env:production,version:1.4.0","hostname":"web-1","message":"comment created","service":"comments","status":"info","user":{"id":7},"video_id":42}
	// {"dd":{"trace_id":"1234"},"ddsource":"go","ddtags":"env:production,version:1.4.0","error":{"kind":"*errors.errorString","message":"disk full"},"hostname":"web-1","message":"save failed","service":"comments","status":"error"}
	// enqueued 2, sent 2, dropped 0, queued 0
}

// ExampleNew shows the error for a missing API key: it names the
// environment variable and the option.
func ExampleNew() {
	_, err := datadog.New(&datadog.Options{Site: "datadoghq.eu"})
	fmt.Println(err)
	_, err = datadog.New(&datadog.Options{APIKey: "k", Site: "datadoghq.org"})
	fmt.Println(err)
	// Output:
	// datadog: DATADOG_API_KEY (Options.APIKey) is empty: set it to a Datadog API key
	// datadog: invalid Options.Site "datadoghq.org": accepted one of datadoghq.com, datadoghq.eu, us3.datadoghq.com, us5.datadoghq.com, ap1.datadoghq.com, ddog-gov.com
}

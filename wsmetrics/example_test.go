package wsmetrics_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/wsmetrics"
)

// printSink prints the samples it receives (durations without their value,
// which varies).
type printSink struct{}

func (printSink) Increment(name string, v float64, tags metricsink.Tags) {
	fmt.Println("increment", name, v, format(tags))
}
func (printSink) Gauge(name string, v float64, tags metricsink.Tags) {
	fmt.Println("gauge", name, v, format(tags))
}
func (printSink) Histogram(string, float64, metricsink.Tags) {}
func (printSink) Duration(name string, _ time.Duration, tags metricsink.Tags) {
	fmt.Println("duration", name, format(tags))
}

func format(tags metricsink.Tags) string {
	var s []string
	for k, v := range tags.All() {
		s = append(s, k+"="+v)
	}
	return strings.Join(s, ",")
}

func ExampleTracker() {
	tracker := wsmetrics.NewTracker(printSink{}, nil)

	c := tracker.Open("video:42")
	c.MessageData(wsmetrics.In, false, []byte(`{"event":"new_comment","payload":{"body":"hi"}}`))
	c.MessageData(wsmetrics.Out, false, []byte(`not json`))
	c.Close()
	c.Close() // idempotent
	// Output:
	// gauge websocket.connections 1 channel=video
	// increment websocket.messages 1 channel=video,event=new_comment,direction=in
	// increment websocket.message.bytes 47 channel=video,direction=in
	// increment websocket.messages 1 channel=video,event=unknown,direction=out
	// increment websocket.message.bytes 8 channel=video,direction=out
	// gauge websocket.connections 0 channel=video
	// duration websocket.connection.duration channel=video
}

func ExampleOptions() {
	tracker := wsmetrics.NewTracker(printSink{}, &wsmetrics.Options{
		// Phoenix-style topics "room:lobby:3" are labelled "room:lobby".
		ChannelFunc: func(topic string) string {
			if i := strings.LastIndexByte(topic, ':'); i > 0 {
				return topic[:i]
			}
			return topic
		},
		Events: []string{"phx_join", "new_msg"},
	})
	c := tracker.Open("room:lobby:3")
	defer c.Close()
	c.Message(wsmetrics.In, "phx_join", 0)
	c.Message(wsmetrics.In, "drop_tables", 0)
	// Output:
	// gauge websocket.connections 1 channel=room:lobby
	// increment websocket.messages 1 channel=room:lobby,event=phx_join,direction=in
	// increment websocket.messages 1 channel=room:lobby,event=other,direction=in
	// gauge websocket.connections 0 channel=room:lobby
	// duration websocket.connection.duration channel=room:lobby
}

func ExampleAccept() {
	tracker := wsmetrics.NewTracker(metricsink.Discard, nil)
	http.HandleFunc("GET /socket/{topic}", func(w http.ResponseWriter, r *http.Request) {
		wc, err := wsmetrics.Accept(w, r, nil, tracker, r.PathValue("topic"))
		if err != nil {
			return
		}
		defer wc.CloseNow()
		for {
			typ, msg, err := wc.Read(r.Context())
			if err != nil {
				return
			}
			if err := wc.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
}

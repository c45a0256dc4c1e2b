package metricsinktest_test

import (
	"fmt"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// createComment stands for code under test that records through a Sink.
func createComment(sink metricsink.Sink, channel string) {
	sink.Increment("comments.created", 1, metricsink.KV("channel", channel))
}

func Example() {
	rec := metricsinktest.New()
	createComment(rec, "video")
	createComment(rec, "video")
	createComment(rec, "live")

	fmt.Println(rec.Count("comments.created"))
	fmt.Println(rec.Sum("comments.created", "channel", "video"))
	fmt.Println(rec.Samples("comments.created", "channel", "live")[0].Tags)
	// Output:
	// 3
	// 2
	// map[channel:live]
}

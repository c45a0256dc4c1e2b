package metricsink_test

import (
	"fmt"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
)

// KV gives the same Tags value, unused slots included, as the same tags
// added one by one with With, for every count it accepts; and the same
// invalid Tags, with nothing in them, for the counts it refuses.
func TestKVEqualsWith(t *testing.T) {
	for n := 0; n <= metricsink.MaxTags; n++ {
		var kv []string
		var want metricsink.Tags
		for i := range n {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
			kv = append(kv, k, v)
			want = want.With(k, v)
		}
		if got := metricsink.KV(kv...); got != want {
			t.Errorf("KV of %d pairs = %+v, want %+v", n, got, want)
		}
	}
	refused := []struct {
		kv   []string
		want error
	}{
		{[]string{"a"}, metricsink.ErrOddTags},
		{[]string{"a", "b", "c"}, metricsink.ErrOddTags},
		{make([]string, 2*metricsink.MaxTags+2), metricsink.ErrTooManyTags},
		{make([]string, 2*metricsink.MaxTags+1), metricsink.ErrOddTags},
	}
	for _, r := range refused {
		got := metricsink.KV(r.kv...)
		if got.Err() != r.want || got.Len() != 0 {
			t.Errorf("KV of %d strings: Err %v, Len %d; want %v, 0", len(r.kv), got.Err(), got.Len(), r.want)
		}
		if list, err := metricsink.View(&got); list != nil || err != r.want {
			t.Errorf("View(KV of %d strings) = %v, %v; want nil, %v", len(r.kv), list, err, r.want)
		}
	}
}

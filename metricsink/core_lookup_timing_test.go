package metricsink

import "testing"

// BenchmarkLookupGet finds a known key of a name and two tags.
func BenchmarkLookupGet(b *testing.B) {
	l := NewLookup[*int](1000, 1024)
	tags := KV("route", "/videos/{id}/comments", "method", "POST")
	list, _ := View(&tags)
	v := 1
	l.Put(OpIncrement, "http.requests", list, &v)
	for i := range 100 {
		other := KV("route", "/r"+string(rune('a'+i%26))+string(rune('a'+i/26)), "method", "GET")
		ol, _ := View(&other)
		l.Put(OpIncrement, "http.requests", ol, &v)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := l.Get(OpIncrement, "http.requests", list); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkLookupIndex(b *testing.B) {
	tags := KV("route", "/videos/{id}/comments", "method", "POST")
	list, _ := View(&tags)
	var s uint64
	for b.Loop() {
		s += lookupIndex(OpIncrement, "http.requests", list)
	}
	_ = s
}

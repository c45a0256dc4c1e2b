package metricsink

import (
	"errors"
	"iter"
)

// MaxTags is the most tags one Tags value holds. Metrics with more labels
// than this are rarely a good idea; a KV or With call given more gives Tags
// whose Err reports it, and sinks drop and count their samples.
const MaxTags = 8

// Tag is one metric label: a key and its value.
type Tag struct {
	Key, Value string
}

// Tags is a small, fixed-capacity list of tags. It is a value type so that
// passing it through the Sink interface never allocates; the zero Tags is
// the empty list. Every method has a value receiver and none changes t.
type Tags struct {
	n    uint8
	err  uint8 // 0, errOdd or errTooMany
	tags [MaxTags]Tag
}

const (
	errNone uint8 = iota
	errOdd
	errTooMany
)

// ErrOddTags and ErrTooManyTags are what Tags.Err reports for Tags built
// from an odd number of strings, or with more than MaxTags tags.
var (
	ErrOddTags     = errors.New("metricsink: tags built from an odd number of strings; want key, value pairs")
	ErrTooManyTags = errors.New("metricsink: more than MaxTags (8) tags")
)

// KV builds Tags from alternating keys and values:
//
//	sink.Increment("comments.created", 1, metricsink.KV("region", region))
//
// An odd number of strings, or more than 2*MaxTags of them, gives Tags
// whose Err is not nil; sinks drop such samples and count them
// (reason invalid_tags), and metricsinktest.NewStrict fails the test.
func KV(kv ...string) (t Tags) {
	switch {
	case len(kv)%2 != 0:
		t.err = errOdd
	case len(kv) > 2*MaxTags:
		t.err = errTooMany
	default:
		// One store per tag and one of the count: KV is inlined into
		// every call site, in front of each sample.
		for i := 0; i+1 < len(kv) && i < 2*MaxTags; i += 2 {
			t.tags[i/2] = Tag{Key: kv[i], Value: kv[i+1]}
		}
		t.n = uint8(len(kv) / 2)
	}
	return t
}

// With returns a copy of t with one more tag. Past MaxTags the copy's Err
// reports it. t itself is never changed.
func (t Tags) With(key, value string) Tags {
	if int(t.n) >= MaxTags {
		if t.err == errNone {
			t.err = errTooMany
		}
		return t
	}
	t.tags[t.n] = Tag{Key: key, Value: value}
	t.n++
	return t
}

// Len reports the number of tags.
func (t Tags) Len() int { return int(t.n) }

// At returns the i'th tag, 0 <= i < Len(); it panics for another i, as a
// slice index would.
func (t Tags) At(i int) Tag { return t.tags[:t.n][i] }

// Valid reports whether Err is nil.
func (t Tags) Valid() bool { return t.err == errNone }

// Err reports how t was misbuilt: ErrOddTags, ErrTooManyTags, or nil.
func (t Tags) Err() error { return errOf(t.err) }

// errOf is Err for the err field alone, so that View need not copy Tags.
func errOf(e uint8) error {
	switch e {
	case errOdd:
		return ErrOddTags
	case errTooMany:
		return ErrTooManyTags
	}
	return nil
}

// All iterates over the tags in the order they were given:
//
//	for key, value := range tags.All() { ... }
func (t Tags) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := 0; i < int(t.n); i++ {
			if !yield(t.tags[i].Key, t.tags[i].Value) {
				return
			}
		}
	}
}

// AppendTo appends the tags to dst and returns the extended slice.
func (t Tags) AppendTo(dst []Tag) []Tag { return append(dst, t.tags[:t.n]...) }

// View returns the tags *t holds, as a slice aliasing *t, and t.Err(),
// without copying t: for a backend's hot path, where each method call on
// a Tags value copies its MaxTags pairs. The slice must not be changed,
// nor kept beyond the call that received t.
func View(t *Tags) ([]Tag, error) {
	if t.err != errNone {
		return nil, errOf(t.err)
	}
	return t.tags[:t.n:t.n], nil
}

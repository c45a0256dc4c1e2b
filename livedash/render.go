package livedash

import (
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendValue renders v as text for the Logs page into dst, in at most
// budget bytes (plus a closing "…" when cut), and reports whether it cut.
// It never panics: a String, Error or MarshalText method that panics is
// rendered as a placeholder. Nested values (structs, maps, slices) are
// walked to depth 4 with a visited set, so cycles end.
func appendValue(dst []byte, v slog.Value, budget int) ([]byte, bool) {
	switch v.Kind() {
	case slog.KindString:
		return appendText(dst, v.String(), budget)
	case slog.KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10), false
	case slog.KindUint64:
		return strconv.AppendUint(dst, v.Uint64(), 10), false
	case slog.KindFloat64:
		return strconv.AppendFloat(dst, v.Float64(), 'g', -1, 64), false
	case slog.KindBool:
		return strconv.AppendBool(dst, v.Bool()), false
	case slog.KindDuration:
		return append(dst, v.Duration().String()...), false
	case slog.KindTime:
		return v.Time().AppendFormat(dst, time.RFC3339Nano), false
	}
	r := valueRenderer{dst: dst, limit: len(dst) + budget}
	r.any(v.Any(), 0)
	return r.finish()
}

// appendText appends s, invalid UTF-8 replaced, cut to budget bytes.
func appendText(dst []byte, s string, budget int) ([]byte, bool) {
	r := valueRenderer{dst: dst, limit: len(dst) + budget}
	r.str(s)
	return r.finish()
}

const maxRenderDepth = 4

type valueRenderer struct {
	dst     []byte
	limit   int
	cut     bool
	visited map[uintptr]bool
}

func (r *valueRenderer) finish() ([]byte, bool) {
	if r.cut {
		r.dst = append(r.dst, "…"...)
	}
	return r.dst, r.cut
}

func (r *valueRenderer) full() bool {
	if len(r.dst) >= r.limit {
		r.cut = true
	}
	return r.cut
}

// str appends s up to the limit, on a rune boundary, replacing invalid
// UTF-8 with U+FFFD.
func (r *valueRenderer) str(s string) {
	if len(s) <= r.limit-len(r.dst) && utf8.ValidString(s) {
		r.dst = append(r.dst, s...)
		return
	}
	for i := 0; i < len(s); {
		if r.full() {
			return
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		out := s[i : i+size]
		if c == utf8.RuneError && size == 1 {
			out = "\uFFFD"
		}
		if len(r.dst)+len(out) > r.limit {
			r.cut = true
			return
		}
		r.dst = append(r.dst, out...)
		i += size
	}
}

// call runs a user method, turning a panic into a placeholder.
func (r *valueRenderer) call(f func() string) {
	var s string
	func() {
		defer func() {
			if p := recover(); p != nil {
				s = "!PANIC: " + fmt.Sprint(reflect.TypeOf(p))
			}
		}()
		s = f()
	}()
	r.str(s)
}

func (r *valueRenderer) any(x any, depth int) {
	if r.full() {
		return
	}
	switch t := x.(type) {
	case nil:
		r.str("<nil>")
		return
	case string:
		r.str(t)
		return
	case []byte:
		r.str(string(t))
		return
	case error:
		if isNilPointer(x) {
			r.str("<nil>")
			return
		}
		r.call(t.Error)
		return
	case fmt.Stringer:
		if isNilPointer(x) {
			r.str("<nil>")
			return
		}
		r.call(t.String)
		return
	case slog.Value:
		if t.Kind() != slog.KindAny && t.Kind() != slog.KindGroup && t.Kind() != slog.KindLogValuer {
			r.dst, _ = appendValue(r.dst, t, r.limit-len(r.dst))
			return
		}
	}
	r.reflect(reflect.ValueOf(x), depth)
}

func isNilPointer(x any) bool {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return v.IsNil()
	}
	return false
}

func (r *valueRenderer) reflect(v reflect.Value, depth int) {
	if r.full() {
		return
	}
	if !v.IsValid() {
		r.str("<nil>")
		return
	}
	if depth > 0 && v.CanInterface() {
		switch v.Kind() {
		case reflect.Interface:
		default:
			if _, ok := v.Interface().(fmt.Stringer); ok {
				r.any(v.Interface(), depth)
				return
			}
			if _, ok := v.Interface().(error); ok {
				r.any(v.Interface(), depth)
				return
			}
		}
	}
	switch v.Kind() {
	case reflect.Bool:
		r.dst = strconv.AppendBool(r.dst, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		r.dst = strconv.AppendInt(r.dst, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		r.dst = strconv.AppendUint(r.dst, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		r.dst = strconv.AppendFloat(r.dst, v.Float(), 'g', -1, 64)
	case reflect.Complex64, reflect.Complex128:
		r.dst = strconv.AppendQuote(r.dst, fmt.Sprint(v.Complex()))
	case reflect.String:
		r.str(v.String())
	case reflect.Interface:
		if v.IsNil() {
			r.str("<nil>")
			return
		}
		r.reflect(v.Elem(), depth)
	case reflect.Pointer:
		if v.IsNil() {
			r.str("<nil>")
			return
		}
		if !r.enter(v.Pointer()) {
			return
		}
		r.str("&")
		r.reflect(v.Elem(), depth)
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
		if depth >= maxRenderDepth {
			r.str("…")
			return
		}
		if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && !v.IsNil() && !r.enter(v.Pointer()) {
			return
		}
		r.composite(v, depth)
	default: // chan, func, unsafe pointer
		r.str(v.Type().String())
	}
}

// enter records p as visited and reports whether it was not already.
func (r *valueRenderer) enter(p uintptr) bool {
	if r.visited == nil {
		r.visited = make(map[uintptr]bool)
	}
	if r.visited[p] {
		r.str("<cycle>")
		return false
	}
	r.visited[p] = true
	return true
}

func (r *valueRenderer) composite(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		r.str("{")
		t := v.Type()
		for i := range v.NumField() {
			if r.full() {
				return
			}
			if i > 0 {
				r.str(" ")
			}
			r.str(t.Field(i).Name)
			r.str(":")
			r.reflect(v.Field(i), depth+1)
		}
		r.str("}")
	case reflect.Map:
		r.str("map[")
		it := v.MapRange()
		for i := 0; it.Next(); i++ {
			if r.full() {
				return
			}
			if i > 0 {
				r.str(" ")
			}
			r.reflect(it.Key(), depth+1)
			r.str(":")
			r.reflect(it.Value(), depth+1)
		}
		r.str("]")
	default:
		r.str("[")
		for i := range v.Len() {
			if r.full() {
				return
			}
			if i > 0 {
				r.str(" ")
			}
			r.reflect(v.Index(i), depth+1)
		}
		r.str("]")
	}
}

package budget

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// needsValue reports whether x, the value of a KindAny attribute at
// depth, must be rewritten before a handler writes it, and counts it in c
// when not. It never allocates and calls no method of x but Error.
//
// For every Limiter: a LogValuer, and a string (of any named type) longer
// than MaxValueBytes. For a Limiter of New: composites other than slices
// and arrays of plain values, values with methods that run user code
// (but an error whose Error method returns a short text: what the walk
// keeps), NaN and infinities, channels, functions and complex numbers.
// For a Limiter of NewEncodable: composites that do not fit; values with
// methods are the writer's.
func (l *Limiter) needsValue(x any, depth int, c *counter) bool {
	switch v := x.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		time.Time, time.Duration, *slog.Source:
		c.bytes += scalarBytes
		return false
	case string:
		c.bytes += len(v)
		return l.long(v)
	case slog.LogValuer:
		return true
	case error:
		if l.encodable {
			return false
		}
		if _, m := x.(json.Marshaler); m || isNil(x) {
			return true
		}
		s, ok := safeError(v)
		c.bytes += len(s)
		return !ok || len(s) > l.b.MaxValueBytes
	case json.Marshaler, encoding.TextMarshaler:
		return !l.encodable
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() == reflect.String {
		c.bytes += rv.Len()
		return l.long(rv.String())
	}
	return !l.fits(rv, depth, c)
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// marshals reports whether values of type t have a MarshalJSON or
// MarshalText method (on t or on *t).
func marshals(t reflect.Type) bool {
	if t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) {
		return true
	}
	if t.Kind() != reflect.Pointer {
		pt := reflect.PointerTo(t)
		return pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType)
	}
	return false
}

// fits reports whether rv, a value below an attribute at depth, may be
// written as it is within what is left of the budget, counting it in c.
// It stops as soon as rv does not fit, so a cycle or a huge map costs at
// most the budget, and it calls no method of rv.
//
// For a Limiter of NewEncodable, it checks rv as encoding/json would
// write it: depth, elements (each map entry, slice element and struct
// field counts as an attribute), string sizes and bytes, values with
// MarshalJSON or MarshalText methods being opaque. For a Limiter of New,
// only what the walk writes unchanged fits: slices and arrays of plain
// values (booleans, numbers, finite floats, short strings, times, and
// slices of them again).
func (l *Limiter) fits(rv reflect.Value, depth int, c *counter) bool {
	if !rv.IsValid() {
		return true
	}
	t := rv.Type()
	if t == timeType {
		c.bytes += scalarBytes
		return true
	}
	if marshals(t) {
		return l.encodable
	}
	switch rv.Kind() {
	case reflect.String:
		c.bytes += rv.Len()
		return !l.long(rv.String())
	case reflect.Interface:
		return rv.IsNil() || l.fits(rv.Elem(), depth, c)
	case reflect.Pointer:
		if rv.IsNil() {
			return l.encodable
		}
		return l.encodable && depth < l.b.MaxDepth && l.fits(rv.Elem(), depth+1, c)
	case reflect.Map:
		if !l.encodable {
			return false
		}
		if rv.IsNil() {
			return true
		}
		if depth >= l.b.MaxDepth {
			return false
		}
		for it := rv.MapRange(); it.Next(); {
			if !l.element(c) || !l.fits(it.Key(), depth+1, c) || !l.fits(it.Value(), depth+1, c) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return l.encodable
		}
		if t.Elem().Kind() == reflect.Uint8 {
			n := rv.Len()
			if l.encodable {
				n = n/3*4 + 4 // base64
			} else if rv.Kind() == reflect.Array || n > l.b.MaxValueBytes {
				return false
			}
			c.bytes += n
			break
		}
		if depth >= l.b.MaxDepth {
			return false
		}
		for i, n := 0, rv.Len(); i < n; i++ {
			if !l.element(c) {
				// Unless it is the walk's own count of what it left out.
				e := rv.Index(i)
				if e.Kind() == reflect.Interface {
					e = e.Elem()
				}
				return i == n-1 && e.Kind() == reflect.String && strings.HasPrefix(e.String(), Attrs+"=")
			}
			if !l.fits(rv.Index(i), depth+1, c) {
				return false
			}
		}
	case reflect.Struct:
		if !l.encodable || depth >= l.b.MaxDepth {
			return false
		}
		for i := range t.NumField() {
			if sf := t.Field(i); sf.IsExported() || sf.Anonymous {
				if !l.element(c) || !l.fits(rv.Field(i), depth+1, c) {
					return false
				}
			}
		}
	case reflect.Float32, reflect.Float64:
		if f := rv.Float(); !l.encodable && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return false
		}
		c.bytes += scalarBytes
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		// encoding/json refuses them, and the writer says so as slog does;
		// the walk writes the name of their type.
		return l.encodable
	default:
		c.bytes += scalarBytes
	}
	return true
}

// element counts one map entry, slice element or struct field, and
// reports false when the walk would leave it out.
func (l *Limiter) element(c *counter) bool {
	if l.spent(c) {
		return false
	}
	c.attrs++
	return true
}

// top sanitizes the value of a KindAny attribute. A map becomes a group
// of its entries sorted by key (recursively), an error that behaves stays
// an error, anything else the sanitized tree.
func (w *walker) top(x any, depth int, all bool) slog.Value {
	if err, ok := x.(error); ok && !isNil(x) {
		if _, isM := x.(json.Marshaler); !isM {
			s, ok := safeError(err)
			if ok && len(s) <= w.l.b.MaxValueBytes {
				w.bytes += len(s)
				return slog.AnyValue(err)
			}
			return slog.StringValue(w.str(s))
		}
	}
	return toValue(w.value(x, depth, all))
}

// toValue turns a sanitized tree into a slog.Value, maps into groups.
func toValue(x any) slog.Value {
	m, ok := x.(map[string]any)
	if !ok {
		return slog.AnyValue(x)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted, and the count of entries left out last, as in a group.
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case a == Attrs:
			return 1
		case b == Attrs:
			return -1
		}
		return cmp.Compare(a, b)
	})
	as := make([]slog.Attr, len(keys))
	for i, k := range keys {
		as[i] = slog.Attr{Key: k, Value: toValue(m[k])}
	}
	return slog.GroupValue(as...)
}

func isNil(x any) bool {
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return x == nil
}

// safeError returns err.Error(), or [Panic] and false when it panics.
func safeError(err error) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = Panic, false
		}
	}()
	return err.Error(), true
}

func safeMarshalJSON(m json.Marshaler) (b []byte, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			b, err, panicked = nil, nil, true
		}
	}()
	b, err = m.MarshalJSON()
	return b, err, false
}

func safeMarshalText(m encoding.TextMarshaler) (b []byte, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			b, err, panicked = nil, nil, true
		}
	}()
	b, err = m.MarshalText()
	return b, err, false
}

// value returns x as a sanitized tree; depth is x's own depth.
func (w *walker) value(x any, depth int, all bool) (out any) {
	defer func() {
		if recover() != nil {
			out = Panic
		}
	}()
	switch v := x.(type) {
	case nil:
		return nil
	case string:
		return w.str(v)
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		time.Time, time.Duration:
		w.bytes += 8
		return v
	case float64:
		return w.float(v)
	case float32:
		return w.float(float64(v))
	case json.Number:
		if len(v) > w.l.b.MaxValueBytes {
			return w.str(string(v)) // a cut number is no number
		}
		w.bytes += len(v)
		return v
	case json.RawMessage:
		if v == nil {
			return nil
		}
		return w.raw(v, depth, all)
	case []byte:
		if v == nil {
			return nil
		}
		return w.bytesOf(v)
	}
	if isNil(x) {
		return nil
	}
	switch v := x.(type) {
	case slog.LogValuer:
		r := Resolve(slog.AnyValue(v))
		if r.Kind() == slog.KindGroup {
			if depth >= w.l.b.MaxDepth {
				return Depth
			}
			return w.groupMap(r.Group(), depth+1, all)
		}
		return w.value(r.Any(), depth, all)
	case json.Marshaler:
		b, err, panicked := safeMarshalJSON(v)
		switch {
		case panicked:
			return Panic
		case err != nil:
			s, _ := safeError(err)
			return w.str("!ERROR: " + s)
		}
		return w.raw(b, depth, all)
	case error:
		s, _ := safeError(v)
		return w.str(s)
	case encoding.TextMarshaler:
		b, err, panicked := safeMarshalText(v)
		switch {
		case panicked:
			return Panic
		case err != nil:
			s, _ := safeError(err)
			return w.str("!ERROR: " + s)
		}
		return w.str(string(b))
	}
	if st, ok := x.(fmt.Stringer); ok && opaque(reflect.ValueOf(x)) {
		s, panicked := safeString(st)
		if panicked {
			return Panic
		}
		return w.str(s)
	}
	return w.reflect(reflect.ValueOf(x), depth, all)
}

// opaque reports whether rv is a struct, or a pointer to one, without
// exported fields: encoding/json would write {}, so its String method says
// more.
func opaque(rv reflect.Value) bool {
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return false
	}
	t := rv.Type()
	for i := range t.NumField() {
		if t.Field(i).IsExported() || t.Field(i).Anonymous {
			return false
		}
	}
	return true
}

func safeString(s fmt.Stringer) (out string, panicked bool) {
	defer func() {
		if recover() != nil {
			out, panicked = "", true
		}
	}()
	return s.String(), false
}

func (w *walker) float(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	w.bytes += 8
	return f
}

func (w *walker) bytesOf(b []byte) []byte {
	max := w.l.b.MaxValueBytes
	if len(b) <= max {
		w.bytes += len(b)
		return b
	}
	w.bytes += max
	out := make([]byte, 0, max+len(Truncated))
	return append(append(out, b[:max]...), Truncated...)
}

// raw decodes pre-encoded JSON and sanitizes it, so that its keys are
// searched like any others. JSON longer than MaxRecordBytes is not decoded
// and not written: it becomes [Truncated]. Invalid JSON becomes its text.
func (w *walker) raw(b []byte, depth int, all bool) any {
	if len(b) > w.l.b.MaxRecordBytes {
		return Truncated
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil || d.More() {
		return w.str(string(b))
	}
	return w.value(x, depth, all)
}

// enter pushes p on the path, or reports false when it is already there
// (a cycle).
func (w *walker) enter(p uintptr) bool {
	if slices.Contains(w.pathArr[:min(w.pathN, len(w.pathArr))], p) || slices.Contains(w.pathMore, p) {
		return false
	}
	if w.pathN < len(w.pathArr) {
		w.pathArr[w.pathN] = p
	} else {
		w.pathMore = append(w.pathMore, p)
	}
	w.pathN++
	return true
}

func (w *walker) leave() {
	w.pathN--
	if w.pathN >= len(w.pathArr) {
		w.pathMore = w.pathMore[:len(w.pathMore)-1]
	}
}

// reflect sanitizes what value's type switch did not recognise.
func (w *walker) reflect(rv reflect.Value, depth int, all bool) any {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.bytes += 8
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.bytes += 8
		return rv.Uint()
	case reflect.Float32, reflect.Float64:
		return w.float(rv.Float())
	case reflect.String:
		return w.str(rv.String())
	case reflect.Complex64, reflect.Complex128:
		return w.str(strconv.FormatComplex(rv.Complex(), 'g', -1, 128))
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Invalid:
		return w.str(rv.Type().String())
	}
	if depth >= w.l.b.MaxDepth {
		return Depth
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		if rv.Kind() == reflect.Pointer && rv.Type().Elem().Size() > 0 {
			if !w.enter(rv.Pointer()) {
				return Cycle
			}
			defer w.leave()
		}
		e := rv.Elem()
		if !e.CanInterface() {
			return nil
		}
		return w.value(e.Interface(), depth+1, all)
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		if !w.enter(rv.Pointer()) {
			return Cycle
		}
		defer w.leave()
		return w.mapOf(rv, depth, all)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice {
			if rv.IsNil() {
				return nil
			}
			if rv.Type().Elem().Kind() == reflect.Uint8 {
				return w.bytesOf(rv.Bytes())
			}
			if rv.Len() > 0 && rv.Type().Elem().Size() > 0 {
				if !w.enter(rv.Pointer()) {
					return Cycle
				}
				defer w.leave()
			}
		}
		n := rv.Len()
		out := make([]any, 0, min(n, w.l.b.MaxAttrs-w.attrs)+1)
		for i := range n {
			if w.full() {
				out = append(out, dropped(n-i))
				break
			}
			w.attrs++
			e := rv.Index(i)
			if !e.CanInterface() {
				out = append(out, nil)
				continue
			}
			out = append(out, w.value(e.Interface(), depth+1, all))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		w.fields(out, rv, depth, all, 0)
		return out
	}
	return w.str(rv.Type().String())
}

// mapOf sanitizes a map with keys as encoding/json writes them.
func (w *walker) mapOf(rv reflect.Value, depth int, all bool) any {
	out := make(map[string]any, min(rv.Len(), w.l.b.MaxAttrs-w.attrs+1))
	left := 0
	for it := rv.MapRange(); it.Next(); {
		if w.full() {
			left++
			continue
		}
		w.attrs++
		k := keyString(it.Key())
		sensitive := w.sensitive(k)
		k = w.str(k)
		v := it.Value()
		switch {
		case sensitive || (all && v.IsValid()):
			out[k] = w.redacted()
		case !v.CanInterface():
			out[k] = nil
		default:
			out[k] = w.value(v.Interface(), depth+1, all)
		}
	}
	if left > 0 {
		out[Attrs] = left
	}
	return out
}

func (w *walker) sensitive(k string) bool {
	return w.l.keys != nil && len(k) >= w.l.minKey && w.l.keys.Sensitive(k)
}

// keyString renders a map key as encoding/json does.
func keyString(k reflect.Value) string {
	for k.Kind() == reflect.Interface && !k.IsNil() {
		k = k.Elem()
	}
	switch k.Kind() {
	case reflect.String:
		return k.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(k.Float(), 'g', -1, 64)
	case reflect.Bool:
		return strconv.FormatBool(k.Bool())
	}
	if k.IsValid() && k.CanInterface() {
		if tm, ok := k.Interface().(encoding.TextMarshaler); ok && !isNil(tm) {
			if b, err, panicked := safeMarshalText(tm); !panicked && err == nil {
				return string(b)
			}
			return Panic
		}
	}
	if !k.IsValid() {
		return "<nil>"
	}
	return k.Type().String()
}

// fields adds the exported fields of the struct rv to out, as
// encoding/json names them; embedded structs are flattened (outer fields
// win, as in encoding/json). embed counts the levels of embedding.
func (w *walker) fields(out map[string]any, rv reflect.Value, depth int, all bool, embed int) {
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := rv.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if embed < w.l.b.MaxDepth {
					w.fields(out, fv, depth, all, embed+1)
				}
				continue
			}
		}
		if !f.IsExported() || !fv.CanInterface() {
			continue
		}
		if strings.Contains(","+opts+",", ",omitempty,") && isEmptyJSON(fv) {
			continue
		}
		key := cmp.Or(name, f.Name)
		if _, dup := out[key]; dup {
			continue
		}
		if w.full() {
			n, _ := out[Attrs].(int)
			out[Attrs] = n + 1
			continue
		}
		w.attrs++
		sensitive := w.sensitive(key) || w.sensitive(f.Name) || all
		key = w.str(key)
		if sensitive {
			out[key] = w.redacted()
			continue
		}
		out[key] = w.value(fv.Interface(), depth+1, all)
	}
}

// isEmptyJSON reports whether encoding/json's omitempty leaves v out.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// groupMap turns the members of a resolved group into a map.
func (w *walker) groupMap(g []slog.Attr, depth int, all bool) map[string]any {
	out := make(map[string]any, min(len(g), w.l.b.MaxAttrs-w.attrs+1))
	left := 0
	for _, a := range g {
		if isEmpty(a) {
			continue
		}
		if w.full() {
			left++
			continue
		}
		w.attrs++
		sensitive := w.sensitive(a.Key) || all
		k := w.str(a.Key)
		switch v := Resolve(a.Value); {
		case sensitive:
			out[k] = w.redacted()
		case v.Kind() == slog.KindGroup:
			if depth >= w.l.b.MaxDepth {
				out[k] = Depth
			} else {
				out[k] = w.groupMap(v.Group(), depth+1, all)
			}
		default:
			out[k] = w.value(v.Any(), depth+1, all)
		}
	}
	if left > 0 {
		out[Attrs] = left
	}
	return out
}

// Package profiling serves the Go runtime's profiles (net/http/pprof) on a
// mux of the program's choosing, behind a token, and never on
// http.DefaultServeMux.
//
// Importing net/http/pprof registers its handlers on http.DefaultServeMux
// in the package's init; Go 1.26 still does (GET /debug/pprof/ and its
// cmdline, profile, symbol and trace pages), and no API takes a route off
// a ServeMux. This package imports net/http/pprof, so a program that
// imports this package has those routes on http.DefaultServeMux; they are
// reachable only if something serves http.DefaultServeMux (an
// http.ListenAndServe(addr, nil), an http.Server with a nil Handler).
// The kit never does: its listener has a mux of its own. A program that
// serves http.DefaultServeMux on a public port must not import this
// package (nor net/http/pprof) at all, or must serve its own mux there
// instead. Package operate, and the kit's other library packages, do not
// import net/http/pprof: only a program that imports this package, and so
// asks for profiles, links it.
//
// From a shell, with the kit's listener on :9568:
//
//	curl -H "Authorization: Bearer $TOKEN" -o cpu.pprof 'localhost:9568/debug/pprof/profile?seconds=10'
//	curl -H "Authorization: Bearer $TOKEN" -o heap.pprof localhost:9568/debug/pprof/heap
//	curl -H "Authorization: Bearer $TOKEN" 'localhost:9568/debug/pprof/goroutine?debug=2'
//	go tool pprof -http=: cpu.pprof
package profiling

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/realtimeserver/observability/internal/authtoken"
)

// Prefix is the path under which Mount serves the profiles. It is fixed:
// pprof.Index finds a named profile by this prefix.
const Prefix = "/debug/pprof/"

// Options configure Mount. A nil or zero Options consists entirely of
// default values; Mount never writes to it.
type Options struct {
	// Token, when not empty, is required on every request as
	// "Authorization: Bearer <token>": profiles reveal the command line,
	// the program's symbols and what its memory holds. It is compared in
	// constant time and never logged. Default: none.
	Token string
	// Cookie, when not empty, is the name of a cookie that may carry the
	// Token instead: livedash.CookieName, with Base the dashboard's path
	// (the browser sends that cookie only under it), so that links from
	// the dashboard's pages work. Default: none.
	Cookie string
	// Base, when not empty, is a path that starts with '/' and does not
	// end with one, under which the profiles are served instead:
	// Base+Prefix ("/dashboard/debug/pprof/"). Default: none, Prefix.
	Base string
}

// Mount registers net/http/pprof's handlers on mux under Prefix (or
// opts.Base+Prefix):
// pprof.Index at /debug/pprof/ (which serves every named profile of
// runtime/pprof: allocs, block, goroutine, heap, mutex, threadcreate, at
// /debug/pprof/<name>), pprof.Cmdline, pprof.Profile (the CPU profile,
// ?seconds=, 30 by default), pprof.Symbol and pprof.Trace, all behind
// opts.Token. Symbol answers GET and POST (go tool pprof posts to it), the
// others GET (and HEAD). Like mux.Handle, Mount panics if one of these
// patterns is registered already, and if opts.Base is not a path as its
// comment says. It never touches http.DefaultServeMux. Call it twice, with
// and without Base, to serve both.
//
// pprof.Profile and pprof.Trace extend the connection's write deadline by
// the duration asked for, so an http.Server's WriteTimeout does not cut a
// long profile short.
func Mount(mux *http.ServeMux, opts *Options) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Base != "" && (!strings.HasPrefix(o.Base, "/") || strings.HasSuffix(o.Base, "/")) {
		panic(fmt.Sprintf("profiling.Mount: Options.Base %q: want a path that starts with '/' and does not end with one", o.Base))
	}
	tok := authtoken.New(o.Token)
	guard := func(f http.HandlerFunc) http.Handler {
		var h http.Handler = f
		if o.Base != "" {
			h = http.StripPrefix(o.Base, h) // pprof.Index reads the profile's name after Prefix
		}
		if !tok.Required() {
			return h
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !tok.Request(r, o.Cookie) {
				authtoken.Refuse(w, "profiling", "unauthorized: profiles need the token, as Authorization: Bearer <token>")
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	p := o.Base + Prefix
	mux.Handle("GET "+p, guard(pprof.Index))
	mux.Handle("GET "+p+"cmdline", guard(pprof.Cmdline))
	mux.Handle("GET "+p+"profile", guard(pprof.Profile))
	mux.Handle("GET "+p+"symbol", guard(pprof.Symbol))
	mux.Handle("POST "+p+"symbol", guard(pprof.Symbol))
	mux.Handle("GET "+p+"trace", guard(pprof.Trace))
}

package authtoken

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequest(t *testing.T) {
	tok := New("s3cret")
	cases := []struct {
		name   string
		header string
		cookie *http.Cookie
		name2  string // cookie name the caller accepts
		want   bool
	}{
		{name: "none", want: false},
		{name: "bearer", header: "Bearer s3cret", want: true},
		{name: "bearer any case and spaces", header: "bEaReR   s3cret  ", want: true},
		{name: "wrong secret", header: "Bearer s3cre", want: false},
		{name: "basic scheme", header: "Basic s3cret", want: false},
		{name: "no scheme", header: "s3cret", want: false},
		{name: "cookie accepted", cookie: &http.Cookie{Name: "c", Value: "s3cret"}, name2: "c", want: true},
		{name: "cookie not accepted", cookie: &http.Cookie{Name: "c", Value: "s3cret"}, want: false},
		{name: "cookie wrong name", cookie: &http.Cookie{Name: "d", Value: "s3cret"}, name2: "c", want: false},
		{name: "cookie wrong value", cookie: &http.Cookie{Name: "c", Value: "x"}, name2: "c", want: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/?token=s3cret", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			if c.cookie != nil {
				r.AddCookie(c.cookie)
			}
			if got := tok.Request(r, c.name2); got != c.want {
				t.Errorf("Request = %v, want %v", got, c.want)
			}
		})
	}
}

func TestZeroTokenRequiresNothing(t *testing.T) {
	var z Token
	if z.Required() || New("").Required() {
		t.Fatal("an empty secret must require nothing")
	}
	if !z.Request(httptest.NewRequest("GET", "/", nil), "") {
		t.Error("a zero Token refused a request")
	}
	if z.Match("") || z.Match("x") {
		t.Error("a zero Token matched a secret")
	}
	if !New("x").Required() || !New("x").Match("x") || New("x").Match("") {
		t.Error("New(x) does not match exactly x")
	}
}

func TestRefuse(t *testing.T) {
	w := httptest.NewRecorder()
	Refuse(w, "level", "unauthorized: needs a token")
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", w.Code)
	}
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="level"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if !strings.Contains(w.Body.String(), "needs a token") {
		t.Errorf("body %q", w.Body.String())
	}
}

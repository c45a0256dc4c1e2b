package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds how much of a response body is read.
const maxResponse = 16 << 20

// parseBaseURL checks that raw, the value of the variable name, is an
// absolute http or https URL and returns it without a trailing slash, and a
// form with any password redacted for messages.
func parseBaseURL(name, raw, example string) (base, display string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		shown := raw
		if err == nil {
			shown = u.Redacted()
		} else {
			shown = "(unparsable)"
		}
		return "", "", fmt.Errorf("%s=%s is not accepted: want an http:// or https:// base URL without query, such as %s", name, shown, example)
	}
	base = strings.TrimRight(u.String(), "/")
	display = strings.TrimRight(u.Redacted(), "/")
	return base, display, nil
}

// checkStatus turns a non-2xx response into an error that says what was
// refused and by whom. 401 and 403 name credVars as rejected; the values of
// credentials are never part of the message.
func checkStatus(resp *http.Response, service, base, credVars, what string) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := errorMessage(resp.Body)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%s was rejected by %s (HTTP 401 Unauthorized) for %s: %s", credVars, base, what, msg)
	case http.StatusForbidden:
		return fmt.Errorf("%s was rejected by %s (HTTP 403 Forbidden: the credential lacks the permission to write dashboards, or is invalid) for %s: %s", credVars, base, what, msg)
	}
	return fmt.Errorf("%s at %s answered HTTP %d %s for %s: %s", service, base, resp.StatusCode, http.StatusText(resp.StatusCode), what, msg)
}

// errorMessage extracts the reason from an error response: Grafana's
// {"message": ...}, Datadog's {"errors": [...]}, or else the start of the body.
func errorMessage(body io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(body, 4096))
	var v struct {
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if json.Unmarshal(data, &v) == nil {
		switch {
		case v.Message != "":
			return v.Message
		case len(v.Errors) > 0:
			return strings.Join(v.Errors, "; ")
		}
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// printRequest writes the headers and the JSON body of a request a dry run
// would send, indented under its summary line. Credentials appear as the
// variable that holds them, never as their value.
func printRequest(out io.Writer, headers []string, body []byte) {
	for _, h := range headers {
		fmt.Fprintf(out, "    %s\n", h)
	}
	if len(body) == 0 {
		return
	}
	var b bytes.Buffer
	if err := json.Indent(&b, body, "    ", "  "); err != nil {
		b.Reset()
		b.Write(body)
	}
	fmt.Fprintf(out, "    \n    %s\n", b.Bytes())
}

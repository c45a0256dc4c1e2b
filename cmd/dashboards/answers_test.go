package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// A 2xx that is not Grafana's confirmation of the save fails the command,
// saying what was wrong with the answer.
func TestGrafanaAnswerIsChecked(t *testing.T) {
	tests := []struct {
		name   string
		answer func(uid string) string
		want   []string
	}{
		{"empty object", func(string) string { return `{}` },
			[]string{"not a saved dashboard", `status "" (want "success")`, `uid ""`, "version 0", "is GRAFANA_URL Grafana itself?"}},
		{"another uid", func(string) string {
			return `{"id":1,"uid":"someone-else","url":"/d/x","status":"success","version":3}`
		}, []string{`uid "someone-else" (want "rts-`}},
		{"not success", func(uid string) string {
			return fmt.Sprintf(`{"uid":%q,"status":"version-mismatch","version":2}`, uid)
		}, []string{`status "version-mismatch"`}},
		{"an HTML page", func(string) string { return "<html>login</html>" }, []string{"not its JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r recorded) {
				dash, _ := r.body["dashboard"].(map[string]any)
				uid, _ := dash["uid"].(string)
				io.WriteString(w, tt.answer(uid))
			})
			out, err := runCmd(t, map[string]string{"GRAFANA_URL": rec.srv.URL, "GRAFANA_TOKEN": grafanaToken}, "-grafana", "-dir", deployDir)
			if err == nil {
				t.Fatalf("run succeeded against %s; want an error\n%s", tt.answer("u"), out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(out, "created") || strings.Contains(out, "updated") {
				t.Errorf("output reports success:\n%s", out)
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("Grafana got %d requests, want 1: the command stops at the first bad answer", n)
			}
			checkNoSecrets(t, err.Error()+out)
		})
	}
}

// The same for Datadog: the list must hold "dashboards", a create or update
// must return the dashboard with its id, title and url.
func TestDatadogAnswerIsChecked(t *testing.T) {
	files, err := loadDatadogDashboards(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		list     string
		existing bool
		answer   func(r recorded) string
		want     []string
	}{
		{"empty list answer", `{}`, false, nil,
			[]string{`no "dashboards" list`, "is DATADOG_API_URL"}},
		{"list entry without id", `{"dashboards":[{"title":"x"}]}`, false, nil,
			[]string{"without an id"}},
		{"empty create answer", `{"dashboards":[]}`, false, func(recorded) string { return `{}` },
			[]string{"but not the dashboard", "no id", `title ""`, "no url", files[0].path}},
		{"create answer for another title", `{"dashboards":[]}`, false, func(recorded) string {
			return `{"id":"a-b-c","title":"Other","url":"/x"}`
		}, []string{`title "Other" (want "` + files[0].title + `"`}},
		{"update answer with another id", `{"dashboards":[{"id":"x-1","title":"` + files[0].title + `"}]}`, true, func(r recorded) string {
			return fmt.Sprintf(`{"id":"y-2","title":%q,"url":"/x"}`, r.body["title"])
		}, []string{`id "y-2" (want "x-1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r recorded) {
				if r.method == http.MethodGet {
					io.WriteString(w, tt.list)
					return
				}
				io.WriteString(w, tt.answer(r))
			})
			out, err := runCmd(t, ddEnv(rec.srv.URL), "-datadog", "-dir", deployDir)
			if err == nil {
				t.Fatalf("run succeeded; want an error\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(out, "created") || strings.Contains(out, "updated") {
				t.Errorf("output reports success:\n%s", out)
			}
			checkNoSecrets(t, err.Error()+out)
		})
	}
}

// -dry-run prints every request body, and each is exactly the body a real
// run sends.
func TestDryRunPrintsTheBodiesSent(t *testing.T) {
	env := map[string]string{"GRAFANA_TOKEN": grafanaToken, "DATADOG_API_KEY": ddAPIKey, "DATADOG_APP_KEY": ddAppKey}
	grafana := newRecorder(t, func(w http.ResponseWriter, r recorded) {
		dash, _ := r.body["dashboard"].(map[string]any)
		fmt.Fprintf(w, `{"id":1,"uid":%q,"url":"/d/x","status":"success","version":1}`, dash["uid"])
	})
	datadog := ddServer(t, nil, nil)
	env["GRAFANA_URL"], env["DATADOG_API_URL"] = grafana.srv.URL, datadog.srv.URL

	out, err := runCmd(t, env, "-dry-run", "-dir", deployDir, "-grafana-folder", "rts")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	checkNoSecrets(t, out)
	for _, h := range []string{"Authorization: Bearer $GRAFANA_TOKEN", "DD-API-KEY: $DATADOG_API_KEY", "DD-APPLICATION-KEY: $DATADOG_APP_KEY"} {
		if !strings.Contains(out, h) {
			t.Errorf("dry run does not show the header %q:\n%.2000s", h, out)
		}
	}
	printed := printedBodies(t, out)
	if len(grafana.requests()) != 0 || len(datadog.requests()) != 0 {
		t.Fatal("the dry run sent requests")
	}

	if out, err := runCmd(t, env, "-dir", deployDir, "-grafana-folder", "rts"); err != nil {
		t.Fatalf("real run: %v\n%s", err, out)
	}
	var sent []map[string]any
	for _, r := range grafana.requests() {
		sent = append(sent, r.body)
	}
	for _, r := range datadog.requests() {
		if r.method != http.MethodGet {
			sent = append(sent, r.body)
		}
	}
	if len(printed) != 7 || len(sent) != 7 {
		t.Fatalf("dry run printed %d bodies and the real run sent %d; want 7 each (4 Grafana, 3 Datadog)", len(printed), len(sent))
	}
	for i := range sent {
		if !reflect.DeepEqual(printed[i], sent[i]) {
			t.Errorf("body %d printed by the dry run differs from the body sent", i)
		}
	}
}

// printedBodies returns the JSON objects a dry run printed, in order: each
// starts at a line "    {" and ends at the next line "    }".
func printedBodies(t *testing.T, out string) []map[string]any {
	t.Helper()
	var bodies []map[string]any
	var cur []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case cur == nil && line == "    {":
			cur = []string{line}
		case cur != nil:
			cur = append(cur, line)
			if line == "    }" {
				var m map[string]any
				if err := json.Unmarshal([]byte(strings.Join(cur, "\n")), &m); err != nil {
					t.Fatalf("a printed body is not JSON: %v", err)
				}
				bodies = append(bodies, m)
				cur = nil
			}
		}
	}
	return bodies
}

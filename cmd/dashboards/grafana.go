package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// grafanaConfig is where and how to reach Grafana.
type grafanaConfig struct {
	baseURL   string   // GRAFANA_URL without a trailing slash; "" only in a dry run
	display   string   // baseURL with any password redacted, for messages
	token     string   // GRAFANA_TOKEN; never printed
	folderUID string   // -grafana-folder
	missing   []string // variables a dry run found unset
}

// grafanaConfigFromEnv reads GRAFANA_URL and GRAFANA_TOKEN. Both are required
// unless dryRun, in which case missing ones are only reported.
func grafanaConfigFromEnv(getenv func(string) string, dryRun bool) (grafanaConfig, error) {
	var c grafanaConfig
	raw := strings.TrimSpace(getenv("GRAFANA_URL"))
	c.token = strings.TrimSpace(getenv("GRAFANA_TOKEN"))
	if raw == "" {
		c.missing = append(c.missing, "GRAFANA_URL")
	}
	if c.token == "" {
		c.missing = append(c.missing, "GRAFANA_TOKEN")
	}
	if raw != "" {
		base, display, err := parseBaseURL("GRAFANA_URL", raw, "http://localhost:3000")
		if err != nil {
			return c, err
		}
		c.baseURL, c.display = base, display
	}
	if len(c.missing) > 0 && !dryRun {
		return c, fmt.Errorf("uploading to Grafana needs %s, which %s not set (GRAFANA_URL is Grafana's base URL such as http://localhost:3000; GRAFANA_TOKEN a service account token with the Editor role)",
			strings.Join(c.missing, " and "), isAre(len(c.missing)))
	}
	return c, nil
}

// grafanaClient uploads dashboards through Grafana's HTTP API.
type grafanaClient struct {
	cfg  grafanaConfig
	http *http.Client
}

// grafanaSaveResponse is the part of POST /api/dashboards/db's answer that
// is checked and reported. Grafana documents it as
// {"id", "uid", "url", "status": "success", "version", "slug"}.
type grafanaSaveResponse struct {
	UID     string `json:"uid"`
	URL     string `json:"url"`
	Version int    `json:"version"`
	Status  string `json:"status"`
}

// check reports an answer that is not Grafana's confirmation of saving the
// dashboard f: a 2xx from something else (a proxy, a login page, a mock)
// must not pass for success.
func (r grafanaSaveResponse) check(f dashboardFile) error {
	var problems []string
	if r.Status != "success" {
		problems = append(problems, fmt.Sprintf("status %q (want \"success\")", r.Status))
	}
	if r.UID != f.uid {
		problems = append(problems, fmt.Sprintf("uid %q (want %q, the uid sent)", r.UID, f.uid))
	}
	if r.Version < 1 {
		problems = append(problems, fmt.Sprintf("version %d (want 1 or more)", r.Version))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, ", "))
}

// uploadAll creates or overwrites each dashboard by uid, or in a dry run
// prints the request it would send.
func (g *grafanaClient) uploadAll(ctx context.Context, files []dashboardFile, dryRun bool, out io.Writer) error {
	if dryRun {
		base := g.cfg.display
		if base == "" {
			base = "$GRAFANA_URL"
		}
		for _, v := range g.cfg.missing {
			fmt.Fprintf(out, "grafana: %s is not set; a real run would stop here\n", v)
		}
		for _, f := range files {
			folder := ""
			if g.cfg.folderUID != "" {
				folder = fmt.Sprintf(" into folder %q", g.cfg.folderUID)
			}
			fmt.Fprintf(out, "grafana: would POST %s/api/dashboards/db: create or overwrite dashboard uid %q (%q, from %s)%s\n",
				base, f.uid, f.title, f.path, folder)
			body, err := g.payload(f)
			if err != nil {
				return err
			}
			printRequest(out, []string{"Authorization: Bearer $GRAFANA_TOKEN", "Content-Type: application/json"}, body)
		}
		return nil
	}
	for _, f := range files {
		res, err := g.upload(ctx, f)
		if err != nil {
			return err
		}
		verb := "updated"
		if res.Version == 1 {
			verb = "created"
		}
		fmt.Fprintf(out, "grafana: %s %q (uid %s, version %d): %s%s\n", verb, f.title, res.UID, res.Version, g.cfg.display, res.URL)
	}
	return nil
}

// upload sends one dashboard to POST /api/dashboards/db with overwrite set,
// so that the dashboard with the same uid is replaced, or created when there
// is none.
func (g *grafanaClient) upload(ctx context.Context, f dashboardFile) (grafanaSaveResponse, error) {
	body, err := g.payload(f)
	if err != nil {
		return grafanaSaveResponse{}, err
	}
	const path = "/api/dashboards/db"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return grafanaSaveResponse{}, err
	}
	req.Header.Set("Authorization", "Bearer "+g.cfg.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		return grafanaSaveResponse{}, fmt.Errorf("uploading %s to Grafana at %s: %w", f.path, g.cfg.display, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp, "Grafana", g.cfg.display, "GRAFANA_TOKEN", "POST "+path+" ("+f.path+")"); err != nil {
		return grafanaSaveResponse{}, err
	}
	var res grafanaSaveResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&res); err != nil {
		return grafanaSaveResponse{}, fmt.Errorf("Grafana at %s answered POST %s for %s with a body that is not its JSON: %w", g.cfg.display, path, f.path, err)
	}
	if err := res.check(f); err != nil {
		return res, fmt.Errorf("Grafana at %s answered POST %s for %s with HTTP %d but not a saved dashboard: %v; is GRAFANA_URL Grafana itself?",
			g.cfg.display, path, f.path, resp.StatusCode, err)
	}
	return res, nil
}

// payload is the body of POST /api/dashboards/db for f, exactly as sent.
func (g *grafanaClient) payload(f dashboardFile) ([]byte, error) {
	dash := make(map[string]any, len(f.body))
	for k, v := range f.body {
		dash[k] = v
	}
	// A numeric id from an export names a row of another Grafana's database;
	// without it Grafana matches by uid.
	delete(dash, "id")
	payload := map[string]any{
		"dashboard": dash,
		"overwrite": true,
		"message":   "uploaded by cmd/dashboards from " + f.path,
	}
	if g.cfg.folderUID != "" {
		payload["folderUid"] = g.cfg.folderUID
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return body, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/realtimeserver/observability/handler/datadog"
)

// datadogConfig is where and how to reach Datadog's API.
type datadogConfig struct {
	baseURL string   // https://api.{site} or DATADOG_API_URL
	display string   // baseURL with any password redacted
	apiKey  string   // DATADOG_API_KEY; never printed
	appKey  string   // DATADOG_APP_KEY; never printed
	missing []string // variables a dry run found unset
}

// datadogCredVars names the credentials in messages about a rejected request.
const datadogCredVars = "DATADOG_API_KEY or DATADOG_APP_KEY"

// datadogConfigFromEnv reads DATADOG_API_KEY, DATADOG_APP_KEY, DATADOG_SITE
// and DATADOG_API_URL. The keys are required unless dryRun.
func datadogConfigFromEnv(getenv func(string) string, dryRun bool) (datadogConfig, error) {
	var c datadogConfig
	c.apiKey = strings.TrimSpace(getenv("DATADOG_API_KEY"))
	c.appKey = strings.TrimSpace(getenv("DATADOG_APP_KEY"))
	if c.apiKey == "" {
		c.missing = append(c.missing, "DATADOG_API_KEY")
	}
	if c.appKey == "" {
		c.missing = append(c.missing, "DATADOG_APP_KEY")
	}
	site := strings.TrimSpace(getenv("DATADOG_SITE"))
	if site == "" {
		site = datadog.DefaultSite
	}
	if !datadog.IsValidSite(site) {
		return c, fmt.Errorf("DATADOG_SITE=%q is not accepted: want one of %s", site, strings.Join(datadog.ValidSites(), ", "))
	}
	c.baseURL = "https://api." + site
	c.display = c.baseURL
	if raw := strings.TrimSpace(getenv("DATADOG_API_URL")); raw != "" {
		base, display, err := parseBaseURL("DATADOG_API_URL", raw, "https://api.datadoghq.com")
		if err != nil {
			return c, err
		}
		c.baseURL, c.display = base, display
	}
	if len(c.missing) > 0 && !dryRun {
		return c, fmt.Errorf("uploading to Datadog needs %s, which %s not set (an API key, and an application key allowed to write dashboards: Organization Settings, Application Keys)",
			strings.Join(c.missing, " and "), isAre(len(c.missing)))
	}
	return c, nil
}

// datadogClient uploads dashboards through Datadog's v1 dashboard API.
type datadogClient struct {
	cfg  datadogConfig
	http *http.Client
}

// datadogDashboard is the part of Datadog's dashboard answers that is used:
// the Dashboard object of its v1 API, whose id, title, url and layout_type
// every create and update returns.
type datadogDashboard struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	URL        string `json:"url"`
	LayoutType string `json:"layout_type"`
}

// check reports an answer to a create or update of f that is not Datadog's
// dashboard: wantID is the id updated, or "" for a create.
func (r datadogDashboard) check(f dashboardFile, wantID string) error {
	var problems []string
	switch {
	case r.ID == "":
		problems = append(problems, "no id")
	case wantID != "" && r.ID != wantID:
		problems = append(problems, fmt.Sprintf("id %q (want %q, the dashboard updated)", r.ID, wantID))
	}
	if r.Title != f.title {
		problems = append(problems, fmt.Sprintf("title %q (want %q, the title sent)", r.Title, f.title))
	}
	if r.URL == "" {
		problems = append(problems, "no url")
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, ", "))
}

// uploadAll lists the account's dashboards once, then updates each file's
// dashboard found by title or creates it; in a dry run it prints the
// requests instead.
func (d *datadogClient) uploadAll(ctx context.Context, files []dashboardFile, dryRun bool, out io.Writer) error {
	if dryRun {
		for _, v := range d.cfg.missing {
			fmt.Fprintf(out, "datadog: %s is not set; a real run would stop here\n", v)
		}
		fmt.Fprintf(out, "datadog: would GET %s/api/v1/dashboard?count=%d&start=0 (and the following pages) to find the dashboards by title\n", d.cfg.display, listPage)
		printRequest(out, []string{"DD-API-KEY: $DATADOG_API_KEY", "DD-APPLICATION-KEY: $DATADOG_APP_KEY"}, nil)
		for _, f := range files {
			fmt.Fprintf(out, "datadog: would PUT %s/api/v1/dashboard/{id} for %q (from %s) if a dashboard has that title, else POST %s/api/v1/dashboard\n",
				d.cfg.display, f.title, f.path, d.cfg.display)
			body, err := json.Marshal(f.body)
			if err != nil {
				return fmt.Errorf("%s: %w", f.path, err)
			}
			printRequest(out, []string{"DD-API-KEY: $DATADOG_API_KEY", "DD-APPLICATION-KEY: $DATADOG_APP_KEY", "Content-Type: application/json"}, body)
		}
		return nil
	}
	byTitle, err := d.list(ctx)
	if err != nil {
		return err
	}
	for _, f := range files {
		ids := byTitle[f.title]
		if len(ids) > 1 {
			return fmt.Errorf("Datadog at %s has %d dashboards titled %q (ids %s); delete all but one so that %s updates the right one",
				d.cfg.display, len(ids), f.title, strings.Join(ids, ", "), f.path)
		}
		method, path, verb, wantID := http.MethodPost, "/api/v1/dashboard", "created", ""
		if len(ids) == 1 {
			method, path, verb, wantID = http.MethodPut, "/api/v1/dashboard/"+url.PathEscape(ids[0]), "updated", ids[0]
		}
		var res datadogDashboard
		if err := d.do(ctx, method, path, f.body, &res, f.path); err != nil {
			return err
		}
		if err := res.check(f, wantID); err != nil {
			return fmt.Errorf("Datadog at %s answered %s %s for %s with a 2xx but not the dashboard: %v; is DATADOG_API_URL (or DATADOG_SITE) Datadog's API?",
				d.cfg.display, method, path, f.path, err)
		}
		fmt.Fprintf(out, "datadog: %s %q (id %s): %s\n", verb, f.title, res.ID, res.URL)
	}
	return nil
}

// listPage is how many dashboards list asks Datadog for at a time.
const listPage = 100

// list returns the ids of the account's dashboards by title. It pages
// through the whole list (count and start), so that an account with more
// dashboards than one page holds still matches by title.
func (d *datadogClient) list(ctx context.Context) (map[string][]string, error) {
	byTitle := make(map[string][]string)
	for start := 0; ; start += listPage {
		var res struct {
			Dashboards json.RawMessage `json:"dashboards"`
		}
		path := fmt.Sprintf("/api/v1/dashboard?count=%d&start=%d", listPage, start)
		if err := d.do(ctx, http.MethodGet, path, nil, &res, "listing dashboards"); err != nil {
			return nil, err
		}
		// Datadog always answers with the list, empty or not: an answer
		// without one would make every dashboard look new, and be created
		// again beside the one that exists.
		var list []datadogDashboard
		if res.Dashboards == nil || json.Unmarshal(res.Dashboards, &list) != nil {
			return nil, fmt.Errorf("Datadog at %s answered GET %s with a 2xx but no \"dashboards\" list; is DATADOG_API_URL (or DATADOG_SITE) Datadog's API?", d.cfg.display, path)
		}
		for _, db := range list {
			if db.ID == "" {
				return nil, fmt.Errorf("Datadog at %s listed a dashboard without an id (title %q) in GET %s", d.cfg.display, db.Title, path)
			}
			byTitle[db.Title] = append(byTitle[db.Title], db.ID)
		}
		if len(list) < listPage {
			return byTitle, nil
		}
	}
}

// do sends one request with the keys and decodes a 2xx JSON answer into
// res; what says what the request was for, in errors.
func (d *datadogClient) do(ctx context.Context, method, path string, body, res any, what string) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.cfg.baseURL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("DD-API-KEY", d.cfg.apiKey)
	req.Header.Set("DD-APPLICATION-KEY", d.cfg.appKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s at Datadog (%s): %w", method, path, what, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp, "Datadog", d.cfg.display, datadogCredVars, method+" "+path+" ("+what+")"); err != nil {
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(res); err != nil {
		return fmt.Errorf("Datadog at %s answered %s %s (%s) with a body that is not its JSON: %w", d.cfg.display, method, path, what, err)
	}
	return nil
}

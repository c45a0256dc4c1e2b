// Command dashboards creates or updates the realtime server's dashboards in
// Grafana and Datadog from the JSON files under deploy/.
//
//	go run ./cmd/dashboards -dry-run            # print what would be done, touch no network
//	GRAFANA_URL=http://localhost:3000 GRAFANA_TOKEN=glsa_... go run ./cmd/dashboards -grafana
//	DATADOG_API_KEY=... DATADOG_APP_KEY=... go run ./cmd/dashboards -datadog
//
// With neither -grafana nor -datadog it uploads to both. Flags:
//
//	-dir deploy        folder holding grafana/dashboards/*.json and datadog/*.json
//	-grafana           upload the Grafana dashboards
//	-datadog           upload the Datadog dashboards
//	-grafana-folder    uid of the Grafana folder to put dashboards in (default: General)
//	-dry-run           validate the files and the environment, print the requests
//	                   that would be sent, and send none
//
// Environment:
//
//	GRAFANA_URL        Grafana's base URL, for example http://localhost:3000
//	GRAFANA_TOKEN      a service account token (sent as a Bearer token)
//	DATADOG_API_KEY    Datadog API key (header DD-API-KEY)
//	DATADOG_APP_KEY    Datadog application key (header DD-APPLICATION-KEY)
//	DATADOG_SITE       datadoghq.com (default), datadoghq.eu, us3.datadoghq.com,
//	                   us5.datadoghq.com, ap1.datadoghq.com or ddog-gov.com
//	DATADOG_API_URL    overrides the API base URL derived from DATADOG_SITE (proxies, tests)
//
// Uploads are idempotent. Grafana dashboards are matched by uid: the command
// posts each with overwrite set, so a second run updates the same dashboard.
// Datadog dashboards have server-chosen ids, so they are matched by title:
// the command lists the dashboards once, updates (PUT) the one with the same
// title and creates (POST) the others.
//
// Tokens and keys are never printed. A rejected credential is reported as
// such, naming the variable and the server that refused it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}

// errUsage marks command-line errors, already reported by the flag package.
var errUsage = errors.New("usage error")

// options are the command-line flags.
type options struct {
	dir           string
	grafana       bool
	datadog       bool
	grafanaFolder string
	dryRun        bool
}

// httpTimeout bounds every request to Grafana or Datadog.
const httpTimeout = 30 * time.Second

// run is the whole command: parse args, read the environment through getenv,
// load the dashboards and upload them, writing progress to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dashboards", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dir, "dir", "deploy", "folder holding grafana/dashboards/*.json and datadog/*.json")
	fs.BoolVar(&o.grafana, "grafana", false, "upload the Grafana dashboards (GRAFANA_URL, GRAFANA_TOKEN)")
	fs.BoolVar(&o.datadog, "datadog", false, "upload the Datadog dashboards (DATADOG_API_KEY, DATADOG_APP_KEY, DATADOG_SITE)")
	fs.StringVar(&o.grafanaFolder, "grafana-folder", "", "uid of the Grafana folder to put the dashboards in (default: General)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be done; send no request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dashboards: unexpected argument %q; the command takes flags only\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if !o.grafana && !o.datadog {
		o.grafana, o.datadog = true, true
	}

	// Load and check everything before the first request, so that a bad file
	// or variable never leaves one backend updated and the other not.
	var (
		gd   []dashboardFile
		dd   []dashboardFile
		gcfg grafanaConfig
		dcfg datadogConfig
		errs []error
	)
	if o.grafana {
		var err error
		if gd, err = loadGrafanaDashboards(o.dir); err != nil {
			errs = append(errs, err)
		}
		if gcfg, err = grafanaConfigFromEnv(getenv, o.dryRun); err != nil {
			errs = append(errs, err)
		}
		gcfg.folderUID = o.grafanaFolder
	}
	if o.datadog {
		var err error
		if dd, err = loadDatadogDashboards(o.dir); err != nil {
			errs = append(errs, err)
		}
		if dcfg, err = datadogConfigFromEnv(getenv, o.dryRun); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	client := &http.Client{Timeout: httpTimeout}
	if o.grafana {
		g := &grafanaClient{cfg: gcfg, http: client}
		if err := g.uploadAll(ctx, gd, o.dryRun, stdout); err != nil {
			return err
		}
	}
	if o.datadog {
		d := &datadogClient{cfg: dcfg, http: client}
		if err := d.uploadAll(ctx, dd, o.dryRun, stdout); err != nil {
			return err
		}
	}
	return nil
}

package metrics

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

// Defaults of WebConfig. Port 9717 is unassigned in the Prometheus exporter
// port registry (https://github.com/prometheus/prometheus/wiki/Default-port-allocations).
const (
	DefaultListenAddress = ":9717"
	DefaultTelemetryPath = "/metrics"
	// CountsPath serves WriteCounts output; ?all=1 adds the LISTEN line.
	CountsPath = "/counts"
)

// Errors returned by Serve, wrapped with context.
var (
	ErrWebConfig = errors.New("invalid web configuration")
	ErrServe     = errors.New("web listener failed")
)

// shutdownGrace bounds how long Serve waits for scrapes in flight once its
// context is cancelled.
const shutdownGrace = 5 * time.Second

// WebConfig holds the usual exporter flags. The zero value means the
// defaults.
type WebConfig struct {
	// ListenAddresses to serve on; default DefaultListenAddress. Several
	// are allowed, as in every exporter built on exporter-toolkit.
	ListenAddresses []string
	// TelemetryPath is where metrics are served; default DefaultTelemetryPath.
	TelemetryPath string
	// ConfigFile is an exporter-toolkit web configuration file enabling
	// TLS and basic auth (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md).
	// Empty means plain HTTP without authentication.
	ConfigFile string
}

// RegisterFlags adds --web.listen-address (repeatable), --web.telemetry-path
// and --web.config.file to fs, writing into cfg. exporter-toolkit's own flag
// helper needs kingpin; these are the same flags for the standard library.
func (cfg *WebConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*addressList)(&cfg.ListenAddresses), "web.listen-address",
		"address to serve metrics on; repeat the flag to listen on several (default "+DefaultListenAddress+")")
	fs.StringVar(&cfg.TelemetryPath, "web.telemetry-path", DefaultTelemetryPath,
		"path under which to expose metrics")
	fs.StringVar(&cfg.ConfigFile, "web.config.file", "",
		"path to an exporter-toolkit web configuration file enabling TLS and basic auth")
}

// addressList is a repeatable flag; while it is empty the default applies.
type addressList []string

func (a *addressList) String() string { return strings.Join(*a, ",") }

func (a *addressList) Set(s string) error {
	*a = append(*a, s)
	return nil
}

func (cfg WebConfig) withDefaults() WebConfig {
	if len(cfg.ListenAddresses) == 0 {
		cfg.ListenAddresses = []string{DefaultListenAddress}
	}
	if cfg.TelemetryPath == "" {
		cfg.TelemetryPath = DefaultTelemetryPath
	}
	return cfg
}

// NewRegistry returns a registry holding c together with the Go runtime,
// process and build-info collectors: what /metrics serves.
func NewRegistry(c *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		c,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(namespace),
	)
	return reg
}

// Serve serves metrics from c, the landing page and the counts endpoint on
// the configured addresses until ctx is cancelled, then shuts down gracefully
// and returns nil. It returns early with an error if the configuration is
// invalid or a listener fails; then the other listeners are shut down too.
func Serve(ctx context.Context, cfg WebConfig, c *Collector, logger *slog.Logger) error {
	cfg = cfg.withDefaults()
	if cfg.ConfigFile != "" {
		// exporter-toolkit would only find out after binding; say it at once.
		if err := web.Validate(cfg.ConfigFile); err != nil {
			return fmt.Errorf("%w: --web.config.file %s: %w", ErrWebConfig, cfg.ConfigFile, err)
		}
	}
	h, err := newHandler(cfg, c, logger)
	if err != nil {
		return err
	}
	listeners := make([]net.Listener, 0, len(cfg.ListenAddresses))
	defer func() {
		for _, l := range listeners {
			l.Close() // mostly closed already by http.Server; a second Close is harmless
		}
	}()
	for _, addr := range cfg.ListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrServe, err)
		}
		listeners = append(listeners, l)
	}

	// One http.Server per listener rather than web.ListenAndServe: its
	// ServeMultiple hands one server to several web.Serve calls, each of
	// which rewrites server.Handler, a data race once --web.config.file is
	// set with more than one address.
	flags := &web.FlagConfig{WebConfigFile: &cfg.ConfigFile}
	servers := make([]*http.Server, len(listeners))
	done := make(chan error, len(listeners))
	for i, l := range listeners {
		servers[i] = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		}
		go func() {
			if err := web.Serve(l, servers[i], flags, logger); !errors.Is(err, http.ErrServerClosed) {
				done <- fmt.Errorf("%w: %s: %w", ErrServe, l.Addr(), err)
				return
			}
			done <- nil
		}()
	}

	var first error
	taken := 0
	select {
	case first = <-done:
		taken = 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil && first == nil {
			first = fmt.Errorf("%w: shutdown: %w", ErrServe, err)
		}
	}
	for range len(servers) - taken {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func newHandler(cfg WebConfig, c *Collector, logger *slog.Logger) (http.Handler, error) {
	if !strings.HasPrefix(cfg.TelemetryPath, "/") || cfg.TelemetryPath == "/" || cfg.TelemetryPath == CountsPath {
		return nil, fmt.Errorf("%w: --web.telemetry-path %q: want a path other than / and %s",
			ErrWebConfig, cfg.TelemetryPath, CountsPath)
	}
	reg := NewRegistry(c)
	metricsHandler := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// Several scrapers at once are fine; a storm of them is not.
		MaxRequestsInFlight: 10,
	}))
	counts := func(w http.ResponseWriter, r *http.Request) {
		all := false
		if v := r.URL.Query().Get("all"); v != "" {
			var err error
			if all, err = strconv.ParseBool(v); err != nil {
				http.Error(w, "all: want a boolean, e.g. all=1", http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := WriteCounts(w, &c.Snapshot().Tracker, all); err != nil {
			logger.Debug("counts not delivered", "remote", r.RemoteAddr, "err", err)
		}
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "tcptrack",
		Description: "Passive TCP connection tracker: endpoints per RFC 793 state, seen on the wire",
		Version:     version.Info(),
		// pprof is not served: an exporter on a capture host has no business
		// exposing its heap to whoever can reach the port.
		Profiling: "false",
		Links: []web.LandingLinks{
			{Address: cfg.TelemetryPath, Text: "Metrics"},
			{Address: CountsPath, Text: "Counts", Description: "netstat-style STATE count lines; ?all=1 adds LISTEN"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: landing page: %w", ErrWebConfig, err)
	}
	// Exact paths, not http.ServeMux patterns: a telemetry path from the
	// command line is a path, and must neither panic the mux with a "{" nor
	// serve a whole subtree because it ends in "/".
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case cfg.TelemetryPath:
			metricsHandler.ServeHTTP(w, r)
		case CountsPath:
			counts(w, r)
		default:
			landing.ServeHTTP(w, r) // "/" itself, and 404 for the rest
		}
	}), nil
}

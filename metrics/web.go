package metrics

import (
	"context"
	"errors"
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
	"golang.org/x/net/netutil"
)

// Defaults of WebConfig. Port 9717 is unassigned in the Prometheus exporter
// port registry (https://github.com/prometheus/prometheus/wiki/Default-port-allocations).
const (
	DefaultListenAddress = ":9717"
	DefaultTelemetryPath = "/metrics"
	// DefaultReadTimeout bounds reading one request, headers and body, from
	// its first byte, and the TLS handshake: a connection that sends nothing
	// is closed after it.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds writing one response. A scrape takes
	// milliseconds; the margin is for a large socket listing to a slow
	// client.
	DefaultWriteTimeout = time.Minute
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request: longer than the usual scrape intervals, so that a
	// scraper keeps its connection between scrapes.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxConnections caps the connections served at once, as the
	// Prometheus server's --web.max-connections does, with its default.
	DefaultMaxConnections = 512
	// CountsPath serves WriteCounts output; ?all=1 adds the LISTEN line,
	// ?format=json (or Accept: application/json) gives WriteCountsJSON.
	CountsPath = "/counts"
	// SocketsPath serves the listing, as WriteSockets or WriteSocketsJSON,
	// with the same parameters.
	SocketsPath = "/sockets"
)

// maxHeaderBytes bounds a request's header: a scrape's is a few hundred
// bytes, and every connection may hold this much while it is read.
const maxHeaderBytes = 64 << 10

// Errors returned by Listen and Serve, wrapped with context.
var (
	ErrWebConfig = errors.New("invalid web configuration")
	ErrServe     = errors.New("web listener failed")
)

// shutdownGrace bounds how long Serve waits for scrapes in flight once its
// context is cancelled.
const shutdownGrace = 5 * time.Second

// WebConfig holds the usual exporter settings. The zero value means the
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
	// ReadTimeout, WriteTimeout and IdleTimeout bound each connection, so
	// that idle and slow clients cannot hold the listener: see the
	// defaults of the same names.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnections caps the connections served at once, on each address;
	// more wait in the kernel's accept queue. Default DefaultMaxConnections.
	MaxConnections int
	// Sockets returns the current listing for SocketsPath; nil serves none.
	// It is called for each request, with the request's context.
	Sockets func(ctx context.Context, all bool) (*Listing, error)
}

func (cfg WebConfig) withDefaults() WebConfig {
	if len(cfg.ListenAddresses) == 0 {
		cfg.ListenAddresses = []string{DefaultListenAddress}
	}
	if cfg.TelemetryPath == "" {
		cfg.TelemetryPath = DefaultTelemetryPath
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
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

// Server is the web listener: bound by Listen, serving from Serve on.
// Binding first lets a caller take the addresses while it still may (a
// privileged port as root) and serve after dropping privileges.
type Server struct {
	cfg       WebConfig
	handler   http.Handler
	logger    *slog.Logger
	listeners []net.Listener
}

// Listen checks the configuration and binds every address, or binds none
// and returns an error wrapping ErrWebConfig or ErrServe.
func Listen(cfg WebConfig, c *Collector, logger *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.ConfigFile != "" {
		// exporter-toolkit would only find out after binding; say it at once.
		if err := web.Validate(cfg.ConfigFile); err != nil {
			return nil, fmt.Errorf("%w: --web.config.file %s: %w", ErrWebConfig, cfg.ConfigFile, err)
		}
	}
	h, err := newHandler(cfg, c, logger)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, handler: h, logger: logger}
	for _, addr := range cfg.ListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: %w", ErrServe, err)
		}
		// A connection over the cap waits in the kernel's accept queue,
		// costing this process neither a descriptor nor memory, until a
		// served one ends: at the latest after the idle or read timeout.
		s.listeners = append(s.listeners, netutil.LimitListener(l, cfg.MaxConnections))
	}
	return s, nil
}

// Addrs returns the bound addresses, in the order of ListenAddresses.
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Close releases the listeners of a Server that is not serving.
func (s *Server) Close() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// Serve is Listen followed by Server.Serve.
func Serve(ctx context.Context, cfg WebConfig, c *Collector, logger *slog.Logger) error {
	s, err := Listen(cfg, c, logger)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Serve serves metrics, the landing page and the counts endpoint until ctx
// is cancelled, then shuts down gracefully and returns nil. It returns early
// with an error if a listener fails; then the other listeners are shut down
// too.
func (s *Server) Serve(ctx context.Context) error {
	defer s.Close() // mostly closed already by http.Server; a second Close is harmless

	// One http.Server per listener rather than web.ListenAndServe: its
	// ServeMultiple hands one server to several web.Serve calls, each of
	// which rewrites server.Handler, a data race once --web.config.file is
	// set with more than one address; and it binds the addresses itself,
	// leaving no room for the connection cap.
	cfg := s.cfg
	flags := &web.FlagConfig{WebConfigFile: &cfg.ConfigFile}
	servers := make([]*http.Server, len(s.listeners))
	burst := newBurstRelease()
	done := make(chan error, len(s.listeners))
	for i, l := range s.listeners {
		servers[i] = &http.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: cfg.ReadTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ConnState:         burst.connState,
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelError),
		}
		go func() {
			if err := web.Serve(l, servers[i], flags, s.logger); !errors.Is(err, http.ErrServerClosed) {
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
	switch cfg.TelemetryPath {
	case "/", CountsPath, SocketsPath:
		return nil, fmt.Errorf("%w: --web.telemetry-path %q: want a path other than /, %s and %s",
			ErrWebConfig, cfg.TelemetryPath, CountsPath, SocketsPath)
	}
	if !strings.HasPrefix(cfg.TelemetryPath, "/") {
		return nil, fmt.Errorf("%w: --web.telemetry-path %q: want a path starting with /", ErrWebConfig, cfg.TelemetryPath)
	}
	reg := NewRegistry(c)
	metricsHandler := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// Several scrapers at once are fine; a storm of them is not.
		MaxRequestsInFlight: 10,
	}))
	counts := func(w http.ResponseWriter, r *http.Request) {
		all, asJSON, ok := listingParams(w, r)
		if !ok {
			return
		}
		st := &c.Snapshot().Tracker
		var err error
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			err = WriteCountsJSON(w, st, all)
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			err = WriteCounts(w, st, all)
		}
		if err != nil {
			logger.Debug("counts not delivered", "remote", r.RemoteAddr, "err", err)
		}
	}
	sockets := func(w http.ResponseWriter, r *http.Request) {
		all, asJSON, ok := listingParams(w, r)
		if !ok {
			return
		}
		l, err := cfg.Sockets(r.Context(), all)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if asJSON {
			w.Header().Set("Content-Type", "application/x-ndjson")
			err = WriteSocketsJSON(w, l, all)
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			err = WriteSockets(w, l, all)
		}
		if err != nil {
			logger.Debug("listing not delivered", "remote", r.RemoteAddr, "err", err)
		}
	}
	links := []web.LandingLinks{
		{Address: cfg.TelemetryPath, Text: "Metrics"},
		{Address: CountsPath, Text: "Counts", Description: "netstat-style STATE count lines; ?all=1 adds LISTEN, ?format=json gives JSON"},
	}
	if cfg.Sockets != nil {
		links = append(links, web.LandingLinks{Address: SocketsPath, Text: "Sockets", Description: "every endpoint, as ss -tan lists sockets; ?all=1 adds LISTEN, ?format=json gives JSON lines"})
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "tcptrack",
		Description: "Passive TCP connection tracker: endpoints per RFC 793 state, seen on the wire",
		Version:     version.Info(),
		// pprof is not served: an exporter on a capture host has no business
		// exposing its heap to whoever can reach the port.
		Profiling: "false",
		Links:     links,
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
		case SocketsPath:
			if cfg.Sockets == nil {
				http.NotFound(w, r)
				return
			}
			sockets(w, r)
		default:
			landing.ServeHTTP(w, r) // "/" itself, and 404 for the rest
		}
	}), nil
}

// listingParams reads ?all= and the format (?format=json|text, else the
// Accept header) of /counts and /sockets; on a bad value it answers 400 and
// returns ok false.
func listingParams(w http.ResponseWriter, r *http.Request) (all, asJSON, ok bool) {
	q := r.URL.Query()
	if v := q.Get("all"); v != "" {
		var err error
		if all, err = strconv.ParseBool(v); err != nil {
			http.Error(w, "all: want a boolean, e.g. all=1", http.StatusBadRequest)
			return false, false, false
		}
	}
	switch q.Get("format") {
	case "json":
		asJSON = true
	case "text":
	case "":
		asJSON = strings.Contains(r.Header.Get("Accept"), "application/json")
	default:
		http.Error(w, "format: want json or text", http.StatusBadRequest)
		return false, false, false
	}
	return all, asJSON, true
}

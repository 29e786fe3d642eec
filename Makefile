# tcptrack: build, demo, test and benchmark. `make demo` and `make test` are
# the README's two commands; both install what they need first.

export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REV     ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
VPKG    := github.com/prometheus/common/version
BRANCH  ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
# The commit's date, not the build's, so that a build is reproducible.
DATE    ?= $(shell git log -1 --format=%cd --date=format:%Y%m%d-%H:%M:%S 2>/dev/null || echo unknown)
USER    ?= $(shell id -un)
LDFLAGS := -s -w -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REV) -X $(VPKG).Branch=$(BRANCH) \
	-X $(VPKG).BuildUser=$(USER)@$(shell hostname) -X $(VPKG).BuildDate=$(DATE)

# Debian packages: libpcap-dev to build; the rest for the tests, which use
# the real kernel (iproute2, iptables, tcpdump), a real Prometheus server and
# promtool (prometheus), and a terminal (tmux) for the progress bar.
BUILD_DEBS := libpcap-dev
TEST_DEBS  := $(BUILD_DEBS) iproute2 iptables nftables tcpdump tshark prometheus tmux
BENCH_DEBS := $(BUILD_DEBS) tshark tcptrace tcpreplay time curl iproute2 tmux

DEMO_PCAP := pcaps/handshake.pcap

.PHONY: all demo build deps deps-test deps-bench test fuzz bench bench-live pgo plot-example clean

all: build

demo: deps build
	./bin/tcptrack -r $(DEMO_PCAP)

build:
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/tcptrack ./cmd/tcptrack

deps:
	@./.ci/deps $(BUILD_DEBS)
deps-test:
	@./.ci/deps $(TEST_DEBS)
deps-bench:
	@./.ci/deps $(BENCH_DEBS)

# The whole suite: vet, every package's tests (the kernel, Prometheus and
# live-capture tests need root and run as root in CI), those of deploy/ (a
# module of its own, so that the tool's go.mod lists only what the tool
# uses), then each fuzz target briefly.
test: deps-test build
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	cd deploy && $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=10s

FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench: deps-bench build
	./bench/run.sh
	@echo "live capture (root, network namespaces, tcpreplay): make bench-live"

# The live path: tcpreplay into a veth pair, both capture engines;
# VIEWS="plain top" runs each rate with the terminal view too, alternating.
bench-live: deps-bench build
	./bench/live.sh

# The profile go build optimizes with (default.pgo beside the main package,
# picked up by -pgo=auto): BenchmarkPGO runs tcptrack -r on generated traces
# under the CPU profiler (about 15 s). Run it after changing the hot path
# (reading, decoding, tracking) and commit the refreshed profile. The code
# profiled is built without the old profile (-pgo=off), so that a refresh
# depends on the source alone. The profile is written aside and copied into
# place only if the run succeeds: a broken default.pgo breaks every build.
PGO := cmd/tcptrack/default.pgo
pgo:
	@tmp=$$(mktemp -d); \
	$(GO) test -pgo=off -o $$tmp/tcptrack.test -run '^$$' -bench '^BenchmarkPGO$$' -benchtime 1x \
	  -cpuprofile $$tmp/default.pgo ./cmd/tcptrack && cp $$tmp/default.pgo $(PGO); \
	rc=$$?; rm -rf $$tmp; exit $$rc

# The picture the README shows under "States over time", from a kernel
# recording; remake it after changing the plot or the capture.
plot-example: build
	./bin/tcptrack -r pcaps/mixed.pcap --plot docs/mixed-states.svg

clean:
	rm -rf bin

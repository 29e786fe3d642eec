# syntax=docker/dockerfile:1
#
# tcptrack container image: see deploy/README.md for docker build/run lines.
#
# Two stages. The build stage compiles with `make build`, the very target CI
# runs, so the binary in the image is the binary CI tested (cgo on, linked
# against libpcap). The runtime stage is the same Debian release, so the
# glibc and libpcap the binary was linked against are the ones it runs with.

# Keep GO_VERSION equal to the go directive in go.mod (deploy/ tests check it):
# a newer image would build with a toolchain CI never ran, an older one would
# try to download the right one at build time.
ARG GO_VERSION=1.26.8
ARG DEBIAN_RELEASE=bookworm

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is not in the build context (.dockerignore), so the Makefile cannot
# ask git for the version: pass it as build arguments. An ARG is in the
# environment of RUN, where make picks it up for its VERSION ?= and REV ?=.
ARG VERSION=unknown
ARG REV=unknown
# BuildKit cache mounts keep modules (GOMODCACHE is /go/pkg/mod in the golang
# image) and compiled packages between builds. go build downloads only the
# modules the binary needs, not those of the tests.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    make build

FROM debian:${DEBIAN_RELEASE}-slim
ARG VERSION=unknown
ARG REV=unknown
LABEL org.opencontainers.image.title="tcptrack" \
      org.opencontainers.image.description="Passive TCP connection tracker: per-state endpoint counts from a capture file or a live interface, exported to Prometheus" \
      org.opencontainers.image.source="https://github.com/tcptrack/tcptrack" \
      org.opencontainers.image.documentation="https://github.com/tcptrack/tcptrack/blob/main/deploy/README.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REV}" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN_RELEASE}-slim"
# libpcap0.8 is the runtime of bookworm's libpcap-dev (libpcap.so.0.8).
# libcap2-bin gives setcap for the step below and getcap to check it later.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so that Kubernetes' runAsNonRoot can verify it and
# runAsUser in deploy/kubernetes/daemonset.yaml can name it.
RUN groupadd --system --gid 65532 tcptrack \
 && useradd --system --uid 65532 --gid tcptrack --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin tcptrack
COPY --from=build /src/bin/tcptrack /usr/local/bin/tcptrack
# Fail the build here, not at run time, if the binary cannot load libpcap.
RUN ["/usr/local/bin/tcptrack", "--version"]
# Live capture opens an AF_PACKET socket, which needs CAP_NET_RAW. Neither
# Docker nor Kubernetes gives a non-root process ambient capabilities, so the
# capability is set on the file, in this stage: COPY --from does not carry
# the security.capability attribute on every builder. At exec the process
# gets cap_net_raw only if the container's bounding set has it (Docker's
# default set does; Kubernetes: capabilities.add NET_RAW) and no_new_privs is
# off (do not use --security-opt no-new-privileges; Kubernetes:
# allowPrivilegeEscalation must stay true). If the bounding set lacks it
# (--cap-drop ALL without --cap-add NET_RAW) the kernel refuses the exec
# with "operation not permitted", even for file mode.
RUN setcap cap_net_raw=ep /usr/local/bin/tcptrack \
 && getcap /usr/local/bin/tcptrack | grep -q cap_net_raw
USER 65532:65532
# File mode: mount captures here and pass -r NAME.
WORKDIR /data
EXPOSE 9717
ENTRYPOINT ["/usr/local/bin/tcptrack"]
CMD ["--help"]

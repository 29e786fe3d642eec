// Package deploy holds no code: it is where the files that ship tcptrack are
// tested. The tests check the Dockerfile against the Makefile's build target,
// decode the Kubernetes manifests strictly into the Kubernetes API types,
// run promtool over the Prometheus rules and configuration, and check that
// every metric the rules and the Grafana dashboard name is one tcptrack's own
// collector exports.
package deploy

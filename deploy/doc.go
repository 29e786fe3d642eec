// Package deploy holds no code: it is where the files that ship tcptrack are
// tested. The tests check the Dockerfile against the Makefile's build target,
// decode the Kubernetes manifests strictly into the Kubernetes API types,
// run promtool over the Prometheus rules and configuration, and check that
// every metric the rules and the Grafana dashboard name is one tcptrack's own
// collector exports.
//
// The tests are a module of their own (go.mod beside this file, the tool's
// module replaced by this checkout), so that the Kubernetes and Prometheus
// packages they decode with are not requirements of the tool. make test
// runs them; by hand, `cd deploy && go test ./...`.
package deploy

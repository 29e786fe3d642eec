package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/util/strutil"
	yaml "go.yaml.in/yaml/v2"

	"github.com/tcptrack/tcptrack/metrics"
)

const (
	promDir       = "deploy/prometheus"
	rulesFile     = promDir + "/rules/tcptrack.rules.yml"
	rulesTestFile = promDir + "/rules/tcptrack.rules.test.yml"
)

// ruleFile is a Prometheus rule file, strictly: a misspelt key fails.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var f ruleFile
	if err := yaml.UnmarshalStrict(readFile(t, rulesFile), &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// promtool returns the path of promtool. Without it the test is skipped,
// except as root: CI runs as root and installs it (Debian package prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		t.Fatal("promtool not found: install the Debian package prometheus (make deps-test)")
	}
	t.Skip("promtool not found: install the Debian package prometheus; CI runs this as root")
	return ""
}

// runPromtool runs promtool in the module root and returns its combined
// output and whether it succeeded.
func runPromtool(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func TestPromtool(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", rulesFile}},
		// Also checks the rule files the configuration names.
		{"check config", []string{"check", "config", promDir + "/prometheus.yml"}},
		{"test rules", []string{"test", "rules", rulesTestFile}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if out, ok := runPromtool(t, c.args...); !ok {
				t.Errorf("promtool %s:\n%s", strings.Join(c.args, " "), out)
			}
		})
	}

	t.Run("check config kubernetes", func(t *testing.T) {
		// Debian builds Prometheus without Kubernetes discovery: its
		// promtool rejects kubernetes_sd_configs whatever the rest says.
		// TestKubernetesScrapeRelabelling covers the file there.
		probe := filepath.Join(t.TempDir(), "probe.yml")
		if err := os.WriteFile(probe, []byte("scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, ok := runPromtool(t, "check", "config", probe); !ok {
			t.Skipf("this promtool has no Kubernetes discovery:\n%s", out)
		}
		file := promDir + "/prometheus-kubernetes.yml"
		if out, ok := runPromtool(t, "check", "config", file); !ok {
			t.Errorf("promtool check config %s:\n%s", file, out)
		}
	})
}

// TestAlertsActionable checks what promtool does not: every alert has a
// severity, a summary and a description, and a unit test that fires it.
func TestAlertsActionable(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				AlertName string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(readFile(t, rulesTestFile), &tests); err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	silent := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.AlertName] = true
			} else {
				silent[a.AlertName] = true
			}
		}
	}
	alerts := 0
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts++
		t.Run(r.Alert, func(t *testing.T) {
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("severity %q", r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 100 {
				t.Errorf("needs a summary and a description that says what to do: %v", r.Annotations)
			}
			if r.For == "" {
				t.Error("no for: a single bad scrape would page")
			}
			if !fired[r.Alert] || !silent[r.Alert] {
				t.Errorf("%s needs a unit test where it fires and one where it does not", rulesTestFile)
			}
		})
	}
	if alerts == 0 {
		t.Fatal("no alerts")
	}
}

// promKubernetesConfig is the part of prometheus-kubernetes.yml that
// Debian's promtool cannot check.
type promKubernetesConfig struct {
	Global        map[string]string `yaml:"global"`
	RuleFiles     []string          `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName             string `yaml:"job_name"`
		KubernetesSDConfigs []struct {
			Role       string `yaml:"role"`
			Namespaces struct {
				Names []string `yaml:"names"`
			} `yaml:"namespaces"`
		} `yaml:"kubernetes_sd_configs"`
		RelabelConfigs []*relabel.Config `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

// TestKubernetesScrapeRelabelling runs the Kubernetes scrape job's
// relabelling, with Prometheus' own relabel code, over the target that pod
// discovery makes of the DaemonSet's pod: it must be scraped on the node's
// address at the metrics port and path, named after the node; other pods
// must be dropped.
func TestKubernetesScrapeRelabelling(t *testing.T) {
	var cfg promKubernetesConfig
	file := promDir + "/prometheus-kubernetes.yml"
	if err := yaml.UnmarshalStrict(readFile(t, file), &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if !slices.Equal(cfg.RuleFiles, []string{"rules/tcptrack.rules.yml"}) {
		t.Errorf("rule_files %v", cfg.RuleFiles)
	}
	if len(cfg.ScrapeConfigs) != 1 || len(cfg.ScrapeConfigs[0].KubernetesSDConfigs) != 1 {
		t.Fatalf("want one scrape job with one kubernetes_sd_configs entry")
	}
	job := cfg.ScrapeConfigs[0]
	m := loadManifests(t)
	sd := job.KubernetesSDConfigs[0]
	if sd.Role != "pod" || !slices.Equal(sd.Namespaces.Names, []string{m.namespace.Name}) {
		t.Errorf("kubernetes_sd_configs role %q namespaces %v, want pod in %s", sd.Role, sd.Namespaces.Names, m.namespace.Name)
	}
	for i, rc := range job.RelabelConfigs {
		if err := rc.Validate(model.UTF8Validation); err != nil {
			t.Fatalf("relabel_configs[%d]: %v", i, err)
		}
	}

	const nodeIP, node = "192.0.2.7", "node-a"
	tmpl := m.daemonSet.Spec.Template
	port := strconv.Itoa(int(tmpl.Spec.Containers[0].Ports[0].ContainerPort))
	// The meta labels Kubernetes pod discovery attaches to a target, for a
	// pod with these labels and annotations (hostNetwork: the pod's IP is
	// the node's).
	target := func(podLabels, annotations map[string]string) map[string]string {
		l := map[string]string{
			model.AddressLabel:                            nodeIP + ":" + port,
			"__meta_kubernetes_namespace":                 m.namespace.Name,
			"__meta_kubernetes_pod_name":                  "tcptrack-x7k2p",
			"__meta_kubernetes_pod_ip":                    nodeIP,
			"__meta_kubernetes_pod_node_name":             node,
			"__meta_kubernetes_pod_container_port_number": port,
		}
		for k, v := range podLabels {
			l["__meta_kubernetes_pod_label_"+strutil.SanitizeLabelName(k)] = v
			l["__meta_kubernetes_pod_labelpresent_"+strutil.SanitizeLabelName(k)] = "true"
		}
		for k, v := range annotations {
			l["__meta_kubernetes_pod_annotation_"+strutil.SanitizeLabelName(k)] = v
			l["__meta_kubernetes_pod_annotationpresent_"+strutil.SanitizeLabelName(k)] = "true"
		}
		return l
	}
	process := func(l map[string]string) (map[string]string, bool) {
		lb := labels.NewBuilder(labels.FromMap(l))
		if !relabel.ProcessBuilder(lb, job.RelabelConfigs...) {
			return nil, false
		}
		return lb.Labels().Map(), true
	}

	got, keep := process(target(tmpl.Labels, tmpl.Annotations))
	if !keep {
		t.Fatal("the DaemonSet's pod is dropped")
	}
	for k, want := range map[string]string{
		model.AddressLabel:     nodeIP + ":" + port,
		model.MetricsPathLabel: metrics.DefaultTelemetryPath,
		model.InstanceLabel:    node,
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}

	other := map[string]string{"app.kubernetes.io/name": "something-else"}
	if _, keep := process(target(other, tmpl.Annotations)); keep {
		t.Error("another app's pod in the namespace is scraped")
	}
	off := map[string]string{}
	for k, v := range tmpl.Annotations {
		off[k] = v
	}
	off["prometheus.io/scrape"] = "false"
	if _, keep := process(target(tmpl.Labels, off)); keep {
		t.Error("a pod annotated prometheus.io/scrape=false is scraped")
	}
}

// TestConfigTargetsMetricsPort checks that the static scrape target is the
// port tcptrack listens on by default.
func TestConfigTargetsMetricsPort(t *testing.T) {
	var cfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readFile(t, promDir+"/prometheus.yml"), &cfg); err != nil {
		t.Fatal(err)
	}
	want := "localhost" + metrics.DefaultListenAddress
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	if !slices.Contains(targets, want) {
		t.Errorf("prometheus.yml scrapes %v, not %s", targets, want)
	}
}

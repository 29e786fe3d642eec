package deploy

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/tcptrack/tcptrack/internal/gen"
	"github.com/tcptrack/tcptrack/metrics"
)

const k8sDir = "deploy/kubernetes"

// Memory sizing of the DaemonSet, as deploy/kubernetes/daemonset.yaml states
// it: tcptrack's measured peak with a full flow table, a quarter more for
// traffic that is not a SYN flood, and what live mode adds to file mode
// (libpcap's ring, the web listener).
const (
	memMarginNum, memMarginDen = 5, 4
	memLive                    = 64 << 20
)

// manifests holds the decoded objects of deploy/kubernetes.
type manifests struct {
	namespace  *corev1.Namespace
	account    *corev1.ServiceAccount
	config     *corev1.ConfigMap
	daemonSet  *appsv1.DaemonSet
	service    *corev1.Service
	kustomized kustomization
}

// kustomization is the part of kustomize's Kustomization that we use; its
// API types live in kustomize, which is far too big a dependency for this.
type kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Resources  []string         `json:"resources"`
	Images     []kustomizeImage `json:"images"`
}

type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// loadManifests decodes every file of the kustomization strictly into the
// Kubernetes API type its kind names: an unknown or misspelt field, a value
// of the wrong type or a duplicate key fails.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	if err := yaml.UnmarshalStrict(readFile(t, k8sDir+"/kustomization.yaml"), &m.kustomized); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if m.kustomized.Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: kind %q", m.kustomized.Kind)
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(m.kustomized.Resources, name) {
			t.Errorf("%s is not in kustomization.yaml's resources: kubectl apply -k would skip it", name)
		}
	}
	for _, name := range m.kustomized.Resources {
		data := readFile(t, k8sDir+"/"+name)
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(data, &tm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			m.namespace = &corev1.Namespace{}
			obj = m.namespace
		case "v1 ServiceAccount":
			m.account = &corev1.ServiceAccount{}
			obj = m.account
		case "v1 ConfigMap":
			m.config = &corev1.ConfigMap{}
			obj = m.config
		case "apps/v1 DaemonSet":
			m.daemonSet = &appsv1.DaemonSet{}
			obj = m.daemonSet
		case "v1 Service":
			m.service = &corev1.Service{}
			obj = m.service
		default:
			t.Fatalf("%s: unexpected %s %s", name, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if m.namespace == nil || m.account == nil || m.config == nil || m.daemonSet == nil || m.service == nil {
		t.Fatalf("kustomization lacks one of Namespace, ServiceAccount, ConfigMap, DaemonSet, Service")
	}
	return m
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	// What the manifest test relies on: a misplaced field fails.
	bad := []byte("apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      hostNetwrok: true\n")
	if err := yaml.UnmarshalStrict(bad, &appsv1.DaemonSet{}); err == nil {
		t.Fatal("UnmarshalStrict accepted hostNetwrok")
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	ds := m.daemonSet
	pod := &ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", len(pod.Containers))
	}
	c := &pod.Containers[0]
	_, portStr, err := net.SplitHostPort(metrics.DefaultListenAddress)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("one namespace", func(t *testing.T) {
		ns := m.namespace.Name
		for kind, meta := range map[string]metav1.ObjectMeta{
			"ServiceAccount": m.account.ObjectMeta, "ConfigMap": m.config.ObjectMeta,
			"DaemonSet": ds.ObjectMeta, "Service": m.service.ObjectMeta,
		} {
			if meta.Namespace != ns {
				t.Errorf("%s %s is in namespace %q, want %q", kind, meta.Name, meta.Namespace, ns)
			}
		}
		// hostNetwork is refused below the privileged Pod Security level.
		if lvl := m.namespace.Labels["pod-security.kubernetes.io/enforce"]; lvl != "privileged" {
			t.Errorf("namespace enforces Pod Security %q; hostNetwork needs privileged", lvl)
		}
	})

	t.Run("selectors", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		podLabels := ds.Spec.Template.Labels
		if !sel.Matches(labels.Set(podLabels)) {
			t.Errorf("DaemonSet selector %v does not match its pod labels %v", sel, podLabels)
		}
		for k, v := range m.service.Spec.Selector {
			if podLabels[k] != v {
				t.Errorf("Service selects %s=%s, pod labels are %v", k, v, podLabels)
			}
		}
	})

	t.Run("host network", func(t *testing.T) {
		if !pod.HostNetwork {
			t.Error("hostNetwork is off: the pod would capture its own veth, not the node's interfaces")
		}
		if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			t.Errorf("dnsPolicy %q, want ClusterFirstWithHostNet with hostNetwork", pod.DNSPolicy)
		}
	})

	t.Run("security context", func(t *testing.T) {
		if pod.ServiceAccountName != m.account.Name {
			t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, m.account.Name)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Error("the pod mounts an API token it never uses")
		}
		ps, cs := pod.SecurityContext, c.SecurityContext
		if ps == nil || cs == nil {
			t.Fatal("pod or container securityContext missing")
		}
		if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
			t.Error("runAsNonRoot is not set")
		}
		if uid := dockerfileUID(t); ps.RunAsUser == nil || *ps.RunAsUser != uid {
			t.Errorf("runAsUser %v, want the image's USER %d", ps.RunAsUser, uid)
		}
		if cs.Capabilities == nil ||
			!slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			!slices.Equal(cs.Capabilities.Add, []corev1.Capability{"NET_RAW"}) {
			t.Errorf("capabilities %+v, want drop [ALL] add [NET_RAW]", cs.Capabilities)
		}
		// false would set no_new_privs, under which the kernel ignores the
		// binary's file capability: the non-root process would have no
		// CAP_NET_RAW and could not open the capture.
		if cs.AllowPrivilegeEscalation == nil || !*cs.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation must be true for the file capability to apply")
		}
		if cs.Privileged != nil && *cs.Privileged {
			t.Error("the container is privileged")
		}
		if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not set")
		}
	})

	t.Run("ports, probes and scrape annotations", func(t *testing.T) {
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != int32(port) {
			t.Fatalf("container ports %+v, want %d (metrics.DefaultListenAddress)", c.Ports, port)
		}
		named := c.Ports[0].Name
		for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s probe is not an HTTP GET", name)
				continue
			}
			if p.HTTPGet.Path != metrics.DefaultTelemetryPath {
				t.Errorf("%s probe path %q, want %q", name, p.HTTPGet.Path, metrics.DefaultTelemetryPath)
			}
			if p.HTTPGet.Port != intstr.FromString(named) && p.HTTPGet.Port != intstr.FromInt32(int32(port)) {
				t.Errorf("%s probe port %v, want %s or %d", name, p.HTTPGet.Port.String(), named, port)
			}
		}
		ann := ds.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != portStr ||
			ann["prometheus.io/path"] != metrics.DefaultTelemetryPath {
			t.Errorf("scrape annotations %v", ann)
		}
		sp := m.service.Spec
		if sp.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service clusterIP %q, want None (headless: one endpoint per node)", sp.ClusterIP)
		}
		if len(sp.Ports) != 1 || sp.Ports[0].Port != int32(port) || sp.Ports[0].TargetPort != intstr.FromString(named) {
			t.Errorf("Service ports %+v", sp.Ports)
		}
	})

	t.Run("image", func(t *testing.T) {
		name, _, _ := strings.Cut(c.Image, ":")
		if !slices.ContainsFunc(m.kustomized.Images, func(i kustomizeImage) bool { return i.Name == name }) {
			t.Errorf("image %s has no images entry in kustomization.yaml to point it at a registry", c.Image)
		}
	})

	t.Run("arguments parse", func(t *testing.T) {
		args := expandArgs(t, m, c)
		if i := slices.Index(args, "-i"); i < 0 || i+1 >= len(args) || args[i+1] == "" {
			t.Errorf("args %q: want -i INTERFACE from the ConfigMap", args)
		}
		// tcptrack parses its flags before acting on --version: an
		// unknown flag or a bad value exits 2.
		bin := tcptrackBinary(t)
		out, err := exec.Command(bin, append([]string{"--version"}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("tcptrack --version %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})

	t.Run("memory sized for max-flows", func(t *testing.T) {
		if testing.Short() {
			t.Skip("fills a flow table to its bound: a few seconds and a few hundred MiB")
		}
		maxFlows := flagInt(t, expandArgs(t, m, c), "max-flows")
		limit := c.Resources.Limits.Memory()
		request := c.Resources.Requests.Memory()
		if request.IsZero() || request.Cmp(*limit) > 0 {
			t.Errorf("memory request %v: want set and at most the limit %v", request, limit)
		}
		if c.Resources.Limits.Cpu().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Error("CPU request or limit missing")
		}
		gomem := envValue(c, "GOMEMLIMIT")
		q, err := resource.ParseQuantity(strings.TrimSuffix(gomem, "B"))
		if err != nil {
			t.Fatalf("GOMEMLIMIT %q: %v", gomem, err)
		}
		if q.Cmp(*limit) >= 0 {
			t.Errorf("GOMEMLIMIT %s is not below the memory limit %v", gomem, limit)
		}
		rss := peakRSS(t, maxFlows, gomem)
		t.Logf("--max-flows=%d GOMEMLIMIT=%s: peak RSS %d MiB, %d bytes per flow", maxFlows, gomem, rss>>20, rss/int64(maxFlows))
		if need := rss*memMarginNum/memMarginDen + memLive; need > limit.Value() {
			t.Errorf("memory limit %v < %d MiB: peak RSS %d MiB x %d/%d + %d MiB for live mode",
				limit, need>>20, rss>>20, memMarginNum, memMarginDen, memLive>>20)
		}
		// Below the peak the GC would run without end.
		if q.Value() < rss {
			t.Errorf("GOMEMLIMIT %s is below the peak RSS %d MiB", gomem, rss>>20)
		}
	})
}

// dockerfileUID is the uid of the image's USER.
func dockerfileUID(t *testing.T) int64 {
	t.Helper()
	_, _, final := loadDockerfile(t)
	uid, _, _ := strings.Cut(final.all("USER")[0].args, ":")
	n, err := strconv.ParseInt(uid, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// expandArgs returns the container's args as the kubelet passes them:
// $(NAME) replaced by the env value, taken from the ConfigMap where the env
// refers to it.
func expandArgs(t *testing.T, m *manifests, c *corev1.Container) []string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v, ok := m.config.Data[ref.Key]
			if ref.Name != m.config.Name || !ok {
				t.Fatalf("env %s refers to ConfigMap %s key %s, which is not in configmap.yaml", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			t.Fatalf("env %s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var out []string
	for _, a := range c.Args {
		out = append(out, ref.ReplaceAllStringFunc(a, func(s string) string {
			v, ok := env[s[2:len(s)-1]]
			if !ok {
				t.Errorf("arg %q refers to %s, which no env defines: the kubelet would pass it literally", a, s)
			}
			return v
		}))
	}
	return out
}

func flagInt(t *testing.T, args []string, name string) int {
	t.Helper()
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if a == "--"+name && i+1 < len(args) {
			n, err := strconv.Atoi(args[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("args %q do not set --%s: the sizing would rest on a default", args, name)
	return 0
}

// peakRSS runs tcptrack over a SYN flood from an eighth more spoofed
// sources than maxFlows, with the DaemonSet's --max-flows and GOMEMLIMIT, and returns its
// peak resident memory. The table fills to its bound and then evicts, as on
// a node under a flood. File mode: the same tracker as live mode, facts
// included, without the capture ring and the web listener, which memLive
// accounts for.
func peakRSS(t *testing.T, maxFlows int, gomemlimit string) int64 {
	t.Helper()
	pcap := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := gen.Generate(w, gen.Config{Mode: gen.SYNFlood, Seed: 1, Sources: maxFlows + maxFlows/8}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// --connections keeps the per-connection facts the exporter keeps
	// live for its RTT and age metrics (80 bytes a flow).
	cmd := exec.Command(tcptrackBinary(t), "-r", pcap, "-a", "--max-flows="+strconv.Itoa(maxFlows), "--connections", os.DevNull)
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+gomemlimit)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcptrack -r flood: %v", err)
	}
	// Every flow in the full table is a SYN sent once that nobody
	// answered: one unconfirmed SYN_SENT client each, and no server
	// endpoint (tracker/RULES.md).
	if want := fmt.Sprintf("UNCONFIRMED %d\n", maxFlows); string(out) != want {
		t.Fatalf("tcptrack -r flood printed %q, want %q: the table did not fill", out, want)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

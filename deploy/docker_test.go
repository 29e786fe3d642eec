package deploy

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/metrics"
)

// Errors of the Dockerfile parser.
var (
	errDockerfile  = errors.New("malformed Dockerfile")
	errNoGoVersion = errors.New("no go directive")
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
	line int
}

// stage is one FROM and the instructions under it.
type stage struct {
	name  string
	image string // global ARGs expanded
	ins   []instruction
}

// dockerfile is the parse of a Dockerfile: global ARG defaults and stages.
type dockerfile struct {
	args   map[string]string
	stages []stage
}

// parseDockerfile reads the subset of the syntax that our Dockerfile uses:
// backslash continuations, comments (also inside continuations, which
// Docker drops), global ARGs with defaults and FROM ... AS name.
func parseDockerfile(r io.Reader) (*dockerfile, error) {
	df := &dockerfile{args: map[string]string{}}
	sc := bufio.NewScanner(r)
	var cur []string
	start, n := 0, 0
	flush := func() error {
		text := strings.Join(cur, " ")
		cur = nil
		cmd, args, _ := strings.Cut(strings.TrimSpace(text), " ")
		ins := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		switch {
		case ins.cmd == "FROM":
			f := strings.Fields(ins.args)
			st := stage{image: os.Expand(f[0], func(k string) string { return df.args[k] })}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				return fmt.Errorf("%w: line %d: FROM %s", errDockerfile, start, ins.args)
			}
			df.stages = append(df.stages, st)
		case len(df.stages) == 0 && ins.cmd == "ARG":
			k, v, _ := strings.Cut(ins.args, "=")
			df.args[k] = v
		case len(df.stages) == 0:
			return fmt.Errorf("%w: line %d: %s before the first FROM", errDockerfile, start, ins.cmd)
		default:
			st := &df.stages[len(df.stages)-1]
			st.ins = append(st.ins, ins)
		}
		return nil
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur == nil {
			start = n
		}
		body, more := strings.CutSuffix(line, `\`)
		cur = append(cur, strings.TrimSpace(body))
		if !more {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%w: continuation at end of file", errDockerfile)
	}
	return df, nil
}

// all returns the stage's instructions of kind cmd.
func (s *stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// runCommand returns the shell command of a RUN, without its --mount and
// other flags and with whitespace collapsed.
func runCommand(args string) string {
	f := strings.Fields(args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		f = f[1:]
	}
	return strings.Join(f, " ")
}

// aptPackages returns the packages that the stage's RUNs apt-get install.
func aptPackages(s *stage) []string {
	var pkgs []string
	for _, in := range s.all("RUN") {
		f := strings.Fields(runCommand(in.args))
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "apt-get" || !slices.Contains(f[i+1:], "install") {
				continue
			}
			j := i + 1 + slices.Index(f[i+1:], "install") + 1
			for ; j < len(f) && f[j] != "&&" && f[j] != ";"; j++ {
				if !strings.HasPrefix(f[j], "-") {
					pkgs = append(pkgs, f[j])
				}
			}
		}
	}
	return pkgs
}

// execForm decodes a JSON-array instruction argument such as ENTRYPOINT's.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Fatalf("line %d: %s is not in exec form: %v", in.line, in.cmd, err)
	}
	return argv
}

// goVersion returns the toolchain go.mod asks for: its toolchain directive,
// or else its go directive.
func goVersion(gomod []byte) (string, error) {
	var goLine, toolchain string
	for line := range strings.Lines(string(gomod)) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "go" {
			goLine = f[1]
		}
		if len(f) == 2 && f[0] == "toolchain" {
			toolchain = strings.TrimPrefix(f[1], "go")
		}
	}
	switch {
	case toolchain != "":
		return toolchain, nil
	case goLine != "":
		return goLine, nil
	}
	return "", errNoGoVersion
}

// makeVar evaluates a variable of the Makefile as make itself does.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	printer := filepath.Join(t.TempDir(), "print.mk")
	if err := os.WriteFile(printer, []byte("print-%:\n\t@echo $($*)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(run(t, nil, "make", "-s", "--no-print-directory", "-f", "Makefile", "-f", printer, "print-"+name))
}

func loadDockerfile(t *testing.T) (df *dockerfile, build, final *stage) {
	t.Helper()
	df, err := parseDockerfile(strings.NewReader(string(readFile(t, "Dockerfile"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(df.stages))
	}
	return df, &df.stages[0], &df.stages[1]
}

// TestDockerfileBuildsWithMakefile checks that the image builds its binary
// with the Makefile's build target, the one CI runs, with the Go toolchain
// go.mod names, and copies out the file that target writes.
func TestDockerfileBuildsWithMakefile(t *testing.T) {
	_, build, final := loadDockerfile(t)

	t.Run("toolchain", func(t *testing.T) {
		want, err := goVersion(readFile(t, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		image, ok := strings.CutPrefix(build.image, "golang:")
		if !ok {
			t.Fatalf("build stage FROM %s, want the golang image", build.image)
		}
		version, release, _ := strings.Cut(image, "-")
		if version != want {
			t.Errorf("build stage uses Go %s, go.mod asks for %s: CI and the image would build with different toolchains", version, want)
		}
		// The binary links against the build stage's glibc and libpcap:
		// the runtime stage must be the same Debian release.
		if runtime := "debian:" + release + "-slim"; final.image != runtime {
			t.Errorf("runtime stage FROM %s, want %s (the build stage's Debian release)", final.image, runtime)
		}
	})

	t.Run("make build", func(t *testing.T) {
		var makes []string
		for _, in := range build.all("RUN") {
			cmd := runCommand(in.args)
			for _, sub := range regexp.MustCompile(`&&|\|\||;`).Split(cmd, -1) {
				if f := strings.Fields(sub); len(f) > 0 && f[0] == "make" {
					makes = append(makes, cmd)
				}
			}
		}
		if len(makes) != 1 || makes[0] != "make build" {
			t.Errorf("build stage runs %q, want exactly one RUN of \"make build\"", makes)
		}
		pkgs := aptPackages(build)
		for _, p := range append(strings.Fields(makeVar(t, "BUILD_DEBS")), "make") {
			if !slices.Contains(pkgs, p) {
				t.Errorf("build stage installs %v, not %s (Makefile BUILD_DEBS)", pkgs, p)
			}
		}
	})

	t.Run("build arguments reach the Makefile", func(t *testing.T) {
		// ARGs are in the environment of RUN; make must take them over
		// its own defaults (VERSION ?= ...), since .git is not in the
		// build context.
		var env []string
		for _, in := range build.all("ARG") {
			name, _, _ := strings.Cut(in.args, "=")
			env = append(env, name+"=sentinel-"+strings.ToLower(name))
		}
		if len(env) == 0 {
			t.Fatal("build stage declares no ARG for the version")
		}
		cmd := run(t, env, "make", "-n", "--no-print-directory", "build")
		for _, e := range env {
			_, v, _ := strings.Cut(e, "=")
			if !strings.Contains(cmd, v) {
				t.Errorf("make -n build with %s does not use it:\n%s", e, cmd)
			}
		}
	})

	t.Run("copies the binary make build writes", func(t *testing.T) {
		cmd := run(t, nil, "make", "-n", "--no-print-directory", "build")
		f := strings.Fields(cmd)
		i := slices.Index(f, "-o")
		if i < 0 || i+1 >= len(f) || !slices.Contains(f, "build") || !strings.HasSuffix(f[len(f)-1], "./cmd/tcptrack") {
			t.Fatalf("make -n build: %q, want go build ... -o FILE ./cmd/tcptrack", cmd)
		}
		workdirs := build.all("WORKDIR")
		if len(workdirs) != 1 {
			t.Fatalf("build stage has %d WORKDIRs, want 1", len(workdirs))
		}
		out := path.Join(workdirs[0].args, f[i+1])
		copies := final.all("COPY")
		want := "--from=" + build.name + " " + out + " "
		if len(copies) != 1 || !strings.HasPrefix(copies[0].args, want) {
			t.Fatalf("runtime stage COPY %v, want one COPY %s...", copies, want)
		}
		dest := strings.Fields(copies[0].args)[2]
		entry := final.all("ENTRYPOINT")
		if len(entry) != 1 || !slices.Equal(execForm(t, entry[0]), []string{dest}) {
			t.Errorf("ENTRYPOINT %v, want [%q]", entry, dest)
		}
	})
}

// TestDockerfileRuntime checks the runtime stage: the libpcap runtime the
// binary links against, a non-root user with the capability set on the
// binary, the metrics port and the OCI labels.
func TestDockerfileRuntime(t *testing.T) {
	_, _, final := loadDockerfile(t)
	entry := execForm(t, final.all("ENTRYPOINT")[0])[0]

	t.Run("libpcap runtime", func(t *testing.T) {
		// The package that holds the libpcap soname the binary needs, as
		// dpkg knows it here. Only meaningful on the image's Debian
		// release, where the build stage's libpcap-dev is this host's.
		release := strings.TrimSuffix(strings.TrimPrefix(final.image, "debian:"), "-slim")
		if codename := osReleaseCodename(t); codename != release {
			t.Skipf("host is Debian %q, image is %q: sonames may differ", codename, release)
		}
		f, err := elf.Open(tcptrackBinary(t))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		libs, err := f.ImportedLibraries()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(libs, func(l string) bool { return strings.HasPrefix(l, "libpcap.so") })
		if i < 0 {
			t.Fatalf("tcptrack links %v, no libpcap", libs)
		}
		owner := strings.TrimSpace(run(t, nil, "dpkg-query", "-S", "*/"+libs[i]))
		pkg, _, _ := strings.Cut(owner, ":")
		if pkgs := aptPackages(final); !slices.Contains(pkgs, pkg) {
			t.Errorf("tcptrack needs %s from %s; the runtime stage installs %v", libs[i], pkg, pkgs)
		}
	})

	t.Run("non-root user with cap_net_raw on the binary", func(t *testing.T) {
		users := final.all("USER")
		if len(users) != 1 {
			t.Fatalf("runtime stage has %d USER instructions, want 1", len(users))
		}
		uid, _, _ := strings.Cut(users[0].args, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("USER %s: want a numeric non-zero uid, so that runAsNonRoot can check it", users[0].args)
		}
		copyLine := final.all("COPY")[0].line
		setcap := false
		for _, in := range final.all("RUN") {
			cmd := runCommand(in.args)
			if strings.Contains(cmd, "setcap cap_net_raw=ep "+entry) && in.line > copyLine && in.line < users[0].line {
				setcap = true
			}
		}
		if !setcap {
			t.Errorf("no RUN setcap cap_net_raw=ep %s after the COPY and before USER", entry)
		}
	})

	t.Run("metrics port", func(t *testing.T) {
		_, port, err := net.SplitHostPort(metrics.DefaultListenAddress)
		if err != nil {
			t.Fatal(err)
		}
		if exp := final.all("EXPOSE"); len(exp) != 1 || exp[0].args != port {
			t.Errorf("EXPOSE %v, want %s (metrics.DefaultListenAddress)", exp, port)
		}
	})

	t.Run("OCI labels", func(t *testing.T) {
		got := map[string]bool{}
		for _, in := range final.all("LABEL") {
			for _, m := range regexp.MustCompile(`([a-z.]+)="[^"]+"`).FindAllStringSubmatch(in.args, -1) {
				got[m[1]] = true
			}
		}
		for _, k := range []string{"title", "description", "source", "version", "revision"} {
			if !got["org.opencontainers.image."+k] {
				t.Errorf("no LABEL org.opencontainers.image.%s", k)
			}
		}
	})

	t.Run("commands the image runs", func(t *testing.T) {
		// The build's smoke test and the default CMD must succeed.
		bin := tcptrackBinary(t)
		var runs [][]string
		for _, in := range final.all("RUN") {
			if strings.HasPrefix(in.args, "[") {
				runs = append(runs, execForm(t, in))
			}
		}
		for _, in := range final.all("CMD") {
			runs = append(runs, append([]string{entry}, execForm(t, in)...))
		}
		if len(runs) == 0 {
			t.Fatal("the runtime stage runs the binary nowhere")
		}
		for _, argv := range runs {
			if argv[0] != entry {
				continue
			}
			if out, err := exec.Command(bin, argv[1:]...).CombinedOutput(); err != nil {
				t.Errorf("tcptrack %v: %v\n%s", argv[1:], err, out)
			}
		}
	})
}

func osReleaseCodename(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "VERSION_CODENAME="); ok {
			return v
		}
	}
	return ""
}

// dockerignore is a .dockerignore: patterns in order, the last match wins.
type dockerignore []struct {
	re        *regexp.Regexp
	exception bool
}

func parseDockerignore(src string) dockerignore {
	var d dockerignore
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, exc := strings.CutPrefix(line, "!")
		p = strings.TrimPrefix(path.Clean(p), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re        *regexp.Regexp
			exception bool
		}{regexp.MustCompile(re.String()), exc})
	}
	return d
}

// ignored reports whether file (slash-separated, relative to the context)
// is left out of the build context: a pattern matching it or one of its
// parent directories excludes it.
func (d dockerignore) ignored(file string) bool {
	out := false
	for _, p := range d {
		for dir := file; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if p.re.MatchString(dir) {
				out = !p.exception
				break
			}
		}
	}
	return out
}

func TestDockerignore(t *testing.T) {
	ign := parseDockerignore(string(readFile(t, ".dockerignore")))

	// The patterns do what they are meant to, in Docker's semantics.
	for _, c := range []struct {
		file string
		want bool
	}{
		{".git/HEAD", true},
		{"pcaps/handshake.pcap", true},
		{"decode/testdata/x.pcap", true},
		{"testdata/golden.txt", true},
		{"deploy/kubernetes/daemonset.yaml", true},
		{"tracker/tracker.go", false},
		{"cmd/tcptrack/main.go", false},
	} {
		if got := ign.ignored(c.file); got != c.want {
			t.Errorf("ignored(%s) = %v, want %v", c.file, got, c.want)
		}
	}

	// Nothing that make build reads is left out: go.mod, go.sum, the
	// Makefile and every source file of ./cmd/tcptrack's packages in this
	// module.
	need := []string{"go.mod", "go.sum", "Makefile"}
	out := run(t, []string{"CGO_ENABLED=1"}, goTool(t), "list", "-deps", "-json", "./cmd/tcptrack")
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var p struct {
			Dir                                                   string
			GoFiles, CgoFiles, CFiles, HFiles, SFiles, EmbedFiles []string
			Module                                                *struct{ Main bool }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(abs, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.CFiles, p.HFiles, p.SFiles, p.EmbedFiles) {
			need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(need) < 4 {
		t.Fatalf("go list found no source files of ./cmd/tcptrack")
	}
	for _, f := range need {
		if ign.ignored(f) {
			t.Errorf(".dockerignore leaves out %s, which make build reads", f)
		}
	}
}

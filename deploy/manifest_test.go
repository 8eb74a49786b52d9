package deploy_test

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gopkg.in/yaml.v3"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	_ "github.com/msgdispatch/msgdispatch/providers/all" // the providers the configs name
)

// configPath is where every container finds the config.
const configPath = "/etc/msgdispatch/config.yaml"

type doc = map[string]any

// get walks m by keys (map keys, or list indexes as ints).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(doc)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

func strs(v any, path ...any) []string {
	var out []string
	l, _ := get(v, path...).([]any)
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// readDocs parses every YAML document of the file.
func readDocs(t *testing.T, path string) []doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []doc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d doc
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

type testBundle struct {
	compose   doc
	k8s       map[string][]doc // kind → objects
	configMap *config.Config
	composeCf *config.Config
	secrets   []string // the Secret's keys
}

// setup parses compose.yaml, every resource of the kustomization and both
// configs (with the environment the manifests give them, and only that).
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{k8s: map[string][]doc{}}
	b.compose = readDocs(t, "compose.yaml")[0]
	kust := readDocs(t, "k8s/kustomization.yaml")[0]
	for _, r := range strs(kust, "resources") {
		for _, d := range readDocs(t, filepath.Join("k8s", r)) {
			b.k8s[str(d, "kind")] = append(b.k8s[str(d, "kind")], d)
		}
	}
	sec := b.one(t, "Secret", "msgdispatch-secrets")
	for k := range get(sec, "stringData").(doc) {
		b.secrets = append(b.secrets, k)
	}
	env := func(names []string) func(string) (string, bool) {
		return func(n string) (string, bool) { return "x", slices.Contains(names, n) }
	}
	var err error
	cm := b.one(t, "ConfigMap", "msgdispatch-config")
	if b.configMap, err = config.Parse([]byte(str(cm, "data", "config.yaml")), env(b.secrets)); err != nil {
		t.Fatalf("the ConfigMap's config.yaml with the Secret's keys as environment: %v", err)
	}
	data, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var composeEnv []string
	for k := range get(b.compose, "x-dispatcher", "environment").(doc) {
		composeEnv = append(composeEnv, k)
	}
	if b.composeCf, err = config.Parse(data, env(composeEnv)); err != nil {
		t.Fatalf("deploy/config.yaml with compose's environment: %v", err)
	}
	return b
}

func (b *testBundle) one(t *testing.T, kind, name string) doc {
	t.Helper()
	for _, d := range b.k8s[kind] {
		if str(d, "metadata", "name") == name {
			return d
		}
	}
	t.Fatalf("no %s %s in the kustomization", kind, name)
	return nil
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConfigsAgree(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The ConfigMap and compose's config are the same config.
	if fmt.Sprintf("%+v", b.configMap.Worker) != fmt.Sprintf("%+v", b.composeCf.Worker) ||
		b.configMap.API.Listen != b.composeCf.API.Listen || b.configMap.Redis.Addr != b.composeCf.Redis.Addr {
		t.Errorf("the ConfigMap's config and deploy/config.yaml differ:\n%+v\n%+v", b.configMap, b.composeCf)
	}
}

// container is the one container of a Deployment.
func container(t *testing.T, dep doc) doc {
	t.Helper()
	c, _ := get(dep, "spec", "template", "spec", "containers", 0).(doc)
	if c == nil {
		t.Fatalf("%s: no container", str(dep, "metadata", "name"))
	}
	return c
}

// containerPort is the number of the container's port called name.
func containerPort(t *testing.T, c doc, name string) int {
	t.Helper()
	for _, p := range get(c, "ports").([]any) {
		if str(p, "name") == name {
			return get(p, "containerPort").(int)
		}
	}
	t.Fatalf("container %s has no port %q", str(c, "name"), name)
	return 0
}

func TestK8sDeployments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.configMap
	for _, tc := range []struct {
		desc, name, cmd, portName string
		listen                    string
	}{
		{desc: "worker", name: "msgdispatch-worker", cmd: "worker", portName: "metrics", listen: cfg.Worker.MetricsListen},
		{desc: "api", name: "msgdispatch-api", cmd: "api", portName: "http", listen: cfg.API.Listen},
	} {
		dep := b.one(t, "Deployment", tc.name)
		c := container(t, dep)
		args := strs(c, "args")
		if len(args) == 0 || args[0] != tc.cmd {
			t.Errorf("%s: args %v, want the %s command", tc.desc, args, tc.cmd)
		}
		if i := slices.Index(args, "--config"); i < 0 || i+1 >= len(args) || args[i+1] != configPath {
			t.Errorf("%s: args %v, want --config %s", tc.desc, args, configPath)
		}
		if got, want := containerPort(t, c, tc.portName), port(t, tc.listen); got != want {
			t.Errorf("%s: containerPort %d, the config listens on %d", tc.desc, got, want)
		}
		for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
			if got := str(c, probe, "httpGet", "path"); got != path {
				t.Errorf("%s: %s path %q, want %q", tc.desc, probe, got, path)
			}
			if got := str(c, probe, "httpGet", "port"); got != tc.portName {
				t.Errorf("%s: %s port %q, want %q", tc.desc, probe, got, tc.portName)
			}
		}
		if str(dep, "spec", "template", "metadata", "annotations", "prometheus.io/port") != strconv.Itoa(port(t, tc.listen)) {
			t.Errorf("%s: prometheus.io/port annotation is not the metrics port", tc.desc)
		}
		if get(c, "resources", "requests", "cpu") == nil || get(c, "resources", "limits", "memory") == nil {
			t.Errorf("%s: no resources", tc.desc)
		}
		if got := str(c, "envFrom", 0, "secretRef", "name"); got != "msgdispatch-secrets" {
			t.Errorf("%s: env from %q, want the Secret", tc.desc, got)
		}
		if got := str(c, "volumeMounts", 0, "mountPath"); got != filepath.Dir(configPath) {
			t.Errorf("%s: config mounted at %q", tc.desc, got)
		}
		if got := str(dep, "spec", "template", "spec", "volumes", 0, "configMap", "name"); got != "msgdispatch-config" {
			t.Errorf("%s: config volume from %q", tc.desc, got)
		}
	}

	w := b.one(t, "Deployment", "msgdispatch-worker")
	grace, _ := get(w, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if time.Duration(grace)*time.Second <= cfg.Worker.ShutdownTimeout {
		t.Errorf("worker terminationGracePeriodSeconds %d, want more than worker.shutdown_timeout %s", grace, cfg.Worker.ShutdownTimeout)
	}
	anti := get(w, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "podAffinityTerm")
	workerLabels := get(w, "spec", "template", "metadata", "labels")
	if fmt.Sprint(get(anti, "labelSelector", "matchLabels")) != fmt.Sprint(workerLabels) || str(anti, "topologyKey") == "" {
		t.Errorf("worker pod anti-affinity %v does not select the worker pods %v", anti, workerLabels)
	}
	pdb := b.one(t, "PodDisruptionBudget", "msgdispatch-worker")
	if fmt.Sprint(get(pdb, "spec", "selector", "matchLabels")) != fmt.Sprint(workerLabels) {
		t.Errorf("the PDB does not select the worker pods")
	}
	svc := b.one(t, "Service", "msgdispatch-api")
	api := b.one(t, "Deployment", "msgdispatch-api")
	if fmt.Sprint(get(svc, "spec", "selector")) != fmt.Sprint(get(api, "spec", "template", "metadata", "labels")) ||
		str(svc, "spec", "ports", 0, "targetPort") != "http" {
		t.Errorf("the api Service does not reach the api pods' http port")
	}
}

func TestKEDAScalesOnPendingLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	so := b.one(t, "ScaledObject", "msgdispatch-worker")
	if str(so, "spec", "scaleTargetRef", "name") != "msgdispatch-worker" {
		t.Error("the ScaledObject does not scale the worker Deployment")
	}
	var lists []string
	for _, tr := range get(so, "spec", "triggers").([]any) {
		if str(tr, "type") != "redis" || str(tr, "metadata", "address") != b.configMap.Redis.Addr {
			t.Errorf("trigger %v: want a redis trigger on %s", tr, b.configMap.Redis.Addr)
		}
		if n, err := strconv.Atoi(str(tr, "metadata", "listLength")); err != nil || n <= 0 {
			t.Errorf("trigger %v: listLength", tr)
		}
		auth := str(tr, "authenticationRef", "name")
		ta := b.one(t, "TriggerAuthentication", auth)
		if key := str(ta, "spec", "secretTargetRef", 0, "key"); !slices.Contains(b.secrets, key) {
			t.Errorf("TriggerAuthentication %s: key %q is not in the Secret", auth, key)
		}
		lists = append(lists, str(tr, "metadata", "listName"))
	}
	for q := range b.configMap.Worker.Queues {
		if want := "asynq:{" + q + "}:pending"; !slices.Contains(lists, want) {
			t.Errorf("no trigger on %s (queue %s of worker.queues)", want, q)
		}
	}
	// asynq's own key for a queue's pending list, read from a real Redis.
	srv := redistest.Start(t)
	rdb := srv.Client()
	cl := asynq.NewClientFromRedisClient(rdb)
	if _, err := cl.Enqueue(asynq.NewTask("probe", nil), asynq.Queue("default")); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.LLen(context.Background(), "asynq:{default}:pending").Result(); err != nil || n != 1 {
		t.Errorf("asynq:{default}:pending holds %d (%v), want the task just enqueued", n, err)
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	b := setup(t)
	services := get(b.compose, "services").(doc)
	redisCmd := strs(services, "redis", "command")
	for _, want := range [][2]string{{"--appendonly", "yes"}, {"--appendfsync", "everysec"}} {
		if i := slices.Index(redisCmd, want[0]); i < 0 || i+1 >= len(redisCmd) || redisCmd[i+1] != want[1] {
			t.Errorf("redis command %v lacks %s %s", redisCmd, want[0], want[1])
		}
	}
	base := get(b.compose, "x-dispatcher").(doc)
	if str(base, "build", "dockerfile") != "deploy/Dockerfile" || str(base, "build", "context") != ".." {
		t.Errorf("dispatcher services build %v, want deploy/Dockerfile from the repository root", get(base, "build"))
	}
	if vols := strs(base, "volumes"); len(vols) != 1 || !strings.HasSuffix(vols[0], ":"+configPath+":ro") || !strings.HasPrefix(vols[0], "./config.yaml:") {
		t.Errorf("dispatcher services mount %v, want ./config.yaml at %s", vols, configPath)
	}
	grace, err := time.ParseDuration(str(base, "stop_grace_period"))
	if err != nil || grace <= b.composeCf.Worker.ShutdownTimeout {
		t.Errorf("stop_grace_period %q, want more than worker.shutdown_timeout %s", str(base, "stop_grace_period"), b.composeCf.Worker.ShutdownTimeout)
	}
	count := map[string]int{}
	for name, s := range services {
		cmd := strs(s, "command")
		if name == "redis" || name == "dashboard" {
			continue
		}
		// The YAML merge key (<<) gives each dispatcher service the base.
		if get(s, "build") == nil || get(s, "volumes") == nil {
			t.Errorf("%s does not inherit the dispatcher base", name)
		}
		count[cmd[0]]++
		if i := slices.Index(cmd, "--config"); i < 0 || cmd[i+1] != configPath {
			t.Errorf("%s: command %v, want --config %s", name, cmd, configPath)
		}
		listen := b.composeCf.API.Listen
		if cmd[0] == "worker" {
			listen = b.composeCf.Worker.MetricsListen
		}
		ports := strs(s, "ports")
		if len(ports) != 1 || !strings.HasSuffix(ports[0], ":"+strconv.Itoa(port(t, listen))) {
			t.Errorf("%s: ports %v, want the container's %s", name, ports, listen)
		}
	}
	if count["worker"] != 2 || count["api"] != 1 || len(count) != 2 {
		t.Errorf("compose runs %v, want two workers and one api", count)
	}
	if img := str(services, "dashboard", "image"); !strings.HasPrefix(img, "hibiken/asynqmon") {
		t.Errorf("dashboard image %q", img)
	}
	if !slices.ContainsFunc(strs(services, "dashboard", "command"), func(a string) bool { return a == "--redis-addr="+b.composeCf.Redis.Addr }) {
		t.Errorf("the dashboard does not read the dispatcher's Redis")
	}
}

// metricName finds metric names in PromQL.
var metricName = regexp.MustCompile(`\b(?:msgdispatch|asynq)_[a-z0-9_]+\b`)

func TestAlertMetricsAreRegistered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	known := map[string]bool{}
	for _, n := range metrics.Names() {
		known[n] = true
	}
	// asynq's collector names its metrics only when a queue exists.
	srv := redistest.Start(t)
	if _, err := asynq.NewClientFromRedisClient(srv.Client()).Enqueue(asynq.NewTask("probe", nil)); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(map[string]string{"hr": "wecom"})
	if err := m.Queues(srv.Client()); err != nil {
		t.Fatal(err)
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		known[f.GetName()] = true
	}
	if !known["asynq_queue_latency_seconds"] {
		t.Fatalf("asynq's queue metrics not gathered: %v", known)
	}
	rules := b.one(t, "PrometheusRule", "msgdispatch")
	var alerts int
	for _, g := range get(rules, "spec", "groups").([]any) {
		for _, r := range get(g, "rules").([]any) {
			alerts++
			expr := str(r, "expr")
			names := metricName.FindAllString(expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s: no metric in %q", str(r, "alert"), expr)
			}
			for _, n := range names {
				base := n
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suf); ok && known[b] {
						base = b
					}
				}
				if !known[base] {
					t.Errorf("alert %s uses %s, which nothing registers", str(r, "alert"), n)
				}
			}
		}
	}
	if alerts < 5 {
		t.Errorf("%d alerts, want at least queue latency, archived, breaker, quota lead time, token failures", alerts)
	}
}

// dockerBuild is the `go build` line of the Dockerfile's RUN, and the checks
// on its stages.
func dockerBuild(t *testing.T) (env, args []string) {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user string
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		case "RUN":
			i := slices.Index(f, "go")
			if i < 0 || i+1 >= len(f) || f[i+1] != "build" {
				continue
			}
			env, args = f[1:i], f[i+1:]
		}
	}
	if len(froms) < 2 || froms[len(froms)-1] != "gcr.io/distroless/static:nonroot" {
		t.Errorf("stages %v: want a multi-stage build ending on gcr.io/distroless/static:nonroot", froms)
	}
	if !strings.HasPrefix(user, "nonroot") {
		t.Errorf("USER %q, want nonroot", user)
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("go build env %v, want CGO_ENABLED=0", env)
	}
	if args == nil {
		t.Fatal("the Dockerfile has no RUN ... go build")
	}
	return env, args
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds the dispatcher with the Dockerfile's `go build` line (its -o
// moved to a temporary directory) once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary: skipped under -short")
	}
	env, args := dockerBuild(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "msgdispatch-deploy-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "dispatcher")
		args = slices.Clone(args)
		if i := slices.Index(args, "-o"); i >= 0 {
			args[i+1] = builtBin
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = ".." // the Dockerfile builds from the repository root (COPY . .)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

func TestDockerfileBuildsAStaticBinaryWithTheCommandsTheManifestsRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bin := binary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (it has an interpreter)")
		}
	}
	// Every command line the manifests run: its command exists and takes
	// every flag given.
	var lines [][]string
	for name, s := range get(b.compose, "services").(doc) {
		if name != "redis" && name != "dashboard" {
			lines = append(lines, strs(s, "command"))
		}
	}
	for _, d := range b.k8s["Deployment"] {
		lines = append(lines, strs(container(t, d), "args"))
	}
	data, _ := os.ReadFile("Dockerfile")
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, "CMD "); ok {
			var cmd []string
			if err := yaml.Unmarshal([]byte(rest), &cmd); err != nil {
				t.Fatalf("CMD: %v", err)
			}
			lines = append(lines, cmd)
		}
	}
	for _, line := range lines {
		out, err := exec.Command(bin, line[0], "-h").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "usage: dispatcher "+line[0]) {
			t.Errorf("dispatcher %s -h: %v\n%s", line[0], err, out)
			continue
		}
		for _, a := range line[1:] {
			if flag, ok := strings.CutPrefix(a, "--"); ok {
				flag, _, _ = strings.Cut(flag, "=")
				if !strings.Contains(string(out), "  -"+flag+" ") && !strings.Contains(string(out), "  -"+flag+"\n") {
					t.Errorf("%v: dispatcher %s has no flag --%s:\n%s", line, line[0], flag, out)
				}
			}
		}
	}
}

// Package deploy_test checks docker-compose.yml and the files it mounts without Docker: the
// YAML parses, the services are there, every image is pinned by tag, every mounted file
// exists, and the keywarden configuration files pass the indexer's and enforcer's own
// validation.
package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keywarden/keywarden/pkg/enforcer"
	"github.com/keywarden/keywarden/pkg/grafana"
	"github.com/keywarden/keywarden/pkg/indexer"
)

const root = ".."

type service struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
		Target     string `yaml:"target"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// pinned: a registry image with an explicit tag that is not "latest".
var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]+$`)

func checkPinned(t *testing.T, where, image string) {
	t.Helper()
	if !pinnedImage.MatchString(image) || strings.HasSuffix(image, ":latest") {
		t.Errorf("%s: image %q is not pinned by tag", where, image)
	}
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"clickhouse", "nats", "grafana", "grafana-plugin", "indexer", "enforcer", "prometheus"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s has neither image nor build", name)
		}
		if s.Image != "" {
			checkPinned(t, "service "+name, s.Image)
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(root, s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: %v", name, err)
			}
			if !slices.Contains(dockerStages(t, filepath.Join(root, s.Build.Context, s.Build.Dockerfile)), s.Build.Target) {
				t.Errorf("service %s: target %q is not a stage of %s", name, s.Build.Target, s.Build.Dockerfile)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s: port %q is published beyond loopback", name, p)
			}
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s: mounted path %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s: volume %s is not declared", name, src)
			}
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, dep)
			}
		}
	}
	if nats := c.Services["nats"]; !slices.Contains(nats.Command, "-js") {
		t.Errorf("nats runs without JetStream: command %v", nats.Command)
	}
	g := c.Services["grafana"]
	if !strings.Contains(g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], grafana.PluginID) {
		t.Errorf("grafana does not allow the unsigned plugin %s", grafana.PluginID)
	}
	for _, want := range []string{"/var/lib/grafana/plugins/" + grafana.PluginID, "/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} {
		if !slices.ContainsFunc(g.Volumes, func(v string) bool { return strings.Split(v, ":")[1] == want }) {
			t.Errorf("grafana does not mount %s", want)
		}
	}
	for name, s := range c.Services {
		for k, v := range s.Environment {
			u := strings.ToUpper(k)
			if strings.HasSuffix(u, "PASSWORD") || strings.HasSuffix(u, "_KEY") || strings.HasSuffix(u, "TOKEN") || strings.HasSuffix(u, "SECRET") {
				if !strings.HasPrefix(v, "${") {
					t.Errorf("service %s: %s is written into the file; take it from the environment", name, k)
				}
			}
		}
	}
}

func dockerStages(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && strings.EqualFold(fields[0], "FROM") {
			if !strings.Contains(fields[1], ":") {
				t.Errorf("%s: base image %s is not pinned by tag", path, fields[1])
			} else if !strings.HasPrefix(fields[1], "gcr.io/") {
				checkPinned(t, path, fields[1])
			}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				stages = append(stages, fields[3])
			}
		}
	}
	return stages
}

// TestKeywardenConfigsValidate runs the indexer's and the enforcer's own config validation
// over the files the compose services mount.
func TestKeywardenConfigsValidate(t *testing.T) {
	if _, err := indexer.LoadConfig(filepath.Join(root, "deploy", "indexer.yaml")); err != nil {
		t.Errorf("deploy/indexer.yaml: %v", err)
	}
	cfg, err := enforcer.LoadConfig(filepath.Join(root, "deploy", "enforcer.yaml"))
	if err != nil {
		t.Errorf("deploy/enforcer.yaml: %v", err)
	} else if cfg.Mode != enforcer.ModeDryRun {
		t.Errorf("deploy/enforcer.yaml: mode %s; the compose file must start in dry_run", cfg.Mode)
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "grafana", "provisioning", "datasources", "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			Name, UID, Type string
			JSONData        map[string]any    `yaml:"jsonData"`
			Secure          map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, d := range ds.Datasources {
		found[d.UID] = true
		if d.UID != "keywarden" {
			continue
		}
		if d.Type != grafana.PluginID {
			t.Errorf("keywarden datasource type %q, want %q", d.Type, grafana.PluginID)
		}
		for k, v := range d.Secure {
			if !strings.HasPrefix(v, "$") {
				t.Errorf("secureJsonData.%s is written into the file; take it from the environment", k)
			}
		}
	}
	if !found["keywarden"] || !found["prometheus"] {
		t.Errorf("provisioned datasources %v, want keywarden and prometheus (the dashboards' uids)", found)
	}
	if _, err := os.Stat(filepath.Join(root, "grafana", "provisioning", "dashboards", "keywarden.yaml")); err != nil {
		t.Error(err)
	}
	raw, err = os.ReadFile(filepath.Join(root, "deploy", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var prom map[string]any
	if err := yaml.Unmarshal(raw, &prom); err != nil {
		t.Errorf("deploy/prometheus.yml: %v", err)
	}
}

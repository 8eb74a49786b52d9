package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"gopkg.in/yaml.v3"
)

// Error is one problem in a config file: the dotted key path it concerns
// (apps.hr-bot.wecom.corp_id, api.tokens[0].apps[1]) and what is wrong there.
// Msg never contains a value that came from an environment variable.
type Error struct {
	// Path is the key path; empty for the document as a whole.
	Path string
	// Msg says what is wrong, e.g. "unknown key" or "required".
	Msg string
}

// Error returns "path: msg".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Load reads the config file at path and parses it with [Parse], expanding
// ${NAME} from the process environment. Errors name the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// LoadApps is [Load] for a command that uses only the named apps (a producer
// command: send with --app, status, update and cancel of one message's app):
// the other apps of the file are neither decoded nor validated, and their
// ${NAME} references are not expanded, so their secrets need not be set.
// Config.Apps holds the named apps the file has; a name it lacks is no error
// here (the caller names it, as for any unknown app).
func LoadApps(path string, apps ...string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	only := map[string]bool{}
	for _, a := range apps {
		only[a] = true
	}
	c, err := parseOnly(data, os.LookupEnv, only)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a YAML config strictly, fills in the defaults and validates it.
//
// Every scalar value may reference environment variables as ${NAME}, looked up
// with getenv (nil: none is set); an unset variable is an error, and $${ stands
// for a literal ${. Inside a flow mapping or list ({…}, […]) a reference must be
// quoted: secret: "${HR_SECRET}". An expanded value is typed as if it had been
// written unquoted, so concurrency: "${CONC}" is an integer.
//
// Unknown keys, missing required keys, values of the wrong type and values that
// fail validation are all reported, each as an [*Error] naming its key path, in
// path order, joined with [errors.Join]. An error never contains the value of an
// environment variable.
func Parse(data []byte, getenv func(string) (string, bool)) (*Config, error) {
	return parseOnly(data, getenv, nil)
}

// parseOnly is Parse; when only is not nil, the apps not in it are skipped (see
// LoadApps).
func parseOnly(data []byte, getenv func(string) (string, bool), only map[string]bool) (*Config, error) {
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	p := &parser{getenv: getenv, problems: map[string]string{}, fromEnv: map[string][]string{}, envValues: map[string]string{}}
	if only != nil {
		p.skipped = skipApps(root, only)
	}
	c := defaultConfig()
	p.decode("", root, reflect.ValueOf(c).Elem())
	fillProviderDefaults(c)
	p.validate(c)
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	c.notLoaded = slices.Sorted(maps.Keys(p.skipped))
	return c, nil
}

// skipApps removes from the document root every app whose name is not in
// only, before anything is decoded, and returns the names it removed.
func skipApps(root *yaml.Node, only map[string]bool) map[string]bool {
	skipped := map[string]bool{}
	if root == nil || root.Kind != yaml.MappingNode {
		return skipped
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		apps := resolveAlias(root.Content[i+1])
		if root.Content[i].Value != "apps" || apps.Kind != yaml.MappingNode {
			continue
		}
		kept := make([]*yaml.Node, 0, len(apps.Content))
		for j := 0; j+1 < len(apps.Content); j += 2 {
			if name := apps.Content[j].Value; !only[name] {
				skipped[name] = true
				continue
			}
			kept = append(kept, apps.Content[j], apps.Content[j+1])
		}
		apps.Content = kept
	}
	return skipped
}

// parseYAML returns the root node of the single document in data, or nil for an
// empty document.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(data, err)
	}
	switch err := dec.Decode(new(yaml.Node)); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(data, err)
	default:
		return nil, errors.New("want one YAML document, found more (---)")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlError explains a YAML syntax error. The input is still unexpanded, so the
// error holds no environment value. An unquoted ${NAME} inside {…} or […] ends
// the flow early, which yaml reports as a missing ',' or closing bracket.
func yamlError(data []byte, err error) error {
	if bytes.Contains(data, []byte("${")) && strings.Contains(err.Error(), "did not find expected ','") {
		return fmt.Errorf(`%w (inside {…} or […], quote ${NAME} references: "${NAME}")`, err)
	}
	return err
}

// defaultConfig returns a Config holding every top-level default; the decoder
// overwrites what the file sets. Defaults of apps and provider blocks are set by
// setDefaults when the decoder creates them.
func defaultConfig() *Config {
	return &Config{
		Worker: Worker{
			Concurrency:              50,
			Servers:                  1,
			Queues:                   map[string]int{"critical": 6, "default": 3, "low": 1},
			TaskCheckInterval:        100 * time.Millisecond,
			DelayedTaskCheckInterval: time.Second,
			FailureBudget:            10,
			SendTimeout:              15 * time.Second,
			ShutdownTimeout:          25 * time.Second,
			MessageTTL:               24 * time.Hour,
			Retention:                168 * time.Hour,
			InteractiveTTL:           720 * time.Hour,
			PauseFor:                 time.Hour,
			Breaker:                  Breaker{Failures: 5, Timeout: 30 * time.Second},
			MetricsListen:            ":9090",
		},
		Peak: Peak{
			Enabled: new(true),
			Minutes: []int{0, 30},
			Guard:   60 * time.Second,
			Spread:  120 * time.Second,
		},
		API: API{Listen: ":8080"},
	}
}

// setDefaults fills in the defaults of a value the decoder has just created (an
// app) before the file's keys are decoded into it. An app's per-recipient
// limits and its provider block get their provider's defaults once the
// provider is known (decodeBlocks).
func setDefaults(v any) {
	if a, ok := v.(*App); ok {
		a.Limits = Limits{
			Margin:      2 * time.Second,
			Concurrency: 20,
			Rate:        500,
			GroupSize:   100,
			// MaxRecipients caps the targets of one message.
			MaxRecipients: DefaultMaxRecipients,
		}
	}
}

// fillProviderDefaults sets the defaults that depend on an app's provider.
func fillProviderDefaults(c *Config) {
	for name, a := range c.Apps {
		if d, ok := providers.Lookup(a.Provider); ok && a.OnUnknown == "" {
			a.OnUnknown = d.OnUnknown
			c.Apps[name] = a
		}
	}
}

// parser decodes and validates one config, collecting its problems.
type parser struct {
	getenv func(string) (string, bool)
	// problems holds the first problem found at each path.
	problems map[string]string
	// skipped are the apps of the file left out by LoadApps: they count as
	// configured where other keys refer to them.
	skipped map[string]bool
	// fromEnv holds, per path, the environment variables its value was expanded
	// from, so that no message shows that value.
	fromEnv map[string][]string
	// envValues holds, per path, a value expanded from the environment, so
	// that scrub can take it out of a provider's message.
	envValues map[string]string
}

// add records a problem at path unless one is recorded there already: the first
// (a decoding error) explains the later ones (a zero value failing validation).
func (p *parser) add(path, format string, args ...any) {
	if _, ok := p.problems[path]; !ok {
		p.problems[path] = fmt.Sprintf(format, args...)
	}
}

// err returns the problems as one error, in path order.
func (p *parser) err() error {
	errs := make([]error, 0, len(p.problems))
	for _, path := range slices.Sorted(maps.Keys(p.problems)) {
		errs = append(errs, &Error{Path: path, Msg: p.problems[path]})
	}
	return errors.Join(errs...)
}

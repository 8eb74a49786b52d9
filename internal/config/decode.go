package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"gopkg.in/yaml.v3"
)

// requiredKeys are the keys each struct type must have, by yaml name. A key that
// is absent or null is "required"; a required string that is empty is an error
// too. Provider blocks say their own (providers.AppConfig.RequiredKeys);
// TestRequiredKeysExist keeps both in step with the types.
var requiredKeys = map[reflect.Type][]string{
	reflect.TypeFor[App]():      {"provider"},
	reflect.TypeFor[Window]():   {"count", "window"},
	reflect.TypeFor[APIToken](): {"name"}, // token or token_sha256: validateAPI
	reflect.TypeFor[Sentinel](): {"master_name", "addrs"},
	reflect.TypeFor[Cluster]():  {"addrs"},
}

// required returns the required keys of v, a struct whose keys are decoded.
func required(v reflect.Value) []string {
	if v.CanAddr() {
		if b, ok := v.Addr().Interface().(providers.AppConfig); ok {
			return b.RequiredKeys()
		}
	}
	return requiredKeys[v.Type()]
}

var appType = reflect.TypeFor[App]()

var durationType = reflect.TypeFor[time.Duration]()

// decode decodes n into v, which holds the defaults; a null node leaves them.
func (p *parser) decode(path string, n *yaml.Node, v reflect.Value) {
	n = resolveAlias(n)
	if isNull(n) && v.Kind() != reflect.Struct {
		return
	}
	switch {
	case v.Type() == durationType:
		if s, ok := p.scalar(path, n, "a duration"); ok {
			d, err := time.ParseDuration(s.Value)
			if err != nil {
				p.add(path, `want a duration like "100ms" or "24h", got %s`, p.show(path, s.Value))
				return
			}
			v.SetInt(int64(d))
		}
	case v.Kind() == reflect.String:
		if s, ok := p.scalar(path, n, "a string"); ok {
			v.SetString(s.Value)
		}
	case v.Kind() == reflect.Bool:
		if s, ok := p.scalar(path, n, "true or false"); ok {
			var b bool
			if s.ShortTag() != "!!bool" || s.Decode(&b) != nil {
				p.add(path, "want true or false, got %s", p.show(path, s.Value))
				return
			}
			v.SetBool(b)
		}
	case v.CanInt():
		if s, ok := p.scalar(path, n, "an integer"); ok {
			var i int64
			if s.ShortTag() != "!!int" || s.Decode(&i) != nil || v.OverflowInt(i) {
				p.add(path, "want an integer, got %s", p.show(path, s.Value))
				return
			}
			v.SetInt(i)
		}
	case v.Kind() == reflect.Pointer:
		e := newValue(v.Type().Elem())
		p.decode(path, n, e.Elem())
		v.Set(e)
	case v.Kind() == reflect.Struct:
		p.decodeStruct(path, n, v)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		p.decodeMap(path, n, v)
	case v.Kind() == reflect.Slice:
		p.decodeSlice(path, n, v)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s at %s", v.Type(), path))
	}
}

// decodeStruct decodes a mapping (or null, as an empty one) into the fields of v
// by their yaml names, and checks v's required keys.
func (p *parser) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	fields := yamlFields(v.Type())
	given := map[string]bool{}
	var blocks map[string]*yaml.Node // an app's provider blocks, by key
	p.eachKey(path, n, func(key, kpath string, val *yaml.Node) {
		i, ok := fields[key]
		if !ok && v.Type() == appType {
			if _, isProvider := providers.Lookup(key); isProvider {
				if blocks == nil {
					blocks = map[string]*yaml.Node{}
				}
				blocks[key] = val
				return
			}
		}
		if !ok {
			p.add(kpath, "unknown key")
			return
		}
		given[key] = !isNull(resolveAlias(val))
		p.decode(kpath, val, v.Field(i))
	})
	for _, key := range required(v) {
		i, ok := fields[key]
		if !ok {
			panic(fmt.Sprintf("config: required key %q is not a field of %s", key, v.Type()))
		}
		f := v.Field(i)
		switch {
		case !given[key]:
			p.add(join(path, key), "required")
		case f.Kind() == reflect.String && f.String() == "":
			p.add(join(path, key), "must not be empty")
		}
	}
	if v.Type() == appType {
		p.decodeBlocks(path, v.Addr().Interface().(*App), blocks)
	}
}

// decodeBlocks decodes the provider block of app a, the key named after its
// provider, into a new config of that provider holding its defaults, and
// fills in the provider's default limits. Blocks of other providers are
// errors.
func (p *parser) decodeBlocks(path string, a *App, blocks map[string]*yaml.Node) {
	d, known := providers.Lookup(a.Provider)
	for name, n := range blocks {
		if a.Provider == "" && len(blocks) == 1 {
			d, _ = providers.Lookup(name) // provider is reported missing; check the block anyway
		} else if name != a.Provider {
			p.add(join(path, name), "only allowed with provider %s", name)
			continue
		}
		if isNull(resolveAlias(n)) {
			continue // reported as required below
		}
		b := d.NewConfig()
		rv := reflect.ValueOf(b)
		if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
			panic(fmt.Sprintf("config: provider %s: NewConfig returns %T, want a pointer to a struct", name, b))
		}
		p.decode(join(path, name), n, rv.Elem())
		a.Block = b
	}
	if !known {
		return // reported by validation
	}
	if a.Block == nil {
		p.add(join(path, a.Provider), "required with provider %s", a.Provider)
	}
	if a.Limits.PerRecipient == nil {
		for _, w := range d.Limits.PerRecipient {
			a.Limits.PerRecipient = append(a.Limits.PerRecipient, Window{Count: w.Count, Window: w.Window})
		}
	}
}

// decodeMap decodes a mapping into a new map replacing v's default.
func (p *parser) decodeMap(path string, n *yaml.Node, v reflect.Value) {
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	ok := p.eachKey(path, n, func(key, kpath string, val *yaml.Node) {
		e := newValue(v.Type().Elem())
		p.decode(kpath, val, e.Elem())
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e.Elem())
	})
	if ok {
		v.Set(m)
	}
}

// decodeSlice decodes a sequence into a new slice replacing v's default.
func (p *parser) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		p.typeError(path, n, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if isNull(resolveAlias(item)) {
			p.add(ipath, "must not be null")
			continue
		}
		e := newValue(v.Type().Elem())
		p.decode(ipath, item, e.Elem())
		s.Index(i).Set(e.Elem())
	}
	v.Set(s)
}

// eachKey calls f for each key of the mapping n (none for null), reporting
// non-string and duplicate keys itself. It reports false, with an error, if n is
// not a mapping.
func (p *parser) eachKey(path string, n *yaml.Node, f func(key, kpath string, val *yaml.Node)) bool {
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		p.typeError(path, n, "a mapping")
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolveAlias(n.Content[i])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			p.add(path, "keys must be strings")
			continue
		}
		kpath := join(path, k.Value)
		if seen[k.Value] {
			p.add(kpath, "duplicate key")
			continue
		}
		seen[k.Value] = true
		f(k.Value, kpath, n.Content[i+1])
	}
	return true
}

// scalar returns n, a scalar, with ${NAME} references expanded. An expanded value
// gets the tag it would have unquoted, so "${CONC}" may be an integer.
func (p *parser) scalar(path string, n *yaml.Node, want string) (*yaml.Node, bool) {
	if n.Kind != yaml.ScalarNode {
		p.typeError(path, n, want)
		return nil, false
	}
	if !strings.Contains(n.Value, "${") {
		return n, true
	}
	val, vars, err := expand(n.Value, p.getenv)
	if err != nil {
		p.add(path, "%s", err)
		return nil, false
	}
	if len(vars) > 0 {
		p.fromEnv[path] = vars
		p.envValues[path] = val
	}
	s := &yaml.Node{Kind: yaml.ScalarNode, Value: val}
	s.Tag = s.ShortTag()
	return s, true
}

// typeError reports that n is not the kind of value wanted at path.
func (p *parser) typeError(path string, n *yaml.Node, want string) {
	got := ""
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	default:
		got = p.show(path, n.Value)
	}
	p.add(path, "want %s, got %s", want, got)
}

// scrub returns msg, about the value at path, with that value replaced by
// the names of the variables it came from, if it came from the environment.
func (p *parser) scrub(path, msg string) string {
	if v := p.envValues[path]; v != "" {
		return strings.ReplaceAll(msg, v, "<the value expanded from ${"+strings.Join(p.fromEnv[path], "}, ${")+"}>")
	}
	return msg
}

// show quotes the value at path for a message, unless it came from the
// environment (it may be a secret): then it names the variables instead.
func (p *parser) show(path, value string) string {
	if vars := p.fromEnv[path]; len(vars) > 0 {
		return "the value expanded from ${" + strings.Join(vars, "}, ${") + "}"
	}
	const max = 60
	if len(value) > max {
		return fmt.Sprintf("%q…", value[:max])
	}
	return fmt.Sprintf("%q", value)
}

// expand replaces each ${NAME} in s with the value of NAME and each $${ with ${.
// It returns the names it expanded. Errors never contain a variable's value.
func expand(s string, getenv func(string) (string, bool)) (string, []string, error) {
	var b strings.Builder
	var vars []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), vars, nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", nil, fmt.Errorf(`unterminated "${" (write "$${" for a literal "${")`)
		}
		name := s[i+2 : i+2+end]
		if !validEnvName(name) {
			return "", nil, fmt.Errorf("invalid environment variable name %q", name)
		}
		val, ok := getenv(name)
		if !ok {
			return "", nil, fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
		vars = append(vars, name)
		s = s[i+2+end+1:]
	}
}

// validEnvName reports whether name is [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// yamlFields maps the yaml names of t's fields to their indexes. Every field of
// the config types has a yaml tag; one without is not decoded.
func yamlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}

// newValue returns a pointer to a new t holding its defaults.
func newValue(t reflect.Type) reflect.Value {
	v := reflect.New(t)
	setDefaults(v.Interface())
	return v
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

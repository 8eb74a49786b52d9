package wecom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// checker walks one JSON document and keeps the first validation error. Every
// accessor of an [object] is a no-op once an error is recorded, so a validator
// reads like a list of field rules and reports the first rule broken, in the
// order the rules are written.
type checker struct{ err error }

// fail records a *providers.ValidationError on field unless one is recorded.
func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = providers.Invalid(field, format, args...)
	}
}

func (c *checker) failed() bool { return c.err != nil }

// object is a JSON object being validated, at path (e.g. "body.articles[2]").
// A nil *object stands for an absent or broken object: every accessor answers
// it with zero values.
type object struct {
	c    *checker
	path string
	m    map[string]json.RawMessage
}

// parseObject decodes raw, at path, as a JSON object whose keys are all among
// keys (keys are matched exactly, unlike encoding/json's case-insensitive
// matching); an unknown key is an error on path.key. It returns nil after an
// error.
func (c *checker) parseObject(path string, raw json.RawMessage, keys []string) *object {
	if c.failed() {
		return nil
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		c.fail(path, "must be a JSON object")
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		c.fail(path, "not a valid JSON object: %v", err)
		return nil
	}
	if k, dup := repeatedKey(trimmed); dup {
		c.fail(join(path, k), "repeated: an object may name a field once (WeCom and this package could read different copies)")
		return nil
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(keys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		c.fail(join(path, unknown[0]), "unknown field: this object takes %s", strings.Join(keys, ", "))
		return nil
	}
	return &object{c: c, path: path, m: m}
}

// repeatedKey returns the first key named twice in the JSON object obj (whose
// syntax is known to be valid).
func repeatedKey(obj []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := tok.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// join is the path of key inside path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// field is the path of member key.
func (o *object) field(key string) string { return join(o.path, key) }

// get returns member key; a JSON null counts as absent.
func (o *object) get(key string) (json.RawMessage, bool) {
	if o == nil || o.c.failed() {
		return nil, false
	}
	v, ok := o.m[key]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil, false
	}
	return v, true
}

// has reports whether member key is present (and not null).
func (o *object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

// textRule is what a string member must satisfy. Lengths are measured on the
// string as it will be sent (U+2028/U+2029 replaced by "\n", see cleanText).
type textRule struct {
	// required: absent, empty and blank strings are errors.
	required bool
	// maxBytes, when > 0, bounds the length in bytes of UTF-8.
	maxBytes int
	// minChars and maxChars, when > 0, bound the length in characters (runes).
	minChars, maxChars int
	// url: the string must be an absolute http:// or https:// URL.
	url bool
	// missing and code are WeCom's errcodes for a missing value and for one
	// out of bounds, quoted in the reason when non-zero.
	missing, code int
}

// text reads string member key and checks it against r. It returns "" when
// the member is absent or an error was recorded.
func (o *object) text(key string, r textRule) string {
	v, ok := o.get(key)
	if o == nil || o.c.failed() {
		return ""
	}
	field := o.field(key)
	var s string
	if ok {
		if err := json.Unmarshal(v, &s); err != nil {
			o.c.fail(field, "must be a string")
			return ""
		}
	}
	if strings.TrimSpace(s) == "" {
		if r.required {
			o.c.fail(field, "required%s", codeNote(r.missing))
		}
		return ""
	}
	if err := checkChars(s); err != nil {
		o.c.fail(field, "%v", err)
		return ""
	}
	sent := cleanText(s)
	switch n := utf8.RuneCountInString(sent); {
	case r.maxBytes > 0 && len(sent) > r.maxBytes:
		o.c.fail(field, "%d bytes: WeCom takes at most %d bytes of UTF-8%s", len(sent), r.maxBytes, codeNote(r.code))
	case r.maxChars > 0 && n > r.maxChars, r.minChars > 0 && n < r.minChars:
		if r.minChars > 0 {
			o.c.fail(field, "%d characters: WeCom takes %d to %d%s", n, r.minChars, r.maxChars, codeNote(r.code))
		} else {
			o.c.fail(field, "%d characters: WeCom takes at most %d%s", n, r.maxChars, codeNote(r.code))
		}
	case r.url:
		if err := checkURL(s); err != nil {
			o.c.fail(field, "%v", err)
		}
	}
	if o.c.failed() {
		return ""
	}
	return s
}

// codeNote is " (errcode N)" for a non-zero code.
func codeNote(code int) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprintf(" (errcode %d)", code)
}

// checkChars refuses control characters other than tab, newline and carriage
// return: encoding/json writes them as \u escapes (or \b, \f), and WeCom
// refuses \uXXXX in a request (errcode 40033).
func checkChars(s string) error {
	for i, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Errorf(`control character U+%04X at byte %d: it would be sent as a \u escape, which WeCom refuses (errcode 40033)`, r, i)
		}
	}
	return nil
}

// checkURL requires an absolute http or https URL with a host ("请确保包含了协议头
// (http/https)"; errcode 45034 "url必须有协议头").
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a valid URL: %v", err)
	}
	if scheme := strings.ToLower(u.Scheme); (scheme != "http" && scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http:// or https:// URL (errcode 45034: url必须有协议头)", s)
	}
	return nil
}

// enum reads optional integer member key, which must be one of allowed when
// present; it returns 0 when absent.
func (o *object) enum(key string, allowed ...int) int {
	v, ok := o.get(key)
	if !ok {
		return 0
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil || !slices.Contains(allowed, n) {
		o.c.fail(o.field(key), "must be one of %s", intList(allowed))
		return 0
	}
	return n
}

func intList(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// boolean reads optional boolean member key; absent is false.
func (o *object) boolean(key string) bool {
	v, ok := o.get(key)
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		o.c.fail(o.field(key), "must be true or false")
		return false
	}
	return b
}

// number reads optional numeric member key.
func (o *object) number(key string) (float64, bool) {
	v, ok := o.get(key)
	if !ok {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		o.c.fail(o.field(key), "must be a number")
		return 0, false
	}
	return f, true
}

// obj reads optional object member key, whose own keys must be among keys; it
// returns nil when absent.
func (o *object) obj(key string, keys []string) *object {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	return o.c.parseObject(o.field(key), v, keys)
}

// listRule bounds an array member.
type listRule struct {
	// min > 0 makes the list required; max > 0 bounds its length.
	min, max int
	// code is WeCom's errcode for a non-empty list of a length out of bounds.
	code int
}

// list reads array member key of objects whose keys are among keys, checking
// its length against r; elements are at key[i]. An absent list has length 0.
func (o *object) list(key string, r listRule, keys []string) []*object {
	v, ok := o.get(key)
	if o == nil || o.c.failed() {
		return nil
	}
	field := o.field(key)
	var items []json.RawMessage
	if ok {
		if err := json.Unmarshal(v, &items); err != nil {
			o.c.fail(field, "must be an array of objects")
			return nil
		}
	}
	n := len(items)
	switch {
	case r.min > 0 && n == 0:
		o.c.fail(field, "required: %s", bounds(r))
	case n < r.min, r.max > 0 && n > r.max:
		o.c.fail(field, "%d items: WeCom takes %s%s", n, bounds(r), codeNote(r.code))
	}
	out := make([]*object, 0, n)
	for i, item := range items {
		e := o.c.parseObject(fmt.Sprintf("%s[%d]", field, i), item, keys)
		if e == nil {
			return nil
		}
		out = append(out, e)
	}
	return out
}

func bounds(r listRule) string {
	switch {
	case r.max == 0:
		return fmt.Sprintf("at least %d items", r.min)
	case r.min == 0:
		return fmt.Sprintf("at most %d items", r.max)
	default:
		return fmt.Sprintf("%d to %d items", r.min, r.max)
	}
}

// unique checks that the string member key of items, where non-empty, is not
// repeated; the second occurrence is the error.
func unique(c *checker, items []*object, key, what string, code int) {
	seen := map[string]int{}
	for i, it := range items {
		s := it.text(key, textRule{})
		if s == "" {
			continue
		}
		if j, dup := seen[s]; dup {
			c.fail(it.field(key), "%q is also the %s of item %d: %ss must be unique%s", s, key, j, what, codeNote(code))
			return
		}
		seen[s] = i
	}
}

package ratelimit

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DigestTextMax is how many bytes of a message's text a digest keeps (the
// first and last texts collapsed); longer texts are cut at a rune boundary.
const DigestTextMax = 200

// CheckCollapseKey reports whether k may be a collapse key: "" (none), or
// at most 128 bytes without ':', '{', '}' or control characters (it is part
// of a Redis key under the app's hash tag).
func CheckCollapseKey(k string) error {
	if k == "" {
		return nil
	}
	if len(k) > 128 {
		return errors.New("ratelimit: collapse key longer than 128 bytes")
	}
	if strings.ContainsAny(k, ":{}") || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("ratelimit: collapse key %q: must not contain ':', '{', '}' or control characters", k)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// extra merges a collapse extra of the script reply (codes 11–13, see
// collapseLua) for recipient name.
func (d *Decision) extra(name string, code int64, v []any) {
	str := func(x any) string { s, _ := x.(string); return s }
	switch code {
	case 11:
		if d.Digests == nil {
			d.Digests = map[string]Digest{}
		}
		g := d.Digests[name]
		g.Count, g.FirstID, g.FirstText = int(toInt(v[0])), str(v[1]), str(v[2])
		d.Digests[name] = g
	case 12:
		g := d.Digests[name]
		g.LastText = str(v[2])
		d.Digests[name] = g
	case 13:
		d.Supersedes = append(d.Supersedes, Supersession{Recipient: name, By: str(v[0]), At: time.UnixMilli(toInt(v[1]))})
	}
}

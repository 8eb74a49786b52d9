package xiezuo

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// MaxCtxIDLen is the longest ctx_id WPS takes ("卡片消息则最长不超过 36").
const MaxCtxIDLen = 36

// CtxID returns the ctx_id of part of generation of the dispatcher message
// messageID: deterministic (every attempt of a part re-sends the same ctx_id),
// at most [MaxCtxIDLen] characters of [0-9A-Za-z_~-], distinct for distinct
// inputs. Two forms:
//
//   - "a" + rest + "~" + part + "~" + generation, when messageID is
//     "<app>.<rest>" (the dispatcher's id form) with rest of [0-9A-Za-z_-] and
//     the result fits: the app name is left out (one dispatcher app per WPS
//     app_key; ids of different apps differ in their random part), and
//     [ParseCtxID] with the app gives messageID back;
//   - "h" + 35 hex digits of SHA-256(messageID, part, generation) otherwise
//     (not reversible: the core finds the message from the ctx_id through
//     its message index, since Prepare sets it as the part's Ref).
func CtxID(messageID string, part, generation int) string {
	p, g := strconv.Itoa(part), strconv.Itoa(generation)
	if _, rest, ok := strings.Cut(messageID, "."); ok && rest != "" && idChars(rest) {
		if id := "a" + rest + "~" + p + "~" + g; len(id) <= MaxCtxIDLen && !strings.HasPrefix(messageID, ".") {
			return id
		}
	}
	sum := sha256.Sum256([]byte(messageID + "\x00" + p + "\x00" + g))
	return "h" + hex.EncodeToString(sum[:])[:MaxCtxIDLen-1]
}

// ParseCtxID reverses a ctx_id of the "a" form made by [CtxID] for a message
// of app: it returns the dispatcher message id, part and generation; ok is
// false for a hashed or foreign ctx_id.
func ParseCtxID(app, ctxID string) (messageID string, part, generation int, ok bool) {
	body, found := strings.CutPrefix(ctxID, "a")
	if !found || app == "" {
		return "", 0, 0, false
	}
	fields := strings.Split(body, "~")
	if len(fields) != 3 || fields[0] == "" || !idChars(fields[0]) {
		return "", 0, 0, false
	}
	p, err1 := strconv.Atoi(fields[1])
	g, err2 := strconv.Atoi(fields[2])
	if err1 != nil || err2 != nil || p < 0 || g < 0 || strconv.Itoa(p) != fields[1] || strconv.Itoa(g) != fields[2] {
		return "", 0, 0, false
	}
	return app + "." + fields[0], p, g, true
}

// idChars reports whether s is made of [0-9A-Za-z_-] only.
func idChars(s string) bool {
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

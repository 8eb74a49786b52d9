package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// validateTokenSecret checks that token i gives exactly one of token and
// token_sha256, and that no two tokens are the same (compared by their
// SHA-256, so a token given in clear and its hash collide too).
func (p *parser) validateTokenSecret(path string, t APIToken, seen map[string]int, i int) {
	var sum string
	switch {
	case t.Token == "" && t.TokenSHA256 == "":
		p.add(path+".token", "required (or token_sha256)")
		return
	case t.Token != "" && t.TokenSHA256 != "":
		p.add(path+".token_sha256", "give token or token_sha256, not both")
		return
	case t.Token != "":
		h := sha256.Sum256([]byte(t.Token))
		sum = hex.EncodeToString(h[:])
	default:
		b, err := hex.DecodeString(t.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			p.add(path+".token_sha256", "want 64 hex digits (the SHA-256 of the token)")
			return
		}
		sum = strings.ToLower(t.TokenSHA256)
	}
	if j, ok := seen[sum]; ok {
		field := ".token"
		if t.Token == "" {
			field = ".token_sha256"
		}
		p.add(path+field, "same token as api.tokens[%d]", j)
		return
	}
	seen[sum] = i
}

// validateTokenScope checks a token's daily share and dashboard scope.
func (p *parser) validateTokenScope(path string, t APIToken) {
	if t.DailyPercent < 0 || t.DailyPercent > 100 {
		p.add(path+".daily_percent", "want 0 (none) to 100, got %d", t.DailyPercent)
	}
	switch t.Dashboard {
	case DashboardNone, DashboardReadOnly, DashboardFull:
	default:
		p.add(path+".dashboard", `want "read_only" or "full" (or leave it out), got %q`, t.Dashboard)
	}
}

// minWebhookSecret is the shortest webhook signing key accepted.
const minWebhookSecret = 16

// validateWebhooks checks api.webhooks.
func (p *parser) validateWebhooks(c *Config) {
	w := c.API.Webhooks
	const path = "api.webhooks"
	if w.On() && len(w.Secret) < minWebhookSecret {
		if w.Secret == "" {
			p.add(path+".secret", "required when webhooks are configured")
		} else {
			p.add(path+".secret", "at least %d bytes", minWebhookSecret)
		}
	}
	for app, urls := range w.URLs {
		apath := path + ".urls." + app
		if _, ok := c.Apps[app]; !ok && !p.skipped[app] {
			p.add(apath, "unknown app %s (configured: %s)", p.show(apath, app), c.appNames())
		}
		if len(urls) == 0 {
			p.add(apath, "at least one URL is required")
		}
		for i, u := range urls {
			p.httpURL(fmt.Sprintf("%s[%d]", apath, i), u)
		}
	}
	if w.MaxAttempts < 0 {
		p.add(path+".max_attempts", "must not be negative")
	}
	p.notNegative(path+".max_backoff", w.MaxBackoff)
	p.notNegative(path+".timeout", w.Timeout)
}

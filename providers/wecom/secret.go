package wecom

import (
	"fmt"
	"log/slog"
)

// String formats c with the secret redacted, so a Config printed by mistake
// (fmt's %v and %+v, or %s) never shows it.
func (c Config) String() string {
	return fmt.Sprintf("{BaseURL:%s CorpID:%s AgentID:%d Secret:%s DuplicateCheckInterval:%s}",
		c.BaseURL, c.CorpID, c.AgentID, redactedSecret(c.Secret), c.DuplicateCheckInterval)
}

// GoString is String for fmt's %#v.
func (c Config) GoString() string { return "wecom.Config" + c.String() }

// LogValue makes log/slog log c with the secret redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("corp_id", c.CorpID),
		slog.Int64("agent_id", c.AgentID),
		slog.String("secret", redactedSecret(c.Secret)),
		slog.Duration("duplicate_check_interval", c.DuplicateCheckInterval),
	)
}

func redactedSecret(s string) string {
	if s == "" {
		return `""`
	}
	return "REDACTED"
}

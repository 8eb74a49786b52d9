package wecom

import (
	"fmt"
	"log/slog"
)

// String formats c with every secret redacted (the app secret, the suite
// secret, the callback token and the EncodingAESKey), so a Config printed by
// mistake (fmt's %v and %+v, or %s) never shows them.
func (c Config) String() string {
	return fmt.Sprintf("{BaseURL:%s Mode:%s CorpID:%s AgentID:%d Secret:%s SuiteID:%s SuiteSecret:%s ProviderCorpID:%s CallbackToken:%s EncodingAESKey:%s DuplicateCheckInterval:%s}",
		c.BaseURL, c.EffectiveMode(), c.CorpID, c.AgentID, redactedSecret(c.Secret), c.SuiteID, redactedSecret(c.SuiteSecret),
		c.ProviderCorpID, redactedSecret(c.CallbackToken), redactedSecret(c.EncodingAESKey), c.DuplicateCheckInterval)
}

// GoString is String for fmt's %#v.
func (c Config) GoString() string { return "wecom.Config" + c.String() }

// LogValue makes log/slog log c with every secret redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("mode", c.EffectiveMode()),
		slog.String("corp_id", c.CorpID),
		slog.Int64("agent_id", c.AgentID),
		slog.String("secret", redactedSecret(c.Secret)),
		slog.String("suite_id", c.SuiteID),
		slog.String("suite_secret", redactedSecret(c.SuiteSecret)),
		slog.String("provider_corp_id", c.ProviderCorpID),
		slog.String("callback_token", redactedSecret(c.CallbackToken)),
		slog.String("encoding_aes_key", redactedSecret(c.EncodingAESKey)),
		slog.Duration("duplicate_check_interval", c.DuplicateCheckInterval),
	)
}

func redactedSecret(s string) string {
	if s == "" {
		return `""`
	}
	return "REDACTED"
}

package config

import "time"

// Webhooks configure the delivery of the apps' events (message outcomes,
// updates, cancels, verified provider callbacks such as card clicks) to
// producers' HTTP endpoints. Each POST is signed with HMAC-SHA256 over
// timestamp + "." + body with Secret (see internal/webhook).
type Webhooks struct {
	// Secret is the HMAC-SHA256 signing key, at least 16 bytes; use ${ENV}.
	// Required when URLs is not empty or AllowMessageURLs is set.
	Secret string `yaml:"secret"`
	// URLs are the endpoints that receive every event of an app, by app name.
	// Default none.
	URLs map[string][]string `yaml:"urls"`
	// AllowMessageURLs lets POST /v1/messages name a webhook_url that receives
	// that message's events. Default false.
	AllowMessageURLs bool `yaml:"allow_message_urls"`
	// MaxAttempts is how often one event is tried per URL before its task is
	// archived. Default 0 means 25.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxBackoff caps the wait between attempts (1s·2ⁿ with jitter). Default
	// 0 means 5m.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Timeout bounds one POST. Default 0 means 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// On reports whether any webhook is configured or allowed.
func (w Webhooks) On() bool { return len(w.URLs) > 0 || w.AllowMessageURLs }

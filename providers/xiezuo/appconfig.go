package xiezuo

import (
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// *Config is the app's provider block for the core ([Config.Validate] and
// the methods below).
var _ providers.AppConfig = (*Config)(nil)

// RequiredKeys are the keys a xiezuo block needs: base_url, app_key,
// app_secret, company_id and company_uid, and company_token_path with
// signature wps4 (no document gives the private-deployment endpoint).
func (c Config) RequiredKeys() []string {
	keys := []string{"base_url", "app_key", "app_secret", "company_id", "company_uid"}
	if c.Signature == SignatureWPS4 {
		keys = append(keys, "company_token_path")
	}
	return keys
}

// MultiTenant is false: a xiezuo app sends to its one company.
func (c Config) MultiTenant() bool { return false }

// Company is the company every request of the app goes to: company_id, or
// app_key when company_id is empty. tenant is ignored.
func (c Config) Company(tenant string) string {
	if c.CompanyID != "" {
		return c.CompanyID
	}
	return c.AppKey
}

// NormalizeRecipient trims id. Case is kept: no document says WPS ids
// (company_uids, dept and chat ids) are case-insensitive.
func (c Config) NormalizeRecipient(id string) string { return strings.TrimSpace(id) }

// Capabilities are what an app of this config can do: Update when
// update_path is configured (no document gives the endpoint), of cards only
// (UpdatableKinds [card]); no Recall (no v2 recall API is documented) and no
// Reply (no v2 reply API); parts are not split by count (no per-call limit
// is documented: one part per recipient kind), so MaxUsersPerPart and
// MaxGroupsPerPart are 0; DedupeWindow 0: WPS documents no duplicate
// suppression, so a request of unknown outcome must not be re-sent blindly.
func (c Config) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Update:         c.UpdatePath != "",
		UpdatableKinds: []providers.Kind{providers.KindCard},
	}
}

// ValidateMessage is [Validate]: the v2 send rules, reply_to refused.
func (c Config) ValidateMessage(msg *providers.Message) error { return Validate(msg) }

// ValidateUpdate checks new content for msg at enqueue: the app must have
// update_path configured, msg must be a card sent as kind card, and content
// a card (kind card, or raw with msg_type 23) that passes the send rules.
// A refusal of the update itself names "kind"; bad content names its field.
func (c Config) ValidateUpdate(msg *providers.Message, content *providers.Content) error {
	switch {
	case c.UpdatePath == "":
		return providers.Invalid("kind", "this app cannot update messages: %s", reasonNoEndpoint)
	case msg == nil || content == nil:
		return providers.Invalid("kind", "no message or no content to update it with")
	case msg.Kind != providers.KindCard:
		return providers.Invalid("kind", "the message is of kind %q: WPS 协作 updates only cards sent as kind card", msg.Kind)
	}
	_, err := updateContent(content)
	return err
}

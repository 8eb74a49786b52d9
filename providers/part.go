package providers

import (
	"encoding/json"
	"time"
)

// Part is one provider request of a message: a subset of its recipients and the
// request body rendered for them. Bodies are rendered once, by [Provider.Prepare],
// and stored; every attempt of the part re-sends exactly these bytes, which is what
// a provider's duplicate check recognises.
type Part struct {
	// Index is the part's position in the message, from 0.
	Index int `json:"index"`
	// Tenant is the tenant (auth corp id) the part is sent for; empty for a
	// self-built app.
	Tenant string `json:"tenant,omitempty"`
	// To is the subset of the message's recipients this part addresses.
	To Recipients `json:"to"`
	// Ref is a reference to the part the provider chose when it rendered it
	// (WPS ctx_id, WeCom card task_id), known before sending and carried by
	// the provider's callbacks; the core indexes it to find the message
	// ([MessageIndex]). Empty when the provider has none.
	Ref string `json:"ref,omitempty"`
	// NotUpdatable is set on a part the provider can never update (a WPS 365
	// batch message), whatever its kind.
	NotUpdatable bool `json:"not_updatable,omitempty"`
	// Target is where the request goes when that depends on the message (a
	// WPS 365 reply's chat and message id); empty for a provider's fixed
	// endpoint.
	Target string `json:"target,omitempty"`
	// Body is the exact request body. It holds no credential (tokens travel in the
	// URL or headers, added at send time).
	Body []byte `json:"body"`
}

// PrepareOptions are what Prepare needs besides the message.
type PrepareOptions struct {
	// MessageID is the dispatcher message id; providers derive stable ids from it
	// (WPS ctx_id, WeCom card task_id).
	MessageID string
	// Generation distinguishes follow-up sends of the same message (0 for the first).
	Generation int
}

// Result is what a provider said about one accepted part. Accepted is not delivered:
// no provider confirms delivery.
type Result struct {
	// ProviderMessageID is the provider's id of the sent message (WeCom msgid,
	// WPS 365 message_id), used to update and recall it.
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	// State is what else the provider needs to update or recall the part
	// later, opaque to the core (WeCom: the single-use response_code).
	State json.RawMessage `json:"state,omitempty"`
	// Invalid are the recipients the provider rejected (not found, not visible to the
	// app) while accepting the rest.
	Invalid Recipients `json:"invalid,omitempty"`
	// Unlicensed are users without the provider licence needed to receive app messages.
	Unlicensed []string `json:"unlicensed,omitempty"`
}

// Capabilities are what a provider can do and the limits its parts obey.
type Capabilities struct {
	Update bool
	Recall bool
	Reply  bool
	// UpdatableKinds are the kinds of message that can be updated after they
	// were sent (WeCom: card). Their delivery records are kept for
	// worker.interactive_ttl.
	UpdatableKinds []Kind
	// UpdateOnlyKinds are kinds valid only as update content (WeCom: button,
	// which replaces the clicked button's text); a send never renders them.
	UpdateOnlyKinds []Kind
	// MaxUsersPerPart and MaxGroupsPerPart bound one request's recipients.
	MaxUsersPerPart  int
	MaxGroupsPerPart int
	// DedupeWindow is how long the provider suppresses a re-sent identical request;
	// 0 when the provider documents no duplicate check. A request whose outcome is
	// unknown may be re-sent only within this window.
	DedupeWindow time.Duration
	// RecallWindow is how long after sending a message can still be recalled.
	RecallWindow time.Duration
}

package providers

import (
	"context"
	"encoding/json"
)

// Provider is one configured app of one IM provider. Implementations are safe for
// concurrent use. Every method that talks to the provider returns an *[Error] (or
// wraps one) when it fails, or a *[ValidationError] for a request it refused before
// sending; [ClassOf] tells what retrying would do.
type Provider interface {
	// Name is the provider name used in config: "wecom", "xiezuo" or "wps365".
	Name() string
	// Capabilities says what this provider and app support.
	Capabilities() Capabilities
	// Validate checks msg by the provider's own rules, without credentials or I/O.
	// It returns a *ValidationError naming the first bad field.
	Validate(msg *Message) error
	// Prepare validates msg, splits it into parts within the provider's
	// per-request limits and renders each part's body once. ctx bounds any
	// lookup it needs (a tenant's agent id); it sends nothing.
	Prepare(ctx context.Context, msg *Message, opts PrepareOptions) ([]Part, error)
	// Send sends one prepared part, refreshing the access token once if the
	// provider says it expired. It may return a Result together with an error when
	// the provider refused the request but said which recipients were bad (WeCom
	// 81013); the caller records both.
	Send(ctx context.Context, part *Part) (*Result, error)
	// Update replaces the content of a sent message.
	Update(ctx context.Context, req *UpdateRequest) (*Result, error)
	// Recall takes a sent message back.
	Recall(ctx context.Context, req *RecallRequest) error
	// Reply answers a chat message (WPS 365).
	Reply(ctx context.Context, req *ReplyRequest) (*Result, error)
}

// UpdateRequest is new content for a message the provider already accepted.
type UpdateRequest struct {
	// ProviderMessageID is the provider's id of the message to update.
	ProviderMessageID string
	// Tenant is the tenant (auth corp id) the message was sent for; empty for a
	// self-built app.
	Tenant string
	// ResponseCode is the single-use update capability (WeCom).
	ResponseCode string
	// To is whose copy to update.
	To Recipients
	// Kind and Body are the new content.
	Kind Kind
	Text string
	Body json.RawMessage
}

// RecallRequest names a sent message to take back.
type RecallRequest struct {
	ProviderMessageID string
	// Tenant is the tenant (auth corp id) the message was sent for; empty for a
	// self-built app.
	Tenant string
}

// ReplyRequest answers one chat message.
type ReplyRequest struct {
	// ChatID and ReplyTo name the chat and the message answered.
	ChatID  string
	ReplyTo string
	Kind    Kind
	Text    string
	Body    json.RawMessage
}

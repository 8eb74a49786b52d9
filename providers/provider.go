package providers

import (
	"context"
	"time"
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
	// Update gives the users req.Users of one accepted part new content.
	// It reports each user as updated or unreachable (with the reason, e.g.
	// a single-use update capability used up); an error means the rest was
	// not tried and the call may be repeated (its class says when), with the
	// outcomes reported so far in the result. A part the provider cannot
	// update reports every user unreachable, with no error.
	Update(ctx context.Context, req *UpdateRequest) (*UpdateResult, error)
	// Recall takes a sent message back. A message older than the provider's
	// recall window is an error that wraps ErrRecallExpired.
	Recall(ctx context.Context, req *RecallRequest) error
}

// UpdateRequest is new content for some users of a part the provider
// accepted.
type UpdateRequest struct {
	// MessageID is the dispatcher message id; Generation and Part.Index name
	// the part inside it. Providers key per-part state (a consumed
	// single-use code) on them.
	MessageID  string
	Generation int
	// Part is the part as rendered and sent.
	Part *Part
	// Sent is what the provider said when it accepted the part (its message
	// id and Ref).
	Sent *Result
	// Users are the part's users to update; the core leaves out those that
	// already show this content.
	Users []string
	// Content is the new content.
	Content Content
}

// UpdateResult says, per user, what an update did.
type UpdateResult struct {
	// Updated are the users that now see the new content.
	Updated []string
	// Unreachable are users that could not be updated, with the reason
	// (they keep seeing what they saw).
	Unreachable map[string]string
}

// Unreach records user as unreachable for reason.
func (r *UpdateResult) Unreach(user, reason string) {
	if r.Unreachable == nil {
		r.Unreachable = map[string]string{}
	}
	r.Unreachable[user] = reason
}

// RecallRequest names a sent message to take back.
type RecallRequest struct {
	ProviderMessageID string
	// Tenant is the tenant the message was sent for; empty for an app
	// without tenants.
	Tenant string
	// Part and Sent are the part as rendered and what the provider said
	// when it accepted it.
	Part *Part
	Sent *Result
	// SentAt is when the part was first sent; a provider with a recall
	// window refuses an older one without calling (ErrRecallExpired).
	SentAt time.Time
}

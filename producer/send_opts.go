package producer

import (
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
)

// SendOption configures one Send.
type SendOption func(*sendOptions)

type sendOptions struct {
	Key       string        `json:"key,omitempty"`
	NotBefore time.Time     `json:"not_before,omitzero"`
	ExpiresAt time.Time     `json:"expires_at,omitzero"`
	Urgent    bool          `json:"urgent,omitempty"`
	Queue     string        `json:"queue,omitempty"`
	Collapse  *job.Collapse `json:"collapse,omitempty"`
}

// IdempotencyKey makes Send idempotent: the same key with the same message and
// options returns the same message id (and enqueues once); with a different body
// it fails with a *record.ConflictError naming the key. The key is held for 24h
// after the message ends. At most 200 bytes, no control characters, not only
// spaces. Default none.
func IdempotencyKey(key string) SendOption { return func(o *sendOptions) { o.Key = key } }

// NotBefore delays the message until t, at most worker.retention (168h) ahead
// and before ExpiresAt when both are given (else Send refuses it on
// "not_before"); the default expiry counts from t. Default: send now.
func NotBefore(t time.Time) SendOption { return func(o *sendOptions) { o.NotBefore = t } }

// ExpiresAt gives the message up as expired if it cannot be sent by t. Default:
// worker.message_ttl (24h) after NotBefore, or after now without it.
func ExpiresAt(t time.Time) SendOption { return func(o *sendOptions) { o.ExpiresAt = t } }

// Urgent skips peak-minute avoidance and may use the quota headroom kept for
// urgent messages; urgent messages go to the critical queue unless Queue says
// otherwise. Default false.
func Urgent() SendOption { return func(o *sendOptions) { o.Urgent = true } }

// Queue puts the message on a configured queue. Default "default" ("critical" for
// urgent messages).
func Queue(name string) SendOption { return func(o *sendOptions) { o.Queue = name } }

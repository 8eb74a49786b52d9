// Package record keeps the delivery record of every message in Redis: its state,
// its parts with the exact bytes every attempt re-sends, the failure budget spent,
// why it waits and until when, and what the provider said. Each change is written
// together with its event (a Redis stream entry with a stable id) in one MULTI.
//
// All keys of an app share the hash tag {app}, so a record, its idempotency key and
// the app's event stream live in one Redis Cluster slot.
package record

import (
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/providers"
)

// State is where a message is in its life. Terminal states never change again.
type State string

const (
	// Queued: enqueued, no attempt yet.
	Queued State = "queued"
	// Waiting: deferred (peak minute, quota, breaker, throttling, paused app) or
	// backing off after a failure; Record.Wait says why and until when.
	Waiting State = "waiting"
	// Sending: an attempt is under way.
	Sending State = "sending"
	// Accepted: the provider accepted every part. Accepted is not delivered: no
	// provider confirms delivery.
	Accepted State = "accepted"
	// PartiallyAccepted: some recipients or parts were accepted, others refused
	// (see the parts' Invalid and Error).
	PartiallyAccepted State = "partially_accepted"
	// Failed: nothing was accepted; Reason says why.
	Failed State = "failed"
	// Expired: ExpiresAt passed before the message could be sent.
	Expired State = "expired"
	// Cancelled: cancelled by the producer.
	Cancelled State = "cancelled"
	// Unknown: an attempt may have been applied, and re-sending it was not safe.
	Unknown State = "unknown"
)

// Terminal reports whether s is final.
func (s State) Terminal() bool {
	switch s {
	case Accepted, PartiallyAccepted, Failed, Expired, Cancelled, Unknown, Superseded:
		return true
	}
	return false
}

// PartState is where one part (one provider request) is.
type PartState string

const (
	// PartPending: not sent yet, or to be re-sent.
	PartPending PartState = "pending"
	// PartSending: marked before the request leaves; a re-run that finds a part
	// still sending knows the request may have left.
	PartSending PartState = "sending"
	// PartAccepted: the provider accepted the request.
	PartAccepted PartState = "accepted"
	// PartFailed: refused for good; Error says why.
	PartFailed PartState = "failed"
	// PartUnknown: may have been applied; not re-sent.
	PartUnknown PartState = "unknown"
	// PartExpired: not sent before the message expired.
	PartExpired PartState = "expired"
)

// Done reports whether the part needs no more attempts.
func (s PartState) Done() bool {
	return s == PartAccepted || s == PartFailed || s == PartUnknown || s == PartExpired || s == PartCancelled || s == PartSuperseded
}

// Part is one provider request of a message and what happened to it.
type Part struct {
	providers.Part
	// Generation is the generation of the task that rendered and sends the part
	// (0, or a quota follow-up's).
	Generation int       `json:"generation,omitempty"`
	State      PartState `json:"state"`
	// Attempts counts requests that left (or may have left) for this part.
	Attempts int `json:"attempts,omitempty"`
	// FirstSentAt is when the first attempt left; the provider's dedupe window
	// for re-sending these bytes runs from here.
	FirstSentAt time.Time `json:"first_sent_at,omitzero"`
	// SentAt is when the last attempt left.
	SentAt time.Time `json:"sent_at,omitzero"`
	// MayHaveLeft is set once an attempt's outcome was unknown: from then on the
	// bytes and recipients of this part are frozen.
	MayHaveLeft bool `json:"may_have_left,omitempty"`
	// Result is what the provider said when it accepted the part.
	Result *providers.Result `json:"result,omitempty"`
	// Error is the last error of this part.
	Error string `json:"error,omitempty"`
	// ContentSeq is the update sequence number whose content the part was
	// rendered with (0: the content the message was sent with).
	ContentSeq int64 `json:"content_seq,omitempty"`
}

// Booking is a recipient the quota put at a later slot, and why.
type Booking struct {
	// Recipient is a user id, or "*" for the message's group targets
	// (departments, tags, @all), which count against the daily cap only.
	Recipient string    `json:"recipient"`
	At        time.Time `json:"at"`
	// Reason is why not now: "window" (a per-recipient limit), "daily" (the
	// daily cap), "peak" (a peak minute), or several joined by "+".
	Reason string `json:"reason"`
	// Generation is the follow-up generation that sends it.
	Generation int `json:"generation"`
}

// Wait says why a message is not being sent now and when it will be tried again.
type Wait struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

// Record is the delivery record of one message.
type Record struct {
	ID    string `json:"id"`
	App   string `json:"app"`
	State State  `json:"state"`
	// Job is the message and its options as enqueued.
	Job *job.Send `json:"job"`
	// IdempotencyKey is the caller's key, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Parts are the provider requests, rendered once at the first attempt.
	Parts []Part `json:"parts,omitempty"`
	// Runs counts handler runs (attempts, deferrals and crash re-runs alike).
	Runs int `json:"runs"`
	// Failures is the failure budget spent: failed attempts and crash re-runs that
	// found their own attempt unfinished. Deferrals never spend it.
	Failures int `json:"failures"`
	// Deferrals counts runs that ended deferred.
	Deferrals int `json:"deferrals"`
	// Wait is set while the message waits.
	Wait *Wait `json:"wait,omitempty"`
	// Booked are recipients the quota booked for later: a follow-up task sends
	// them at their slot. Empty once every recipient has been sent or given up.
	Booked []Booking `json:"booked,omitempty"`
	// Late are recipients that got no slot before the message's expiry; they are
	// not sent.
	Late []Booking `json:"late,omitempty"`
	// Superseded are recipients a newer message of the same collapse key
	// claimed first (see supersede.go); they are not sent this message.
	Superseded []Supersession `json:"superseded,omitempty"`
	// Generations counts the generations whose recipients the quota has decided
	// (generation g is decided when Generations > g).
	Generations int `json:"generations,omitempty"`
	// LastError is the last error seen.
	LastError string `json:"last_error,omitempty"`
	// Reason explains a terminal state other than Accepted.
	Reason string `json:"reason,omitempty"`
	// EventSeq numbers this message's events; event ids are "<id>/<seq>".
	EventSeq   int       `json:"event_seq"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Enqueued is true when the producer wrote the record to be enqueued in the
	// same Send (the enqueue follows at once; a Send retried with the same
	// idempotency key enqueues again, idempotently). The producer's Status
	// checks the queue for a message still queued past its expiry.
	Enqueued bool `json:"enqueued"`
	// Updates and Cancel are read from their own keys (see UpdateKey,
	// CancelKey) by the producer's Status; they are never stored in the record.
	Updates *Updates       `json:"updates,omitempty"`
	Cancel  *CancelOutcome `json:"cancel,omitempty"`

	// stored is what Redis holds of the job and the parts, as this Record last
	// read or wrote them: a write rewrites only what changed (see layout.go).
	stored stored
	// assumed: built from the task (Assumed), not read; see first_run.go.
	assumed bool
}

// Invalid returns every recipient a provider refused, over all parts.
func (r *Record) Invalid() providers.Recipients {
	var inv providers.Recipients
	for _, p := range r.Parts {
		if p.Result == nil {
			continue
		}
		inv.Users = append(inv.Users, p.Result.Invalid.Users...)
		inv.Depts = append(inv.Depts, p.Result.Invalid.Depts...)
		inv.Tags = append(inv.Tags, p.Result.Invalid.Tags...)
		inv.Chats = append(inv.Chats, p.Result.Invalid.Chats...)
	}
	return inv
}

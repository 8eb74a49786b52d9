package providers

import (
	"errors"
	"fmt"
	"time"
)

// Class says what retrying a failed provider call would do.
type Class int

const (
	// ClassUnknown is the zero value; ClassOf never returns it.
	ClassUnknown Class = iota
	// ClassPermanent: retrying cannot help (bad recipient, bad payload). Stop now
	// and record the reason.
	ClassPermanent
	// ClassRetryable: the request did not take effect; retry with backoff,
	// honouring Error.RetryAfter when set.
	ClassRetryable
	// ClassThrottled: the provider refused for rate or concurrency; defer by
	// Error.RetryAfter without spending the failure budget.
	ClassThrottled
	// ClassUnknownOutcome: the request may have been applied (timeout, lost
	// response, 5xx after sending). Re-send only the same bytes, only within the
	// provider's dedupe window.
	ClassUnknownOutcome
	// ClassAppDisabled: credentials or authorisation are broken (wrong secret, app
	// disabled, IP not allowed, tenant cancelled). Pause the app; do not retry blindly.
	ClassAppDisabled
)

func (c Class) String() string {
	switch c {
	case ClassPermanent:
		return "permanent"
	case ClassRetryable:
		return "retryable"
	case ClassThrottled:
		return "throttled"
	case ClassUnknownOutcome:
		return "unknown_outcome"
	case ClassAppDisabled:
		return "app_disabled"
	default:
		return "unknown"
	}
}

// Error is a failed provider call, classified.
type Error struct {
	// Provider is the provider name ("wecom").
	Provider string
	// Op is the API called ("gettoken", "message/send").
	Op string
	// Class says what retrying would do.
	Class Class
	// Code is the provider's error code (WeCom errcode); 0 when there was none.
	Code int
	// HTTPStatus is the HTTP status, when the failure was one.
	HTTPStatus int
	// Message is the provider's error text (WeCom errmsg). Never holds a secret.
	Message string
	// RetryAfter is how long the provider asked to wait; 0 when it did not say.
	RetryAfter time.Duration
	// Tenant is set when the failure concerns one tenant of a multi-tenant app
	// (the company cancelled its authorisation): the tenant is paused, not the app.
	Tenant string
	// Err is the underlying transport error, if any.
	Err error
	// Reason is a sentinel saying what the failure means to the core
	// ([ErrRecallExpired], [ErrNotUpdatable]); errors.Is finds it.
	Reason error
}

// Sentinels a provider sets as [Error.Reason] (or wraps), so that the core
// tells these failures apart without knowing provider codes.
var (
	// ErrRecallExpired: the message is too old to recall.
	ErrRecallExpired = errors.New("too old to recall")
	// ErrNotUpdatable: the provider will not update this message.
	ErrNotUpdatable = errors.New("not updatable")
)

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s", e.Provider, e.Op, e.Class)
	if e.Code != 0 {
		s += fmt.Sprintf(" (errcode %d)", e.Code)
	}
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the transport error and the reason, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if e.Reason != nil {
		out = append(out, e.Reason)
	}
	return out
}

// ClassOf returns the class of err: the Class of the *Error it wraps, ClassPermanent
// for a *ValidationError, and ClassUnknownOutcome for anything else (an error we
// cannot classify may have left the process after the request was applied).
func ClassOf(err error) Class {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Class
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ClassPermanent
	}
	return ClassUnknownOutcome
}

// ValidationError is a message the provider would refuse, found before any request
// left. Field is a path into the message ("to.users[3]", "text").
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Package webhook delivers an app's events (message outcomes, updates,
// cancels, verified provider callbacks such as card clicks) to producers'
// HTTP endpoints: the app's URLs from api.webhooks.urls and a message's own
// webhook_url. A pump reads the app's events stream through a Redis consumer
// group and enqueues one asynq task per (event, URL), whose id is derived
// from both, so an event is enqueued once per URL even when the pump re-reads
// it; the task POSTs the event as JSON, signed, and is retried with backoff
// until the receiver answers 2xx. Both run in `dispatcher api` (the worker
// needs no change and holds no webhook secret).
//
// Each POST carries:
//
//	Content-Type: application/json
//	X-Msgd-Event-Id: <event id>          stable per event: deduplicate on it
//	X-Msgd-Timestamp: <unix seconds>     when this attempt was signed
//	X-Msgd-Signature: v1=<hex>           HMAC-SHA256(secret, timestamp + "." + body)
//
// A receiver recomputes the HMAC over the raw body, compares in constant time,
// and refuses timestamps far from its clock (see Verify).
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	HeaderEventID   = "X-Msgd-Event-Id"
	HeaderTimestamp = "X-Msgd-Timestamp"
	HeaderSignature = "X-Msgd-Signature"
)

// Sign returns the X-Msgd-Signature value of body signed at ts (Unix seconds).
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrSignature is returned by Verify for a missing, malformed, wrong or stale
// signature.
var ErrSignature = errors.New("webhook: bad signature")

// Verify checks the timestamp and signature headers of a delivery of body:
// the timestamp must be within tolerance of now (default 5m when 0) and the
// signature must be Sign's, compared in constant time.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance == 0 {
		tolerance = 5 * time.Minute
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrSignature, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d is %s from now", ErrSignature, ts, d)
	}
	if !strings.HasPrefix(signature, "v1=") || !hmac.Equal([]byte(signature), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	return nil
}

package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
)

// TypeDeliver is the asynq task type of one delivery (one event to one URL).
const TypeDeliver = "msgd:webhook"

// Queue is the asynq queue of deliveries, served by `dispatcher api` only.
const Queue = "webhooks"

// delivery is the payload of a TypeDeliver task. Body is the event as JSON:
// no secret, no message content.
type delivery struct {
	EventID string          `json:"event_id"`
	App     string          `json:"app"`
	URL     string          `json:"url"`
	Body    json.RawMessage `json:"body"`
}

// taskID is the id of the delivery of event to url: the same (event, URL)
// is enqueued once (asynq refuses a task id it holds, completed tasks
// included for their retention).
func taskID(eventID, url string) string {
	sum := sha256.Sum256([]byte(url + "\n" + eventID))
	return "webhook:" + hex.EncodeToString(sum[:16])
}

// retention keeps a delivered task's id (so a re-read event is not
// delivered again) for a day.
const retention = 24 * time.Hour

// Defaults of config.Webhooks.
const (
	defaultAttempts = 25
	defaultBackoff  = 5 * time.Minute
	defaultTimeout  = 10 * time.Second
)

// deliverer POSTs deliveries.
type deliverer struct {
	secret []byte
	http   *http.Client
	now    func() time.Time
}

// ReceiverError is the error of a delivery the receiver did not take (a
// non-2xx answer); asynq retries it.
type ReceiverError struct {
	URL    string
	Status int
}

func (e *ReceiverError) Error() string {
	return fmt.Sprintf("webhook: %s answered HTTP %d", e.URL, e.Status)
}

// ProcessTask is the asynq handler of TypeDeliver.
func (d *deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p delivery
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("webhook: undecodable delivery: %v: %w", err, asynq.SkipRetry)
	}
	ts := d.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return fmt.Errorf("webhook: event %s: %v: %w", p.EventID, err, asynq.SkipRetry)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "msgdispatch-webhook/1")
	req.Header.Set(HeaderEventID, p.EventID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(ts))
	req.Header.Set(HeaderSignature, Sign(d.secret, ts, p.Body))
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: event %s to %s: %w", p.EventID, req.URL.Redacted(), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: event %s: %w", p.EventID, &ReceiverError{URL: req.URL.Redacted(), Status: resp.StatusCode})
	}
	return nil
}

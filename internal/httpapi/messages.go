package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/webhook"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

// sendRequest is the body of POST /v1/messages: a providers.Message and the
// producer's options.
type sendRequest struct {
	App        string               `json:"app"`
	Tenant     string               `json:"tenant,omitempty"`
	To         providers.Recipients `json:"to"`
	Kind       providers.Kind       `json:"kind"`
	Text       string               `json:"text,omitempty"`
	Body       json.RawMessage      `json:"body,omitempty"`
	ReplyTo    *providers.ReplyTo   `json:"reply_to,omitempty"`
	NotBefore  string               `json:"not_before,omitempty"`
	ExpiresAt  string               `json:"expires_at,omitempty"`
	Urgent     bool                 `json:"urgent,omitempty"`
	Queue      string               `json:"queue,omitempty"`
	WebhookURL string               `json:"webhook_url,omitempty"`
}

// sendResponse answers POST /v1/messages.
type sendResponse struct {
	ID  string `json:"id"`
	App string `json:"app"`
}

// IdempotencyHeader is the request header carrying the idempotency key.
const IdempotencyHeader = "Idempotency-Key"

// send is POST /v1/messages: producer.Client.Send.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	t := tokenOf(r)
	var req sendRequest
	if e := decodeBody(w, r, &req, false); e != nil {
		writeError(w, e)
		return
	}
	if req.App == "" {
		writeError(w, invalid("app", "required"))
		return
	}
	if !t.may(req.App) {
		writeError(w, forbidden(t, req.App, "app"))
		return
	}
	if ac, ok := s.cfg.Apps[req.App]; ok && ac.Block != nil && req.ReplyTo != nil && !ac.Block.Capabilities().Reply {
		// the producer leaves this to the provider's rules, and not every provider checks it
		writeError(w, invalid("reply_to", "app %s (provider %s) cannot reply to a message", req.App, ac.Provider))
		return
	}
	var opts []producer.SendOption
	if vals, ok := r.Header[http.CanonicalHeaderKey(IdempotencyHeader)]; ok {
		if len(vals) != 1 {
			writeError(w, invalid("idempotency_key", "give the Idempotency-Key header once"))
			return
		}
		if vals[0] == "" {
			writeError(w, invalid("idempotency_key", "empty: give a key, or leave the header out"))
			return
		}
		opts = append(opts, producer.IdempotencyKey(vals[0]))
	}
	nb, e := parseTime("not_before", req.NotBefore)
	if e != nil {
		writeError(w, e)
		return
	}
	if !nb.IsZero() {
		opts = append(opts, producer.NotBefore(nb))
	}
	ex, e := parseTime("expires_at", req.ExpiresAt)
	if e != nil {
		writeError(w, e)
		return
	}
	if !ex.IsZero() {
		opts = append(opts, producer.ExpiresAt(ex))
	}
	if req.Urgent {
		opts = append(opts, producer.Urgent())
	}
	if req.Queue != "" {
		opts = append(opts, producer.Queue(req.Queue))
	}
	if req.WebhookURL != "" {
		if e := s.checkWebhookURL(req.WebhookURL); e != nil {
			writeError(w, e)
			return
		}
	}
	msg := providers.Message{App: req.App, Tenant: req.Tenant, To: req.To, Kind: req.Kind, Text: req.Text, Body: req.Body, ReplyTo: req.ReplyTo}
	refund, e := s.chargeShare(r.Context(), t, &msg, r.Header.Get(IdempotencyHeader))
	if e != nil {
		writeError(w, e)
		return
	}
	id, err := s.prod.Send(r.Context(), msg, opts...)
	if err != nil {
		refund()
		s.fail(w, r, err)
		return
	}
	if req.WebhookURL != "" {
		ttl := s.cfg.Worker.MessageTTL + max(s.cfg.Worker.Retention, s.cfg.Worker.InteractiveTTL)
		if !ex.IsZero() {
			ttl = max(ex.Sub(s.now()), 0) + max(s.cfg.Worker.Retention, s.cfg.Worker.InteractiveTTL)
		}
		if err := webhook.RegisterMessageURL(r.Context(), s.rdb, req.App, id, req.WebhookURL, ttl); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, sendResponse{ID: id, App: req.App})
}

// checkWebhookURL checks a message's webhook_url.
func (s *Server) checkWebhookURL(raw string) *Error {
	if !s.cfg.API.Webhooks.AllowMessageURLs {
		return invalid("webhook_url", "per-message webhooks are off (api.webhooks.allow_message_urls)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 2048 {
		return invalid("webhook_url", "want an absolute http or https URL of at most 2048 bytes")
	}
	return nil
}

// fail writes err: a known producer error as its API error, anything else as
// a logged 500 whose text is not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e := fromProducer(err); e != nil {
		writeError(w, e)
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the dispatcher failed; try again"})
}

// messageApp checks the path's message id and that the token may use its
// app, and returns the app.
func messageApp(r *http.Request) (string, *Error) {
	id := r.PathValue("id")
	app, err := job.AppOf(id)
	if err != nil || strings.ContainsAny(id, "{}/ ") {
		return "", invalid("id", "%q is not a message id (want <app>.<random>)", id)
	}
	if t := tokenOf(r); !t.may(app) {
		return "", forbidden(t, app, "id")
	}
	return app, nil
}

// status is GET /v1/messages/{id}: producer.Client.Status (the delivery
// record: state, parts, why and until when it waits, booked recipients,
// updates, cancel outcome).
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if _, e := messageApp(r); e != nil {
		writeError(w, e)
		return
	}
	st, err := s.prod.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// updateResponse answers POST /v1/messages/{id}/updates.
type updateResponse struct {
	ID  string `json:"id"`
	Seq int64  `json:"seq"`
}

// update is POST /v1/messages/{id}/updates: producer.Client.Update.
func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	if _, e := messageApp(r); e != nil {
		writeError(w, e)
		return
	}
	var c producer.Content
	if e := decodeBody(w, r, &c, false); e != nil {
		writeError(w, e)
		return
	}
	if c.Kind == "" {
		writeError(w, invalid("kind", "required"))
		return
	}
	id := r.PathValue("id")
	seq, err := s.prod.Update(r.Context(), id, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, updateResponse{ID: id, Seq: seq})
}

// cancelPending answers a DELETE whose cancel the worker has not finished.
type cancelPending struct {
	ID      string `json:"id"`
	Pending bool   `json:"pending"`
	Message string `json:"message"`
}

// cancel is DELETE /v1/messages/{id}: producer.Client.Cancel. It answers 200
// with the outcome per part, or 202 when the worker did not finish in time
// (the tombstone is in place; GET shows the outcome later).
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	if _, e := messageApp(r); e != nil {
		writeError(w, e)
		return
	}
	id := r.PathValue("id")
	extend(w, s.cfg.Worker.SendTimeout+10*time.Second)
	out, err := s.prod.Cancel(r.Context(), id)
	if errors.Is(err, producer.ErrCancelPending) {
		writeJSON(w, http.StatusAccepted, cancelPending{ID: id, Pending: true, Message: fmt.Sprintf("cancelled: nothing more leaves; the worker has not finished (%s)", CodeCancelPending)})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

package xiezuo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"time"
)

// Defaults of [CallbackOptions].
const (
	// DefaultCallbackMaxSkew is how far a callback's signed date may be from
	// the clock (5 minutes).
	DefaultCallbackMaxSkew = 5 * time.Minute
	// DefaultCallbackDedupeTTL is how long a callback is remembered to drop repeats.
	DefaultCallbackDedupeTTL = time.Hour
	// DefaultCallbackMaxBody is the largest callback body read (64 KiB).
	DefaultCallbackMaxBody = 64 << 10
	// DefaultCallbackTimeout bounds the work of one callback (WPS wants an
	// answer within seconds).
	DefaultCallbackTimeout = 2 * time.Second
)

// EventTypeCardClick is the Type of a published card interaction.
const EventTypeCardClick = "xiezuo.card_click"

// CallbackSink publishes verified card interactions. The dispatcher's
// implementation appends to the app's events stream.
type CallbackSink interface {
	// PublishOnce appends ev unless dedupeKey was published within ttl (one
	// atomic step); it reports whether ev was appended.
	PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *CallbackEvent) (bool, error)
}

// CallbackEvent is a verified card interaction.
type CallbackEvent struct {
	// ID is stable: "xiezuo-cb-" and 32 hex digits of the dedupe key.
	ID string
	// Type is EventTypeCardClick.
	Type string
	// App is the configured app name.
	App string
	// CompanyID is the company of the user, as WPS sent it.
	CompanyID string
	// CtxID is the card's ctx_id (app_ctx_id / ctx_id in the body).
	CtxID string
	// MessageID, Part and Generation are the dispatcher message the ctx_id
	// was derived from, when [ParseCtxID] can tell (else MessageID is ""). The
	// core's sink ([Descriptor]) asks the message index (providers.Env.Messages,
	// which knows every Part.Ref) first and uses MessageID only when the index
	// does not know the ctx_id.
	MessageID  string
	Part       int
	Generation int
	// Action is the key of the clicked action (content.action).
	Action string
	// User is the user who acted (company_uid / user_id), when sent.
	User string
	// Values are the other members of content (form inputs), as strings.
	Values map[string]string
	// At is when the handler received the callback.
	At time.Time
}

// CallbackOptions configure a [CallbackHandler].
type CallbackOptions struct {
	// App is the configured app name. Required.
	App string
	// Config is the app's xiezuo block (app_key and app_secret verify WPS-4).
	Config Config
	// Sink publishes interactions. Required.
	Sink CallbackSink
	// UnsignedPrefix is a prefix of the request path that WPS did not sign
	// (a reverse proxy's mount point). Default none.
	UnsignedPrefix string
	// Now is the clock for date checks. Default time.Now.
	Now func() time.Time
	// MaxSkew, DedupeTTL, MaxBody and Timeout default to the
	// DefaultCallback… constants.
	MaxSkew   time.Duration
	DedupeTTL time.Duration
	MaxBody   int64
	Timeout   time.Duration
	// Logger receives one record per refused or failed callback (never a
	// secret). Default: discard.
	Logger *slog.Logger
}

// CallbackHandler is the http.Handler of one app's card-callback URL (the
// dispatcher serves it at /callbacks/xiezuo/{app}). A POST must carry a valid
// WPS-4 signature with either header pair (Wps-Docs-* or Date/Authorization)
// over the request URI and the exact body, dated within MaxSkew, and a
// non-empty body must be of a content type WPS-4 signs (application/json or
// form-urlencoded); otherwise it is answered 401 and nothing is published. A verified callback is parsed
// (the v2 body schema is not documented: the handler reads the v7 shape
// {"data":{"company_id","app_ctx_id","content":{"action":…,…}}}, also
// accepting ctx_id, company_uid/user_id and the same fields at top level),
// published once per dedupe key (app + SHA-256 of the body), and answered
// {"result":"ok"}; a repeat is answered the same without publishing. A sink
// failure is answered 500.
type CallbackHandler struct {
	o   CallbackOptions
	log *slog.Logger
}

// NewCallbackHandler returns the handler of o.App's card callbacks.
func NewCallbackHandler(o CallbackOptions) (*CallbackHandler, error) {
	o.Config = o.Config.Defaults()
	switch {
	case o.App == "":
		return nil, errors.New("xiezuo: callback handler: App is required")
	case o.Sink == nil:
		return nil, fmt.Errorf("xiezuo: callback handler of app %s: Sink is required", o.App)
	case o.Config.AppKey == "" || o.Config.AppSecret == "":
		return nil, fmt.Errorf("xiezuo: callback handler of app %s: app_key and app_secret are required", o.App)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultCallbackMaxSkew
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = DefaultCallbackDedupeTTL
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultCallbackMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultCallbackTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &CallbackHandler{o: o, log: o.Logger.With("provider", ProviderName, "app", o.App)}, nil
}

// callbackBody is the tolerant shape of a card callback.
type callbackBody struct {
	CallbackName string `json:"callback_name"`
	AppID        string `json:"app_id"`
	callbackData
	Data *callbackData `json:"data"`
}

type callbackData struct {
	CompanyID  string                     `json:"company_id"`
	AppCtxID   string                     `json:"app_ctx_id"`
	CtxID      string                     `json:"ctx_id"`
	CompanyUID string                     `json:"company_uid"`
	UserID     string                     `json:"user_id"`
	Content    map[string]json.RawMessage `json:"content"`
}

func (h *CallbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.o.MaxBody+1))
	if err != nil || int64(len(body)) > h.o.MaxBody {
		h.log.Warn("xiezuo callback refused: body unreadable or too large")
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if len(body) > 0 && bodyDigest(r.Header.Get("Content-Type"), body) == "" {
		// WPS-4 leaves the body of other content types unsigned: such a body
		// could be swapped under a valid signature.
		h.log.Warn("xiezuo callback refused: body of an unsigned content type")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	now := h.o.Now()
	if err := VerifyWPS4(r, body, VerifyOptions{AppID: h.o.Config.AppKey, Secret: h.o.Config.AppSecret,
		UnsignedPrefix: h.o.UnsignedPrefix, Now: now, MaxSkew: h.o.MaxSkew}); err != nil {
		h.log.Warn("xiezuo callback refused", "err", err)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	ev, err := h.parse(body, now)
	if err != nil {
		h.log.Warn("xiezuo callback refused: malformed", "err", err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	sum := sha256.Sum256(append([]byte(h.o.App+"\x00"), body...))
	key := "xiezuo:cb:" + hex.EncodeToString(sum[:16])
	ev.ID = "xiezuo-cb-" + hex.EncodeToString(sum[:16])
	if _, err := h.o.Sink.PublishOnce(ctx, key, h.o.DedupeTTL, ev); err != nil {
		h.log.Error("xiezuo callback: publishing failed", "ctx_id", ev.CtxID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"result":"ok"}`)
}

// parse reads a verified body into an event.
func (h *CallbackHandler) parse(body []byte, now time.Time) (*CallbackEvent, error) {
	var b callbackBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	d := b.callbackData
	if b.Data != nil {
		d = *b.Data
	}
	ev := &CallbackEvent{Type: EventTypeCardClick, App: h.o.App, CompanyID: d.CompanyID, CtxID: d.AppCtxID, User: d.CompanyUID, At: now}
	if ev.CtxID == "" {
		ev.CtxID = d.CtxID
	}
	if ev.User == "" {
		ev.User = d.UserID
	}
	if ev.CtxID == "" {
		return nil, errors.New("no app_ctx_id / ctx_id")
	}
	keys := make([]string, 0, len(d.Content))
	for k := range d.Content {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := d.Content[k]
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		if k == "action" {
			ev.Action = s
			continue
		}
		if ev.Values == nil {
			ev.Values = map[string]string{}
		}
		ev.Values[k] = s
	}
	ev.MessageID, ev.Part, ev.Generation, _ = ParseCtxID(h.o.App, ev.CtxID)
	return ev, nil
}

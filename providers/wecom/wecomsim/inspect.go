package wecomsim

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Request is one API request as the simulator saw it.
type Request struct {
	// Seq numbers requests from 1 in the order they completed.
	Seq int64 `json:"seq"`
	// At is the simulator-clock time the request was handled (after any latency).
	At time.Time `json:"at"`
	// Endpoint is EndpointGetToken, EndpointSend, EndpointRecall or one of the
	// suite endpoints (EndpointSuiteToken, …).
	Endpoint string `json:"endpoint"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// CorpID and AgentID identify the app, when the request identified one.
	CorpID  string `json:"corp_id,omitempty"`
	AgentID int64  `json:"agent_id,omitempty"`
	// ErrCode is the errcode answered (or that would have been, if Lost). It is
	// 0 for requests answered only with an HTTP status.
	ErrCode int `json:"errcode"`
	// HTTPStatus is the HTTP status answered (0 when Cancelled).
	HTTPStatus int `json:"http_status,omitempty"`
	// MsgID is the msgid sent (message/send) or recalled (message/recall).
	MsgID string `json:"msgid,omitempty"`
	// Duplicate is true for a message/send suppressed by the duplicate check.
	Duplicate bool `json:"duplicate,omitempty"`
	// Fault describes the injected faults, "down", or "" for none.
	Fault string `json:"fault,omitempty"`
	// Latency is the injected delay.
	Latency time.Duration `json:"latency,omitempty"`
	// Lost is true when the request was applied and its response dropped.
	Lost bool `json:"lost,omitempty"`
	// Cancelled is true when the client gave up during injected latency; the
	// request was not applied.
	Cancelled bool `json:"cancelled,omitempty"`
	// Body is the request body (message/send and message/recall only: gettoken
	// carries its secret in the URL, which is never recorded, and the service/
	// endpoints carry suite secrets, tickets and permanent codes).
	Body string `json:"body,omitempty"`
}

// Delivery is one message arriving at one member.
type Delivery struct {
	// Seq numbers deliveries from 1.
	Seq int64 `json:"seq"`
	// At is the receipt time (simulator clock), the time limits count.
	At      time.Time `json:"at"`
	CorpID  string    `json:"corp_id"`
	AgentID int64     `json:"agent_id"`
	// User is the member's userid, lower-cased.
	User    string `json:"user"`
	MsgID   string `json:"msgid"`
	MsgType string `json:"msgtype"`
	// Content summarises the message: text/markdown content; textcard title and
	// description joined by "\n"; the first article title of news/mpnews; the
	// title of miniprogram_notice and video (else its media_id); the media_id of
	// image/voice/file; template_card main_title.title, else sub_title_text.
	Content string `json:"content"`
	// Body is the request body exactly as received.
	Body json.RawMessage `json:"body"`
	// RecalledAt is when the message was recalled; zero if it was not.
	RecalledAt time.Time `json:"recalled_at,omitzero"`
}

// Drop is a message silently not delivered to a member (the request still got
// errcode 0).
type Drop struct {
	At      time.Time `json:"at"`
	CorpID  string    `json:"corp_id"`
	AgentID int64     `json:"agent_id"`
	User    string    `json:"user"`
	MsgID   string    `json:"msgid"`
	MsgType string    `json:"msgtype"`
	// Reason is DropPerMember or DropDaily.
	Reason string `json:"reason"`
	// Limit is the per-member limit that would have been exceeded (DropPerMember).
	Limit Limit `json:"limit,omitzero"`
}

// MarshalJSON renders a limit as {"count":30,"window":"1m0s"}.
func (l Limit) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count  int    `json:"count"`
		Window string `json:"window"`
	}{l.Count, l.Window.String()})
}

// Suppressed is a message/send request answered as a duplicate of an earlier one
// and not delivered.
type Suppressed struct {
	At      time.Time `json:"at"`
	CorpID  string    `json:"corp_id"`
	AgentID int64     `json:"agent_id"`
	// MsgID is the original message's msgid, which the duplicate was answered with.
	MsgID string `json:"msgid"`
	// OriginalAt is when the original was accepted.
	OriginalAt time.Time       `json:"original_at"`
	Body       json.RawMessage `json:"body"`
}

// UserCounters count what happened to one member (across apps and corps).
type UserCounters struct {
	// Delivered is the number of messages received.
	Delivered int `json:"delivered"`
	// Dropped is the number of messages silently dropped by a limit.
	Dropped int `json:"dropped"`
	// Suppressed is the number of duplicate requests suppressed that addressed
	// this member.
	Suppressed int `json:"suppressed"`
	// Recalled is the number of received messages later recalled.
	Recalled int `json:"recalled"`
}

// Message is an accepted message/send request and what became of it.
type Message struct {
	MsgID   string          `json:"msgid"`
	CorpID  string          `json:"corp_id"`
	AgentID int64           `json:"agent_id"`
	At      time.Time       `json:"at"`
	MsgType string          `json:"msgtype"`
	Content string          `json:"content"`
	Body    json.RawMessage `json:"body"`
	// Delivered and Dropped are the members it reached and did not reach.
	Delivered []string `json:"delivered"`
	Dropped   []string `json:"dropped,omitempty"`
	// InvalidUsers, InvalidParties and InvalidTags are the targets that did not
	// exist, as answered in invaliduser, invalidparty and invalidtag.
	InvalidUsers   []string `json:"invalid_users,omitempty"`
	InvalidParties []string `json:"invalid_parties,omitempty"`
	InvalidTags    []string `json:"invalid_tags,omitempty"`
	// TaskID and ResponseCode are those of a template_card.
	TaskID       string `json:"task_id,omitempty"`
	ResponseCode string `json:"response_code,omitempty"`
	// Suppressed is the number of duplicates suppressed.
	Suppressed int `json:"suppressed,omitempty"`
	// RecalledAt is when it was recalled; zero if it was not.
	RecalledAt time.Time `json:"recalled_at,omitzero"`
}

// Stats are totals since New or the last [Sim.ResetRecords].
type Stats struct {
	Requests   int `json:"requests"`
	Deliveries int `json:"deliveries"`
	Drops      int `json:"drops"`
	Suppressed int `json:"suppressed"`
	Recalls    int `json:"recalls"`
}

// records are the simulator's observations; guarded by Sim.mu.
type records struct {
	seq         int64
	requests    []Request
	perEndpoint map[string]int
	deliveries  []*Delivery
	byUser      map[string][]*Delivery
	drops       []Drop
	suppressed  []Suppressed
	counters    map[string]*UserCounters
	recalls     int
}

func (r *records) init() {
	*r = records{byUser: map[string][]*Delivery{}, counters: map[string]*UserCounters{}, perEndpoint: map[string]int{}}
}

func (r *records) counter(user string) *UserCounters {
	c := r.counters[user]
	if c == nil {
		c = &UserCounters{}
		r.counters[user] = c
	}
	return c
}

func copyDeliveries(ds []*Delivery) []Delivery {
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = *d
	}
	return out
}

// Deliveries returns the messages received by user (case-insensitive), oldest
// first; user "" returns every delivery.
func (s *Sim) Deliveries(user string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if user == "" {
		return copyDeliveries(s.rec.deliveries)
	}
	return copyDeliveries(s.rec.byUser[s.userRecKeyLocked(user)])
}

// DeliveryCount returns the number of deliveries to all members.
func (s *Sim) DeliveryCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rec.deliveries)
}

// Drops returns every silent drop, oldest first.
func (s *Sim) Drops() []Drop {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.drops)
}

// Suppressed returns every duplicate suppressed by the duplicate check, oldest
// first.
func (s *Sim) Suppressed() []Suppressed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.suppressed)
}

// Requests returns every API request, in completion order.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rec.requests)
}

// RequestsTo returns the API requests to endpoint, in completion order.
func (s *Sim) RequestsTo(endpoint string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.rec.requests {
		if r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// Counters returns user's counters (case-insensitive).
func (s *Sim) Counters(user string) UserCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.rec.counters[s.userRecKeyLocked(user)]; c != nil {
		return *c
	}
	return UserCounters{}
}

// AllCounters returns the counters of every member something happened to.
func (s *Sim) AllCounters() map[string]UserCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]UserCounters, len(s.rec.counters))
	for u, c := range s.rec.counters {
		out[u] = *c
	}
	return out
}

// Message returns the accepted message msgid; ok is false if there is none.
func (s *Sim) Message(msgid string) (m Message, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.msgs[msgid]
	if mm == nil {
		return Message{}, false
	}
	m = Message{
		MsgID: mm.id, CorpID: mm.app.CorpID, AgentID: mm.app.AgentID, At: mm.at, MsgType: mm.msgType,
		Content: mm.summary, Body: mm.body, Dropped: slices.Clone(mm.dropped),
		InvalidUsers: slices.Clone(mm.invalidUsers), InvalidParties: slices.Clone(mm.invalidParty),
		InvalidTags: slices.Clone(mm.invalidTag), TaskID: mm.taskID, ResponseCode: mm.responseCode,
		Suppressed: mm.suppressed, RecalledAt: mm.recalledAt, Delivered: []string{},
	}
	for _, d := range mm.delivered {
		m.Delivered = append(m.Delivered, d.User)
	}
	return m, true
}

// Stats returns totals.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Requests: len(s.rec.requests), Deliveries: len(s.rec.deliveries), Drops: len(s.rec.drops),
		Suppressed: len(s.rec.suppressed), Recalls: s.rec.recalls,
	}
}

// ResetRecords forgets requests, deliveries, drops, suppressed duplicates and
// counters (e.g. between benchmark rounds). Provider state stays: tokens, sent
// messages (for recall and the duplicate check), limit windows, faults.
func (s *Sim) ResetRecords() {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.rec.seq
	s.rec.init()
	s.rec.seq = seq
	s.notifyLocked()
}

// WaitFor blocks until cond returns true or ctx is done, re-evaluating cond after
// every request, delivery and state change the simulator records; it returns
// ctx.Err() on timeout. cond runs without the simulator's lock held, so it may
// call any inspection method. Use it instead of sleeping.
func (s *Sim) WaitFor(ctx context.Context, cond func() bool) error {
	return s.wait(ctx, cond)
}

// WaitDeliveries blocks until at least n deliveries have been recorded in total
// (all members) or ctx is done.
func (s *Sim) WaitDeliveries(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.DeliveryCount() >= n })
}

// WaitRequests blocks until at least n API requests (to endpoint, or to any
// endpoint when endpoint is "") have completed, or ctx is done.
func (s *Sim) WaitRequests(ctx context.Context, endpoint string, n int) error {
	return s.wait(ctx, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if endpoint == "" {
			return len(s.rec.requests) >= n
		}
		return s.rec.perEndpoint[endpoint] >= n
	})
}

// Apps returns the registered apps without their secrets, with their gettoken
// counts (see [Sim.TokenFetches]).
func (s *Sim) Apps() []AppInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AppInfo
	for _, a := range s.apps {
		out = append(out, AppInfo{CorpID: a.CorpID, AgentID: a.AgentID, TokenFetches: a.fetches})
	}
	slices.SortFunc(out, func(x, y AppInfo) int {
		if c := strings.Compare(x.CorpID, y.CorpID); c != 0 {
			return c
		}
		return cmp.Compare(x.AgentID, y.AgentID)
	})
	return out
}

// AppInfo describes a registered app; it carries no secret.
type AppInfo struct {
	CorpID       string `json:"corp_id"`
	AgentID      int64  `json:"agent_id"`
	TokenFetches int    `json:"token_fetches"`
}

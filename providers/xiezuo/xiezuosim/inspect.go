package xiezuosim

import (
	"encoding/json"
	"slices"
	"time"
)

// Request is one API request as the simulator saw it.
type Request struct {
	Seq      int64
	At       time.Time
	Endpoint string
	Method   string
	Path     string
	// AppKey is the app the request identified, if any.
	AppKey string
	// Result is the result code answered (0 for success or HTTP-only answers).
	Result     int
	HTTPStatus int
	// CtxID and MessageID of a send or update.
	CtxID     string
	MessageID string
	// Fault describes injected faults, "down", or "".
	Fault     string
	Lost      bool
	Cancelled bool
	// Body is the request body (not recorded for token requests).
	Body string
}

// Delivery is one message arriving at one user.
type Delivery struct {
	Seq    int
	At     time.Time
	AppKey string
	User   string
	// Via is "users", "depts", "chats" or "company".
	Via       string
	CtxID     string
	MessageID string
	MsgType   int
	BizType   string
	// Body is the send body exactly as received.
	Body json.RawMessage
}

// Requests returns every request handled so far, in order.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Deliveries returns the messages user received, in order.
func (s *Sim) Deliveries(user string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, d := range s.delivered {
		if d.User == user {
			out = append(out, d)
		}
	}
	return out
}

// CardOf returns user's current card of the message ctxID (of any app): the
// card as sent, or as last updated.
func (s *Sim) CardOf(user, ctxID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.cards[user] {
		if len(k) > len(ctxID) && k[len(k)-len(ctxID)-1:] == "\x00"+ctxID {
			return slices.Clone(c), true
		}
	}
	return nil, false
}

// TokenFetches is how many company_token requests of the app were accepted.
func (s *Sim) TokenFetches(appKey string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[appKey]
}

// ExpireTokens makes every company_token issued so far expire now: calls
// with them get HTTP 401 CodeTokenExpired and the next fetch issues a new one.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for _, t := range s.tokens {
		if t.expires.After(now) {
			t.expires = now
		}
	}
}

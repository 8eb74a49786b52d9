package wps365sim

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Request is one request the simulator answered. Token requests have no
// Body (they carry the secret); no header is recorded.
type Request struct {
	Endpoint string
	Path     string
	Body     []byte
	Status   int
	Code     int
	Msg      string
	At       time.Time
	// Fault describes the injected or drawn fault ("latency(1.2s)+http(502)",
	// "lost_response", "down"), or "".
	Fault string
	// Lost: the request was applied and its answer dropped.
	Lost bool
}

// Message is the simulator's view of one sent message.
type Message struct {
	ID string
	// Type and Content are the current type and content object (after updates).
	Type    string
	Content json.RawMessage
	// Mentions are the mentions[] sent.
	Mentions json.RawMessage
	// Via is the endpoint that created it (EndpointCreate, EndpointBatchCreate,
	// EndpointReply).
	Via string
	// ChatID is the chat it was posted in ("" for a message to users); ReplyTo
	// the message it answers.
	ChatID  string
	ReplyTo string
	// Users are the users it was delivered to (chat members for a chat).
	Users []string
	// Shared is a card with config.shared_card true (default true).
	Shared bool
	// Updatable: created with messages/create, a card, shared.
	Updatable bool
	Recalled  bool
	// Updates is how many updates were applied.
	Updates int
	SentAt  time.Time
}

// Delivery is one message as one user sees it.
type Delivery struct {
	MessageID string
	Type      string
	Content   json.RawMessage
	ChatID    string
	Recalled  bool
	Updates   int
}

func (s *Sim) record(r Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.changed.Notify()
	s.mu.Unlock()
}

// Requests returns every answered request, oldest first.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// RequestsTo returns the answered requests to endpoint.
func (s *Sim) RequestsTo(endpoint string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// MessageOf returns the simulator's view of message id.
func (s *Sim) MessageOf(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[id]
	if m == nil {
		return Message{}, false
	}
	return m.view(), true
}

// Messages returns every message, in send order.
func (s *Sim) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.msgs[id].view())
	}
	return out
}

// Deliveries returns what user received, in send order: messages to the
// user, to a dept or company they are in, and to chats they are a member of.
func (s *Sim) Deliveries(user string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, id := range s.order {
		m := s.msgs[id]
		if slices.Contains(m.users, user) {
			out = append(out, Delivery{MessageID: m.id, Type: m.typ, Content: slices.Clone(m.content), ChatID: m.chatID, Recalled: m.recalled, Updates: m.updates})
		}
	}
	return out
}

// ChatMessages returns the messages posted in chatID (including those
// posted with [Sim.PostUserMessage]), in order.
func (s *Sim) ChatMessages(chatID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, id := range s.order {
		if m := s.msgs[id]; m.chatID == chatID {
			out = append(out, m.view())
		}
	}
	return out
}

// WaitFor blocks until cond (called without the simulator's lock) holds
// after some request, or ctx ends.
func (s *Sim) WaitFor(ctx context.Context, cond func() bool) error {
	return s.changed.Wait(ctx, cond)
}

package record

import "time"

// Event is one entry of an app's event stream: a change of a message's state.
type Event struct {
	// ID is stable: "<message id>/<seq>". A consumer that sees an id twice (a
	// re-run after a crash) can drop the repeat.
	ID        string    `json:"event_id"`
	MessageID string    `json:"message_id"`
	App       string    `json:"app"`
	Type      string    `json:"type"`
	State     State     `json:"state"`
	At        time.Time `json:"at"`
	Detail    string    `json:"detail,omitempty"`
	// Tenant and Data are set on provider events (a card click: user,
	// action, …); a message's own events have neither.
	Tenant string            `json:"tenant,omitempty"`
	Data   map[string]string `json:"data,omitempty"`
}

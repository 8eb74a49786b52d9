package record

import "time"

// Superseded: every recipient of the message was claimed by a newer message
// of the same collapse key before this one reached them (see
// Record.Superseded); nothing was sent. Terminal.
const Superseded State = "superseded"

// PartSuperseded: the part was not sent: a newer message of the same collapse
// key claimed all its recipients.
const PartSuperseded PartState = "superseded"

// Supersession is one recipient of a message that a newer message of the same
// collapse key claimed before this one reached them: this message is never
// sent to them.
type Supersession struct {
	Recipient string `json:"recipient"`
	// SupersededBy is the newer message's id.
	SupersededBy string `json:"superseded_by"`
	// At is when the worker found it.
	At time.Time `json:"at"`
}

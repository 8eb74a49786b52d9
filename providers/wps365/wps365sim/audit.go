package wps365sim

import "github.com/msgdispatch/msgdispatch/providers/simkit"

// Limit is a receipt-time limit of [Options.PerRecipientLimits]: at most
// Count deliveries to one user of one app in any interval of length Window.
type Limit = simkit.Limit

// Violation is one delivery over a [Limit] (App is the app id, Recipient
// the user); Dropped when Options.DropOverLimit.
type Violation = simkit.Violation

// Peak is the most deliveries one (app, user) got within a limit's window.
type Peak = simkit.Peak

// auditLocked passes each of users receiving c's message through the
// receipt-time audit and returns those who get it (all but the dropped).
func (s *Sim) auditLocked(c *call, users []string) []string {
	out := users[:0:0]
	for _, u := range users {
		if s.audit.Arrive(c.app.id, u, c.now) {
			out = append(out, u)
		}
	}
	return out
}

// Violations returns every delivery over Options.PerRecipientLimits, in
// arrival order (none without the audit).
func (s *Sim) Violations() []Violation { return s.audit.Violations() }

// Drops returns the deliveries dropped over a limit (Options.DropOverLimit).
func (s *Sim) Drops() []Violation { return s.audit.Drops() }

// AuditPeaks returns, per limit of Options.PerRecipientLimits in order, the
// most deliveries any (app, user) got within its window (dropped ones
// included); nil without the audit.
func (s *Sim) AuditPeaks() []Peak { return s.audit.Peaks() }

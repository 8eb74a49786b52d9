// Package xiezuosim is a simulated WPS 协作 v2 open API for tests and
// `dispatcher dev`: it serves the company_token, send and update endpoints
// over real HTTP, verifies WPS-4 and WPS-3 signatures with its own code (not
// the client's signer), issues company tokens that expire, delivers messages
// to the users of a company (directly, through departments, chats or the
// whole company), keeps each user's current card per ctx_id, injects faults
// (result codes, HTTP statuses, latency, lost answers after applying,
// outage; one-shot with [Sim.Inject], or drawn per request at seeded rates
// with [Sim.SetFaults]), audits receipt-time quotas when asked
// (Options.PerRecipientLimits, Options.DropOverLimit: [Sim.Violations],
// [Sim.Drops], [Sim.AuditPeaks]) and fires WPS-4-signed card-click callbacks
// ([Sim.FireClick]).
//
// Where the documents are silent the simulator assumes, and says so:
//
//   - Routing is by path suffix: …/company/token (GET ?app_id=), …/app/messages
//     (POST) and …/app/messages/update (Options.UpdateMethod) — the last is
//     invented, as no v2 update endpoint is documented.
//   - Signature scheme, header style and unsigned prefix are per app; a bad
//     signature or a date more than Options.MaxSkew (15 min) away is HTTP 403
//     with a "signature" msg; an unknown or expired company_token is HTTP
//     401 with a "company_token" msg; result codes are the simulator's own
//     (codes.go).
//   - One target kind per send; an unknown recipient refuses the whole
//     request (CodeInvalidRecipient), nothing is delivered.
//   - An update names the users whose card it replaces (to_users, like a
//     send); each must have received the ctx_id, else the whole update is
//     refused (CodeInvalidRecipient) and nothing changes. Without to_users
//     every recipient's card is replaced. Other users keep what they saw
//     ([Sim.CardOf] is per user).
//   - A repeated ctx_id is delivered again (Options.RejectDuplicateCtxID
//     refuses it instead): no dedupe is documented.
//   - No rate limit is documented, so none is enforced by default. With
//     Options.PerRecipientLimits every delivery to a user is counted per
//     (app, user) when the request is handled (after injected latency); one
//     over a window is recorded, or with Options.DropOverLimit silently
//     dropped while the send still succeeds — the audit the dispatcher's
//     configured limits are checked against.
//   - Tokens live Options.TokenTTL (2 h); a fetch while one has over a
//     minute left returns it again.
//   - Callback bodies use the v7 shape plus company_uid.
package xiezuosim

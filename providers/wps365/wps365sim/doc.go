// Package wps365sim is a simulated WPS 365 v7 open API for tests and
// `dispatcher dev`: a real HTTP server ([Sim.Start]) that checks what WPS
// checks and answers as WPS does, as far as the WPS open-platform documentation documents it.
//
// Modelling assumptions, each a choice where the documentation is silent:
//
//   - Auth: POST /oauth2/token issues a fresh token per call, valid for
//     Options.TokenTTL (7200 s; 86400 s models a private deployment); older
//     tokens stay valid until they expire. Every v7 call needs a live bearer
//     token (else HTTP 401, code 401000001) and, unless
//     Options.SigningOptional, a KSO-1 signature verified by this package's
//     own code over the URI without Options.PathPrefix, with X-Kso-Date in
//     http.TimeFormat within 15 minutes of the clock (else HTTP 401, code
//     401000002). WPS documents no date window; 15 minutes is a guess.
//   - Codes: only 400000002 "invalid open_v7_message_type" and the text "msg
//     not updatable" are observed from WPS; the other codes (Code…
//     constants) follow the "<HTTP status><6 digits>" pattern and are
//     answered with that HTTP status.
//   - create takes exactly one receiver; a user must be in the visible range
//     (AddUsers, AddDept), a chat must exist and have the bot in it.
//     batch_create is applied at once (WPS delivers it with some delay) and
//     reports unknown receivers in invalid_receivers.
//   - Update replaces the whole card of a shared card sent with create;
//     anything else (batch, not a card, shared_card false) is HTTP 400
//     "msg not updatable". No update count or time limit is modelled.
//   - Recall has no time limit unless Options.RecallWindow is set; a second
//     recall is refused.
//   - Reply needs the answered message to be in the chat (sent there by the
//     app or posted with PostUserMessage).
//   - Card characters are code points of the card JSON; components are the
//     elements of each i18n item.
//   - Faults (Inject, one-shot; SetFaults, drawn per request at rates
//     seeded by Options.Seed) are answered without applying the request,
//     except LostResponse, which applies it and drops the connection;
//     SetDown answers 503 to everything.
//   - No rate limit is documented, so none is enforced by default. With
//     Options.PerRecipientLimits every delivery to a user is counted per
//     (app, user) when the request is handled (after injected latency); one
//     over a window is recorded (Violations, AuditPeaks), or with
//     Options.DropOverLimit silently dropped while the call still succeeds
//     (Drops) — the audit the dispatcher's configured limits are checked
//     against.
//   - Callbacks: FireChallenge posts {"challenge":…}; FireCardClick posts a
//     KSO-1 signed {"callback_name":"xz_card","app_id",…,"data":{company_id,
//     app_ctx_id, user_id, content}} (user_id is an assumption); FireEvent
//     posts an encrypted event envelope (§1.5).
package wps365sim

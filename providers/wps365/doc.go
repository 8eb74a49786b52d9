// Package wps365 is the WPS 365 (v7 open API) provider of msgdispatch: the
// client of one WPS 365 app that validates messages by WPS's rules, renders
// request bodies once, sends them with a bearer token cached through a
// [providers.TokenStore] and a KSO-1 signature on every v7 call, and
// classifies every failure into a [providers.Class].
//
// Endpoints (base https://openapi.wps.cn; a private deployment uses
// {domain}/openapi, the /openapi prefix left out of the signature, see
// [Config.UnsignedPrefix]):
//
//   - POST /oauth2/token (form, client_credentials, not signed): the access
//     token, cached for expires_in (7200 s public, 86400 s private). HTTP 401
//     on a business call invalidates exactly that token (compare-and-delete),
//     fetches a new one and re-sends the same bytes once.
//   - POST /v7/messages/create: one receiver (user, chat, partner user).
//     Cards go this way, one part per receiver, with config.shared_card:
//     true, so they can be updated.
//   - POST /v7/messages/batch_create: ≤ 200 users, ≤ 50 depts, the company;
//     used only for content that will not be updated. Those parts carry
//     Part.NotUpdatable (so does every part but the creates of a shared
//     card); an update leaves their users unreachable, as it does when WPS
//     answers "msg not updatable" ([ErrNotUpdatable]).
//   - POST /v7/messages/{id}/update (whole card), /v7/messages/{id}/recall.
//   - POST /v7/chats/{chat_id}/messages/{message_id}/reply (text, rich_text,
//     image): a providers.Message with ReplyTo, which Prepare renders as
//     one part to the chat (Body the reply request, Target
//     "{chat_id}/{message_id}") and Send posts, so a reply is recorded,
//     counted and cancelled like a send.
//
// Part.Ref is empty: card callbacks carry an app_ctx_id, but the v7 card
// structure documents no field to set one in. The callback sink still asks
// the core's message index for the app_ctx_id a click carries.
//
// [CallbackHandler] serves the app's callback URL: the challenge echo,
// KSO-1 verified card actions (xz_card, carrying app_ctx_id) and encrypted
// events ([OpenEvent]), published once through a [CallbackSink].
//
// What is confirmed and what is assumed (the facts are in the project's
// the WPS open-platform documentation):
//
//   - Confirmed: the KSO-1 formula and its two official vectors; the token
//     call and lifetimes; the create, batch_create, reply and update
//     endpoints and bodies; limits (5000 characters, 20 card components,
//     15000 card characters, 100 mentions, batch 200/50/1); batch messages
//     are not updatable; the event signature and AES scheme.
//   - Observed in public code, not documented: 400000002 "invalid
//     open_v7_message_type" for an outer "markdown"; "msg not updatable" for
//     a non-shared card; KSO-1 required by update.
//   - Assumed: codes are "<HTTP status><6 digits>" and classified by that
//     prefix (429 throttled, 5xx retryable, 401 token/app disabled, 400 and
//     403 permanent); a 5xx answer means the request was refused, not
//     applied; the recall body ({}) and the absence of a recall window;
//     the challenge body and answer ({"challenge":…}), and that it needs no
//     signature check; the card-callback answer {"code":0,"msg":"ok"};
//     data.user_id as the clicking user; how card characters are counted
//     (code points of the card's JSON) and components (elements per
//     language version).
//
// Secrets stay out of errors and output: the app secret and access tokens
// never appear in an error this package returns, nor in what Config prints.
package wps365

// Package xiezuo is the WPS 协作 (v2 open API) provider of msgdispatch: the
// client of one WPS 协作 app that validates messages by the v2 send rules,
// renders request bodies once and deterministically ([Client.Prepare]),
// signs every request (WPS-4 on private deployments, WPS-3 on the public
// cloud; [Signer]), sends with a company_token cached through a
// [providers.TokenStore], updates cards by ctx_id for the users named,
// verifies card callbacks ([CallbackHandler]) and classifies every failure
// into a [providers.Class]. It registers itself with the core's provider
// registry ([Descriptor]); *[Config] is its providers.AppConfig.
//
// What the documents confirm (the WPS open-platform documentation): the WPS-3 and WPS-4
// constructions (WPS-4 is KSO-1's construction with another version literal;
// the gateway prefix is not signed), the send endpoints and body fields, the
// 5000-character and 20-component limits, ctx_id ≤ 36 characters unique per
// app, utype 1 for updatable messages, an empty message_id under message
// audit, WPS-4-signed card callbacks answered {"result":"ok"}.
//
// What they do not, and how this package models it:
//
//   - The v2 update endpoint: configured (update_path, update_method); the
//     body mirrors the send body, with to_users naming the users whose card
//     is replaced. Without update_path, Capabilities.Update is false and
//     [Config.ValidateUpdate] refuses updates at enqueue.
//   - The private-deployment company_token endpoint: configured
//     (company_token_path, required for wps4); the answer is read as
//     {"company_token","expires_in"} or {"token":{…}}; a missing expires_in
//     means [DefaultTokenLifetime].
//   - Error codes: none are published for v2. The client classifies by HTTP
//     status (401 → refresh once then app disabled; 403/404/405 → app
//     disabled; 429 → throttled; 5xx and lost answers → unknown outcome;
//     other 4xx → permanent) and by what msg says (token, signature,
//     rate-limit words), see errcode.go.
//   - Whether one call may mix target kinds: the private document says
//     to_users/to_depts/to_companies are exclusive, so Prepare makes one part
//     per kind. to_chats ids are sent as strings. "all" is to_companies with
//     the app's company.
//   - Duplicates: none documented, so Capabilities.DedupeWindow is 0 and
//     on_unknown should be give_up; the ctx_id is still deterministic
//     ([CtxID]) so a re-sent part carries the same reference.
//   - The callback body schema: read as the v7 shape (data.app_ctx_id,
//     data.content.action, …) with the user from company_uid or user_id.
//   - No v2 recall or reply API is documented: Capabilities.Recall and Reply
//     are false, and a message with reply_to is refused.
//
// Every part's Ref and providers.Result.ProviderMessageID are its ctx_id, the
// reference [Client.Update] addresses and callbacks carry; WPS's own
// message_id is kept in Result.State ({"message_id":…}, empty under audit)
// and comes from [Client.SendPart]. Secrets (app secret, company_token,
// signatures) never appear in errors or in what Config and Signer print.
package xiezuo

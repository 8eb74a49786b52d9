// Package wecom is the WeCom (企业微信) provider of msgdispatch: the client of a
// WeCom app that validates messages by WeCom's rules, renders message/send
// request bodies once and deterministically, sends them with an access token
// cached through a [providers.TokenStore], and classifies every failure into a
// [providers.Class].
//
// An app is one of three modes ([Config.Mode]):
//
//   - self_built (自建应用): one corp; the token comes from gettoken with the app
//     secret.
//   - third_party (第三方应用): a suite installed by many corps, the app's
//     tenants. WeCom pushes a suite_ticket to the app's instruction callback
//     every ten minutes ([TicketStore]); the latest ticket (the previous one
//     as a fallback) gets the suite_access_token (service/get_suite_token), and
//     the suite token with a tenant's permanent code gets that tenant's token
//     (service/get_corp_token). Each is cached in the TokenStore, refreshed
//     early by one process, invalidated by compare-and-delete when WeCom
//     refuses it (42009/40082 for the suite token).
//   - custom (代开发应用): tenants as for third_party, but a tenant's permanent
//     code is its app secret and its token comes from gettoken.
//
// A multi-tenant message names its tenant (providers.Message.Tenant, the
// authorising corp id); Prepare renders the tenant's agentid from the
// [TenantStore], and failures that concern one tenant only (authorisation
// cancelled, …) carry providers.Error.Tenant so that only that tenant is
// paused. Tenants are added by WeCom's callbacks: [CallbackHandler] verifies
// and decrypts them (package msgcrypt) and queues the slow part for
// [Client.ProcessAuth].
//
// The facts this package relies on (endpoints, limits, error codes) come from
// WeCom's API documentation (developer.work.weixin.qq.com); the code that uses
// one says which API it is.
//
// Bodies are JSON without HTML escaping and without any \uXXXX escape WeCom would
// refuse with errcode 40033: "<", ">" and "&" stay literal, and U+2028/U+2029
// (which encoding/json always escapes) are replaced by "\n" before encoding.
//
// Secrets stay out of errors: the app and suite secrets, permanent codes,
// suite tickets and access tokens never appear in an error this package
// returns, nor in what Config, Tenant and AuthJob print.
package wecom

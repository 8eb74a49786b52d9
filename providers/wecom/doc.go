// Package wecom is the WeCom (企业微信) provider of msgdispatch: the client of a
// self-built app (自建应用) that validates messages by WeCom's rules, renders
// message/send request bodies once and deterministically, sends them with an access
// token cached through a [providers.TokenStore], and classifies every failure into
// a [providers.Class].
//
// The facts this package relies on (endpoints, limits, error codes) are collected in
// the project's specs/wecom.md; the sections are cited next to the code that uses
// them.
//
// Bodies are JSON without HTML escaping and without any \uXXXX escape WeCom would
// refuse with errcode 40033: "<", ">" and "&" stay literal, and U+2028/U+2029
// (which encoding/json always escapes) are replaced by "\n" before encoding.
//
// Secrets stay out of errors: the app secret and access tokens travel in URL
// query strings, and every error this package returns has them redacted.
package wecom

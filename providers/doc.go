// Package providers holds what every IM provider implements and what the rest of
// msgdispatch knows about providers: the [Provider] interface, the provider-neutral
// message model ([Message], [Recipients]), prepared request [Part]s, the error
// classes ([Error], [Class]) that drive retries, and the [TokenStore] providers
// cache their access tokens through.
//
// A provider package (providers/wecom, …) holds that provider's whole world: auth,
// signing, payload validation, send/update/recall, callbacks and its config block.
// It never imports the worker, the rate limiter or a Redis client.
package providers

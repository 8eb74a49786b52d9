package providers

import (
	"context"
	"time"
)

// FetchFunc obtains a fresh access token from the provider and says how long the
// provider will accept it.
type FetchFunc func(ctx context.Context) (token string, expiresIn time.Duration, err error)

// TokenStore caches provider access tokens for every process of the dispatcher.
//
// Token returns the cached token for key. When there is none, or it is due for an
// early refresh, one caller across all processes runs fetch while the others wait
// for (or keep using) the current token. An error from fetch is returned wrapped
// with context; providers.ClassOf and errors.As still see its class.
//
// Invalidate removes the cached token for key only if it still equals token
// (compare-and-delete), so a stale failure never throws away a token another
// process has just refreshed.
type TokenStore interface {
	Token(ctx context.Context, key string, fetch FetchFunc) (string, error)
	Invalidate(ctx context.Context, key, token string) error
}

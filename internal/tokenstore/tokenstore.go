// Package tokenstore is the Redis implementation of providers.TokenStore: one
// cache of provider access tokens shared by every worker process.
//
// Each key (an app principal, e.g. "wecom:self:<corpid>:<agentid>"; no braces) has one Redis
// entry holding the token and its expiry, with a key TTL equal to the token's
// remaining lifetime. Reading a valid token costs one GET. A token is refreshed
// early, once its remaining lifetime drops below max(RefreshBefore, 20% of its
// lifetime), by one caller across all processes (a Redis lock, SET NX PX) while
// the others keep using it; a missing or expired token is fetched by one caller
// while the others wait for it. Within a process, concurrent callers for the same
// key share one attempt.
//
// A fetch refused as providers.ClassAppDisabled (wrong secret, app disabled, IP
// not allowed) is cached as a negative entry for Options.FailFor, so that no
// process asks the provider again during that time (a wrong secret repeated
// gets the egress IP banned; WeCom's API documentation).
//
// Redis keys, for a key k and prefix p:
//
//	p{k}        the entry: JSON {"tok","exp","iat"} or {"fail","exp"}, times in unix ms
//	p{k}:lock   the refresh lock: a random value, PX Options.LockTTL
//
// The braces are a Redis Cluster hash tag, so both keys share a slot and the
// scripts touching both are cluster-safe.
package tokenstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Defaults for Options.
const (
	DefaultPrefix        = "msgd:tok:"
	DefaultRefreshBefore = 5 * time.Minute
	DefaultLockTTL       = 10 * time.Second
	DefaultWaitPoll      = 50 * time.Millisecond
	DefaultFailFor       = time.Minute
)

// ErrFailureCached is wrapped by the error Token returns while a negative entry
// exists: the provider refused the credentials recently and was not asked
// again. The same error also wraps a *providers.Error with the provider's
// class, code and message (not its transport error).
var ErrFailureCached = errors.New("provider refused the credentials recently; not asked again yet")

// Options tunes a Store. The zero value gives the defaults.
type Options struct {
	// Prefix starts every Redis key of the store. Default DefaultPrefix ("msgd:tok:").
	Prefix string
	// RefreshBefore: a token is refreshed early once its remaining lifetime is
	// below max(RefreshBefore, 20% of its lifetime), capped at half its lifetime
	// so that short-lived tokens are not refetched on every call. Default
	// DefaultRefreshBefore (5m).
	RefreshBefore time.Duration
	// LockTTL is how long one caller may hold the refresh lock (the expiry of the
	// lock key), and how long a waiting caller waits before trying the lock
	// itself. Keep it above the fetch timeout. Default DefaultLockTTL (10s).
	LockTTL time.Duration
	// WaitPoll is how often a caller waiting for another process's fetch reads
	// Redis. Default DefaultWaitPoll (50ms).
	WaitPoll time.Duration
	// FailFor is how long a fetch refused as providers.ClassAppDisabled is cached
	// (negative entry). Default DefaultFailFor (1m).
	FailFor time.Duration
	// Now is the clock for token lifetimes and negative entries (not for
	// waiting, which uses timers). Default time.Now; set it in tests.
	Now func() time.Time
	// Local keeps a copy of each token in the process until its refresh point
	// (see RefreshBefore): a Token call while that copy is fresh makes no Redis
	// call at all. Invalidate drops the copy (and the shared entry, when it
	// still holds the same token). Default false: every call reads Redis.
	Local bool
	// OnError, if set, receives errors Token recovers from without failing the
	// call: a failed early refresh (the still-valid token is returned) and a
	// fetched token that could not be stored. Errors never hold a token. It is
	// called synchronously from Token, so it must be quick. Default nil (ignored).
	OnError func(key string, err error)
}

// Store is a providers.TokenStore on Redis. It is safe for concurrent use;
// processes sharing a Redis and a Prefix share tokens.
type Store struct {
	rdb     redis.UniversalClient
	opts    Options
	flights flights
	local   localCache

	// onWait, if set (tests), is called each time a caller starts waiting for
	// another caller's fetch: joining this process's flight, or polling Redis
	// for another process's.
	onWait func()
}

var _ providers.TokenStore = (*Store)(nil)

// New returns a Store on rdb; zero or negative fields of opts take their
// defaults. rdb must not be nil.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if rdb == nil {
		panic("tokenstore: nil redis client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.RefreshBefore <= 0 {
		opts.RefreshBefore = DefaultRefreshBefore
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.WaitPoll <= 0 {
		opts.WaitPoll = DefaultWaitPoll
	}
	if opts.FailFor <= 0 {
		opts.FailFor = DefaultFailFor
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{rdb: rdb, opts: opts}
}

// Token returns the cached token for key, fetching one with fetch when there
// is none, it has expired, or it is due for an early refresh (see Options).
// key must be non-empty and contain no braces. fetch gets ctx.
//
// A valid token not yet due costs one GET. When one is due, one caller across
// all processes fetches while the others return the current token at once; if
// that early fetch fails the current token is returned and the error goes to
// Options.OnError (a ClassAppDisabled error instead replaces the token with a
// negative entry and is returned). When there is no valid token, one caller
// fetches and the others wait for its result, bounded by ctx and
// Options.LockTTL, after which they try the lock themselves.
//
// Errors name the key, never a token; an error from fetch is wrapped (%w), so
// providers.ClassOf still sees its class. While a negative entry for key exists
// (see Options.FailFor), Token returns an error wrapping ErrFailureCached and
// a *providers.Error of class ClassAppDisabled without calling fetch.
func (s *Store) Token(ctx context.Context, key string, fetch providers.FetchFunc) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if fetch == nil {
		return "", fmt.Errorf("tokenstore: token %q: nil fetch func", key)
	}
	if s.opts.Local {
		if e := s.local.get(key); e.state(s.now(), s.opts.RefreshBefore) == stateFresh {
			return e.Tok, nil
		}
	}
	k := s.keysFor(key)
	e, err := s.load(ctx, k.tok)
	if err != nil {
		return "", fmt.Errorf("tokenstore: read token %q: %w", key, err)
	}
	switch e.state(s.now(), s.opts.RefreshBefore) {
	case stateFresh:
		s.keep(key, e)
		return e.Tok, nil
	case stateFailed:
		return "", e.failedErr(key)
	case stateDue:
		return s.refreshEarly(ctx, key, k, e, fetch)
	default:
		return s.obtain(ctx, key, k, fetch)
	}
}

// Invalidate deletes the cached token for key only if it still equals token
// (compare-and-delete): a token refreshed meanwhile by another process, and a
// negative entry, are kept. An empty token deletes nothing.
func (s *Store) Invalidate(ctx context.Context, key, token string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if token == "" {
		return nil
	}
	s.local.drop(key, token)
	if err := invalidateScript.Run(ctx, s.rdb, []string{s.keysFor(key).tok}, token).Err(); err != nil {
		return fmt.Errorf("tokenstore: invalidate token %q: %w", key, err)
	}
	return nil
}

// refreshEarly handles a valid token that is due for refresh: one caller
// refreshes, everybody else gets cached.Tok at once.
func (s *Store) refreshEarly(ctx context.Context, key string, k redisKeys, cached *entry, fetch providers.FetchFunc) (string, error) {
	f, leader := s.flights.begin(key)
	if !leader {
		return cached.Tok, nil // this process is already fetching
	}
	res := flightResult{retry: true} // what joiners see if fetch panics
	defer func() { s.flights.end(key, f, res) }()
	res = s.refreshLeader(ctx, key, k, cached, fetch)
	if ctx.Err() != nil {
		res.retry = true
	}
	return res.tok, res.err
}

func (s *Store) refreshLeader(ctx context.Context, key string, k redisKeys, cached *entry, fetch providers.FetchFunc) flightResult {
	fallback := flightResult{tok: cached.Tok, retry: true}
	report := func(err error) {
		if ctx.Err() == nil { // the caller giving up is not worth reporting
			s.report(key, err)
		}
	}
	lockVal, won, err := s.lock(ctx, k)
	if err != nil {
		report(fmt.Errorf("tokenstore: early refresh of %q: take lock: %w", key, err))
		return fallback
	}
	if !won {
		return fallback // another process is refreshing
	}
	// Another process may have refreshed between our GET and our lock.
	e, err := s.load(ctx, k.tok)
	if err != nil {
		s.unlock(ctx, k, lockVal)
		report(fmt.Errorf("tokenstore: early refresh of %q: read token: %w", key, err))
		return fallback
	}
	switch e.state(s.now(), s.opts.RefreshBefore) {
	case stateFresh:
		s.unlock(ctx, k, lockVal)
		return flightResult{tok: e.Tok}
	case stateFailed:
		s.unlock(ctx, k, lockVal)
		return flightResult{err: e.failedErr(key)}
	case stateMissing:
		// Invalidated or expired meanwhile: this is a plain fetch now.
		tok, err := s.fetchAndStore(ctx, key, k, lockVal, fetch)
		return flightResult{tok: tok, err: err}
	}
	tok, err := s.fetchAndStore(ctx, key, k, lockVal, fetch)
	if err != nil {
		if providers.ClassOf(err) == providers.ClassAppDisabled {
			return flightResult{err: err} // the negative entry replaced the token
		}
		report(err)
		return fallback
	}
	return flightResult{tok: tok}
}

// obtain gets a token when there is no valid one: this process's callers share
// one attempt; across processes one fetches, the others wait.
func (s *Store) obtain(ctx context.Context, key string, k redisKeys, fetch providers.FetchFunc) (string, error) {
	for {
		f, leader := s.flights.begin(key)
		if leader {
			return s.leadObtain(ctx, key, k, f, fetch)
		}
		s.waiting()
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", fmt.Errorf("tokenstore: token %q: %w", key, context.Cause(ctx))
		}
		if !f.res.retry {
			return f.res.tok, f.res.err
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("tokenstore: token %q: %w", key, context.Cause(ctx))
		}
		// The leader gave up or only had a stale token: try again, maybe as leader.
	}
}

func (s *Store) leadObtain(ctx context.Context, key string, k redisKeys, f *flight, fetch providers.FetchFunc) (string, error) {
	res := flightResult{retry: true} // what joiners see if fetch panics
	defer func() { s.flights.end(key, f, res) }()
	res = s.obtainLeader(ctx, key, k, fetch)
	if ctx.Err() != nil {
		res.retry = true
	}
	return res.tok, res.err
}

func (s *Store) obtainLeader(ctx context.Context, key string, k redisKeys, fetch providers.FetchFunc) flightResult {
	for {
		lockVal, won, err := s.lock(ctx, k)
		if err != nil {
			return flightResult{err: fmt.Errorf("tokenstore: token %q: take lock: %w", key, err)}
		}
		if won {
			// The previous holder may have stored a token between our GET and our lock.
			e, err := s.load(ctx, k.tok)
			if err != nil {
				s.unlock(ctx, k, lockVal)
				return flightResult{err: fmt.Errorf("tokenstore: read token %q: %w", key, err)}
			}
			switch e.state(s.now(), s.opts.RefreshBefore) {
			case stateFresh, stateDue:
				s.unlock(ctx, k, lockVal)
				return flightResult{tok: e.Tok}
			case stateFailed:
				s.unlock(ctx, k, lockVal)
				return flightResult{err: e.failedErr(key)}
			}
			tok, err := s.fetchAndStore(ctx, key, k, lockVal, fetch)
			return flightResult{tok: tok, err: err}
		}
		e, err := s.awaitHolder(ctx, key, k)
		if err != nil {
			return flightResult{err: err}
		}
		if e != nil {
			if e.Fail != nil {
				return flightResult{err: e.failedErr(key)}
			}
			return flightResult{tok: e.Tok}
		}
		// The holder finished without a token, or is taking too long: try the lock.
	}
}

// awaitHolder polls Redis every WaitPoll while another process holds the lock.
// It returns a usable entry (valid token or negative entry) as soon as one is
// stored, or nil once the lock is gone or LockTTL has passed.
func (s *Store) awaitHolder(ctx context.Context, key string, k redisKeys) (*entry, error) {
	s.waiting()
	deadline := time.Now().Add(s.opts.LockTTL)
	t := time.NewTimer(s.opts.WaitPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("tokenstore: token %q: waiting for another fetch: %w", key, context.Cause(ctx))
		case <-t.C:
		}
		vals, err := s.rdb.MGet(ctx, k.tok, k.lock).Result()
		if err != nil {
			return nil, fmt.Errorf("tokenstore: read token %q: %w", key, err)
		}
		if v, ok := vals[0].(string); ok {
			if e := decode(v); e.state(s.now(), s.opts.RefreshBefore) != stateMissing {
				return e, nil
			}
		}
		if vals[1] == nil || !time.Now().Before(deadline) {
			return nil, nil
		}
		t.Reset(s.opts.WaitPoll)
	}
}

// fetchAndStore runs fetch while holding the lock (lockVal) and stores the
// result: the token, or a negative entry for a ClassAppDisabled error. The lock
// is released on every path.
func (s *Store) fetchAndStore(ctx context.Context, key string, k redisKeys, lockVal string, fetch providers.FetchFunc) (tok string, err error) {
	released := false
	defer func() {
		if !released {
			s.unlock(ctx, k, lockVal)
		}
	}()

	tok, life, ferr := fetch(ctx)
	if ferr != nil {
		err = fmt.Errorf("tokenstore: fetch token %q: %w", key, ferr)
		var pe *providers.Error
		if providers.ClassOf(ferr) == providers.ClassAppDisabled && errors.As(ferr, &pe) {
			neg := &entry{Exp: s.now().Add(s.opts.FailFor).UnixMilli(), Fail: newFailure(pe)}
			ok, serr := s.store(ctx, k, lockVal, neg, s.opts.FailFor)
			if serr != nil {
				s.report(key, fmt.Errorf("tokenstore: store failure of %q: %w", key, serr))
			}
			released = ok
		}
		return "", err
	}
	if tok == "" {
		return "", fmt.Errorf("tokenstore: fetch token %q: provider returned an empty token", key)
	}
	if life <= 0 {
		return "", fmt.Errorf("tokenstore: fetch token %q: provider returned lifetime %v, want > 0", key, life)
	}
	now := s.now()
	e := &entry{Tok: tok, Iat: now.UnixMilli(), Exp: now.Add(life).UnixMilli()}
	s.keep(key, e)
	ok, serr := s.store(ctx, k, lockVal, e, life)
	if serr != nil {
		// We still have a good token; the next caller will fetch again.
		s.report(key, fmt.Errorf("tokenstore: store token %q: %w", key, serr))
	}
	released = ok
	return tok, nil
}

// lock tries to take the refresh lock for k, returning its random value.
func (s *Store) lock(ctx context.Context, k redisKeys) (string, bool, error) {
	val := rand.Text()
	won, err := s.rdb.SetNX(ctx, k.lock, val, s.opts.LockTTL).Result()
	return val, won, err
}

// unlock releases the lock if it is still ours, even when ctx has ended.
func (s *Store) unlock(ctx context.Context, k redisKeys, lockVal string) {
	ctx, cancel := s.detached(ctx)
	defer cancel()
	// On failure the lock expires after LockTTL by itself.
	_ = unlockScript.Run(ctx, s.rdb, []string{k.lock}, lockVal).Err()
}

// store writes e with the given TTL and releases the lock, if the lock is still
// ours; it reports whether it did. It runs even when ctx has ended, so that a
// token already fetched is not thrown away.
func (s *Store) store(ctx context.Context, k redisKeys, lockVal string, e *entry, ttl time.Duration) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	ctx, cancel := s.detached(ctx)
	defer cancel()
	n, err := storeScript.Run(ctx, s.rdb, []string{k.tok, k.lock}, lockVal, b, max(ttl.Milliseconds(), 1)).Int()
	return n == 1, err
}

// detached returns a context that ignores ctx's cancellation (keeping its
// values) and ends after LockTTL: holding Redis work beyond the lock is useless.
func (s *Store) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opts.LockTTL)
}

// load reads and decodes the entry at tokKey; a missing key is a nil entry.
func (s *Store) load(ctx context.Context, tokKey string) (*entry, error) {
	v, err := s.rdb.Get(ctx, tokKey).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decode(v), nil
}

func (s *Store) now() time.Time { return s.opts.Now() }

// keep copies a token entry into the process (Options.Local).
func (s *Store) keep(key string, e *entry) {
	if s.opts.Local && e != nil && e.Fail == nil && e.Tok != "" {
		s.local.put(key, e)
	}
}

func (s *Store) report(key string, err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(key, err)
	}
}

func (s *Store) waiting() {
	if s.onWait != nil {
		s.onWait()
	}
}

type redisKeys struct{ tok, lock string }

// checkKey rejects keys that would break the hash tag {key}: empty ones and
// ones with braces.
func checkKey(key string) error {
	if key == "" || strings.ContainsAny(key, "{}") {
		return fmt.Errorf("tokenstore: invalid key %q: want non-empty, without braces", key)
	}
	return nil
}

func (s *Store) keysFor(key string) redisKeys {
	tok := s.opts.Prefix + "{" + key + "}"
	return redisKeys{tok: tok, lock: tok + ":lock"}
}

// entry is the stored value: a token, or a negative entry (Fail set).
type entry struct {
	Tok  string   `json:"tok,omitempty"`
	Exp  int64    `json:"exp"`           // unix ms: the token's expiry, or the negative entry's end
	Iat  int64    `json:"iat,omitempty"` // unix ms: when the token was fetched
	Fail *failure `json:"fail,omitempty"`
}

// failure is what a negative entry keeps of a *providers.Error, the tenant it
// concerns included. The transport error (Err) is dropped: it may hold a
// request URL with a secret in it.
type failure struct {
	Provider     string `json:"provider,omitempty"`
	Op           string `json:"op,omitempty"`
	Class        int    `json:"class"`
	Code         int    `json:"code,omitempty"`
	HTTPStatus   int    `json:"http,omitempty"`
	Message      string `json:"msg,omitempty"`
	RetryAfterMs int64  `json:"retry_after_ms,omitempty"`
	Tenant       string `json:"tenant,omitempty"`
}

func newFailure(pe *providers.Error) *failure {
	return &failure{
		Provider:     pe.Provider,
		Op:           pe.Op,
		Class:        int(pe.Class),
		Code:         pe.Code,
		HTTPStatus:   pe.HTTPStatus,
		Message:      pe.Message,
		RetryAfterMs: pe.RetryAfter.Milliseconds(),
		Tenant:       pe.Tenant,
	}
}

// decode parses a stored value; an unreadable one counts as missing (nil).
func decode(v string) *entry {
	var e entry
	if json.Unmarshal([]byte(v), &e) != nil {
		return nil
	}
	return &e
}

type state int

const (
	stateMissing state = iota // none, expired, or unreadable
	stateFresh                // valid, not due for refresh
	stateDue                  // valid, due for early refresh
	stateFailed               // negative entry in force
)

func (e *entry) state(now time.Time, refreshBefore time.Duration) state {
	if e == nil {
		return stateMissing
	}
	nowMs := now.UnixMilli()
	if nowMs >= e.Exp {
		return stateMissing
	}
	if e.Fail != nil {
		return stateFailed
	}
	if e.Tok == "" {
		return stateMissing
	}
	remaining := time.Duration(e.Exp-nowMs) * time.Millisecond
	if remaining < refreshMargin(time.Duration(e.Exp-e.Iat)*time.Millisecond, refreshBefore) {
		return stateDue
	}
	return stateFresh
}

// refreshMargin is the remaining lifetime below which a token is refreshed:
// max(refreshBefore, 20% of lifetime), at most half the lifetime.
func refreshMargin(lifetime, refreshBefore time.Duration) time.Duration {
	return min(max(refreshBefore, lifetime/5), lifetime/2)
}

// failedErr is the error for a negative entry.
func (e *entry) failedErr(key string) error {
	f := e.Fail
	pe := &providers.Error{
		Provider:   f.Provider,
		Op:         f.Op,
		Class:      providers.Class(f.Class),
		Code:       f.Code,
		HTTPStatus: f.HTTPStatus,
		Message:    f.Message,
		RetryAfter: time.Duration(f.RetryAfterMs) * time.Millisecond,
		Tenant:     f.Tenant,
	}
	until := time.UnixMilli(e.Exp).UTC().Format(time.RFC3339)
	return fmt.Errorf("tokenstore: token %q: %w (until %s): %w", key, ErrFailureCached, until, pe)
}

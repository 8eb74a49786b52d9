// Package kv implements [providers.KV] on Redis: a provider's small shared
// state per app (suite tickets, single-use codes, marks), every key under
// the app's hash tag so that it lives in the app's Redis Cluster slot.
//
//	msgd:{app}:kv:<provider key>   string, with a TTL
package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers"
)

// maxUpdateTries bounds the optimistic retries of Update under contention.
const maxUpdateTries = 16

// Store is the providers.KV of one app. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	app string
}

var _ providers.KV = (*Store)(nil)

// New returns the state of app on rdb.
func New(rdb redis.UniversalClient, app string) *Store { return &Store{rdb: rdb, app: app} }

// Key is the Redis key of the provider key k of app.
func Key(app, k string) string { return "msgd:{" + app + "}:kv:" + k }

func (s *Store) wrap(op, k string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("kv: %s %s of app %s: %w", op, k, s.app, providers.ErrNotFound)
	}
	return fmt.Errorf("kv: %s %s of app %s: %w", op, k, s.app, err)
}

func checkTTL(k string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("kv: %s: the TTL must be positive, got %s", k, ttl)
	}
	return nil
}

// Get returns the value of k, or an error wrapping providers.ErrNotFound.
func (s *Store) Get(ctx context.Context, k string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, Key(s.app, k)).Bytes()
	if err != nil {
		return nil, s.wrap("get", k, err)
	}
	return b, nil
}

// Set stores v under k for ttl.
func (s *Store) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if err := checkTTL(k, ttl); err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, Key(s.app, k), v, ttl).Err(); err != nil {
		return s.wrap("set", k, err)
	}
	return nil
}

// SetNX stores v under k for ttl unless k exists, and reports whether it did.
func (s *Store) SetNX(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(k, ttl); err != nil {
		return false, err
	}
	err := s.rdb.SetArgs(ctx, Key(s.app, k), v, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, s.wrap("setnx", k, err)
	}
	return true, nil
}

// Take returns the value of k and deletes it (GETDEL), or an error wrapping
// providers.ErrNotFound.
func (s *Store) Take(ctx context.Context, k string) ([]byte, error) {
	b, err := s.rdb.GetDel(ctx, Key(s.app, k)).Bytes()
	if err != nil {
		return nil, s.wrap("take", k, err)
	}
	return b, nil
}

// Delete removes k.
func (s *Store) Delete(ctx context.Context, k string) error {
	if err := s.rdb.Del(ctx, Key(s.app, k)).Err(); err != nil {
		return s.wrap("delete", k, err)
	}
	return nil
}

// Update changes k with f under WATCH, running f again when k changed
// meanwhile (at most 16 times).
func (s *Store) Update(ctx context.Context, k string, f func(old []byte, found bool) ([]byte, time.Duration, bool)) error {
	key := Key(s.app, k)
	for range maxUpdateTries {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.Get(ctx, key).Bytes()
			found := err == nil
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			v, ttl, write := f(old, found)
			if !write {
				return nil
			}
			if err := checkTTL(k, ttl); err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, v, ttl)
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return s.wrap("update", k, err)
		}
		return nil
	}
	return fmt.Errorf("kv: update %s of app %s: still contended after %d tries", k, s.app, maxUpdateTries)
}

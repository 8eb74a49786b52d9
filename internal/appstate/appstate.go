// Package appstate keeps the cluster-wide state of an app that every worker
// checks before sending: whether it is paused (broken credentials, disabled app),
// why, and until when.
package appstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pause says why an app is paused and until when.
type Pause struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// Store reads and writes app state in Redis.
type Store struct{ rdb redis.UniversalClient }

// New returns a Store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

func pauseKey(app string) string { return "msgd:{" + app + "}:pause" }

// Pause pauses app for d (at least 1ms) with a reason. The reason must hold no secret.
func (s *Store) Pause(ctx context.Context, app, reason string, now time.Time, d time.Duration) error {
	d = max(d, time.Millisecond)
	b, err := json.Marshal(Pause{Reason: reason, Since: now, Until: now.Add(d)})
	if err != nil {
		return fmt.Errorf("appstate: pause %s: %w", app, err)
	}
	if err := s.rdb.Set(ctx, pauseKey(app), b, d).Err(); err != nil {
		return fmt.Errorf("appstate: pause %s: %w", app, err)
	}
	return nil
}

// Paused returns the app's pause, or nil when it is not paused.
func (s *Store) Paused(ctx context.Context, app string) (*Pause, error) {
	b, err := s.rdb.Get(ctx, pauseKey(app)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("appstate: read pause of %s: %w", app, err)
	}
	var p Pause
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("appstate: decode pause of %s: %w", app, err)
	}
	return &p, nil
}

// Resume lifts a pause.
func (s *Store) Resume(ctx context.Context, app string) error {
	if err := s.rdb.Del(ctx, pauseKey(app)).Err(); err != nil {
		return fmt.Errorf("appstate: resume %s: %w", app, err)
	}
	return nil
}

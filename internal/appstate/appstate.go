// Package appstate keeps the cluster-wide state of an app, or of one tenant of a
// multi-tenant app, that every worker checks before sending: whether it is paused
// (broken credentials, disabled app, cancelled authorisation), why, and until when.
package appstate

import (
	"context"
	"encoding/json"
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

// pauseKey is the pause of app, or of one of its tenants when tenant is not empty.
// PauseKeys are the keys whose existence pauses a message of app's tenant:
// the app's pause and, when tenant is not "", the tenant's.
func PauseKeys(app, tenant string) []string {
	keys := []string{pauseKey(app, "")}
	if tenant != "" {
		keys = append(keys, pauseKey(app, tenant))
	}
	return keys
}

func pauseKey(app, tenant string) string {
	if tenant == "" {
		return "msgd:{" + app + "}:pause"
	}
	return "msgd:{" + app + "}:pause:" + tenant
}

// Pause pauses app (or only its tenant, when tenant is not empty) for d (at least
// 1ms) with a reason. The reason must hold no secret.
func (s *Store) Pause(ctx context.Context, app, tenant, reason string, now time.Time, d time.Duration) error {
	d = max(d, time.Millisecond)
	b, err := json.Marshal(Pause{Reason: reason, Since: now, Until: now.Add(d)})
	if err != nil {
		return fmt.Errorf("appstate: pause %s: %w", app, err)
	}
	if err := s.rdb.Set(ctx, pauseKey(app, tenant), b, d).Err(); err != nil {
		return fmt.Errorf("appstate: pause %s: %w", app, err)
	}
	return nil
}

// Paused returns the pause that stops sending for app's tenant (the app's own
// pause first), or nil when neither is paused. One round trip.
func (s *Store) Paused(ctx context.Context, app, tenant string) (*Pause, error) {
	get := s.QueuePaused(ctx, s.rdb, app, tenant)
	return get()
}

// QueuePaused adds the read of Paused to p (a pipeline, or the client itself) and
// returns the function that decodes it once p has run.
func (s *Store) QueuePaused(ctx context.Context, p redis.Cmdable, app, tenant string) func() (*Pause, error) {
	cmd := p.MGet(ctx, PauseKeys(app, tenant)...)
	return func() (*Pause, error) {
		vals, err := cmd.Result()
		if err != nil {
			return nil, fmt.Errorf("appstate: read pause of %s: %w", app, err)
		}
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue
			}
			var p Pause
			if err := json.Unmarshal([]byte(str), &p); err != nil {
				return nil, fmt.Errorf("appstate: decode pause of %s: %w", app, err)
			}
			return &p, nil
		}
		return nil, nil
	}
}

// Resume lifts the pause of app (or of its tenant).
func (s *Store) Resume(ctx context.Context, app, tenant string) error {
	if err := s.rdb.Del(ctx, pauseKey(app, tenant)).Err(); err != nil {
		return fmt.Errorf("appstate: resume %s: %w", app, err)
	}
	return nil
}

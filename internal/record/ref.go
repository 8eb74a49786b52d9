package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers"
)

// The provider references of a message's parts ([providers.Part.Ref]: a WPS
// ctx_id, a WeCom card task_id) are indexed when the parts are rendered, so
// that a provider callback, which carries the reference, finds the message:
//
//	msgd:{app}:ref:<ref>   string: the message id, kept as long as the record

// RefKey is the Redis key of ref's message in app.
func RefKey(app, ref string) string { return "msgd:{" + app + "}:ref:" + ref }

// QueueRefs queues on p the index entries of parts (those with a Ref) of
// message id, kept for ttl.
func QueueRefs(ctx context.Context, p redis.Cmdable, app, id string, parts []providers.Part, ttl time.Duration) {
	for _, part := range parts {
		if part.Ref != "" {
			p.Set(ctx, RefKey(app, part.Ref), id, ttl)
		}
	}
}

// MessageIndex returns the providers.MessageIndex of app.
func (s *Store) MessageIndex(app string) providers.MessageIndex { return refIndex{s.rdb, app} }

type refIndex struct {
	rdb redis.UniversalClient
	app string
}

// MessageOf returns the message id of ref, or an error wrapping
// providers.ErrNotFound.
func (r refIndex) MessageOf(ctx context.Context, ref string) (string, error) {
	id, err := r.rdb.Get(ctx, RefKey(r.app, ref)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("record: reference %s of app %s: %w", ref, r.app, providers.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("record: reference %s of app %s: %w", ref, r.app, err)
	}
	return id, nil
}

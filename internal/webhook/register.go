package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// messageKey holds the webhook URL of one message.
func messageKey(app, id string) string { return "msgd:{" + app + "}:hook:" + id }

// RegisterMessageURL makes url receive the events of message id of app, for
// ttl (the message's lifetime).
func RegisterMessageURL(ctx context.Context, rdb redis.UniversalClient, app, id, url string, ttl time.Duration) error {
	if err := rdb.Set(ctx, messageKey(app, id), url, max(ttl, time.Second)).Err(); err != nil {
		return fmt.Errorf("webhook: register the URL of %s: %w", id, err)
	}
	return nil
}

// messageURL returns the webhook URL of message id, or "".
func messageURL(ctx context.Context, rdb redis.UniversalClient, app, id string) (string, error) {
	u, err := rdb.Get(ctx, messageKey(app, id)).Result()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("webhook: URL of %s: %w", id, err)
	}
	return u, nil
}

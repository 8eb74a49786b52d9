package catalog

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/respcode"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// weComSink is the wecom.CallbackSink of one app: response codes in
// internal/respcode, clicks in the app's events stream (internal/record).
type weComSink struct {
	app    string
	codes  *respcode.Store
	events *record.Store
}

var _ wecom.CallbackSink = (*weComSink)(nil)

func newWeComSink(rdb redis.UniversalClient, app string) *weComSink {
	return &weComSink{app: app, codes: respcode.New(rdb), events: record.NewStore(rdb)}
}

// PutResponseCode stores the click's code with internal/respcode.
func (s *weComSink) PutResponseCode(ctx context.Context, tenant, taskID, user, code string, ttl time.Duration) error {
	return s.codes.Put(ctx, s.app, tenant, taskID, user, code, ttl)
}

// PublishOnce writes the click with the fields user, agent_id, task_id,
// event_key, card_type and selected (JSON), each when set.
func (s *weComSink) PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *wecom.CallbackEvent) (bool, error) {
	data := map[string]string{"user": ev.User, "task_id": ev.TaskID, "event_key": ev.EventKey, "card_type": ev.CardType}
	if ev.AgentID != 0 {
		data["agent_id"] = strconv.FormatInt(ev.AgentID, 10)
	}
	if len(ev.Selected) > 0 {
		b, err := json.Marshal(ev.Selected)
		if err != nil {
			return false, err
		}
		data["selected"] = string(b)
	}
	for k, v := range data {
		if v == "" {
			delete(data, k)
		}
	}
	return s.events.PublishOnce(ctx, dedupeKey, ttl, &record.ProviderEvent{
		ID: ev.ID, App: s.app, Type: ev.Type, At: ev.At, Tenant: ev.Tenant, Data: data,
	})
}

package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers"
)

// shareScript charges a token's daily share of an app's cap.
//
// KEYS[1] the token's counter of the day, KEYS[2] the idempotency key's mark
// (or a key of the same slot never set when there is no key)
// ARGV[1] cost, ARGV[2] limit, ARGV[3] ttl ms, ARGV[4] "1" when KEYS[2] is a mark
//
// Returns the new count, 0 when the idempotency key was charged before
// (nothing charged), or -1 when the share would be exceeded (nothing charged).
var shareScript = redis.NewScript(`
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return -1
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
return n
`)

// refundScript gives a charge back and drops its mark.
//
// KEYS[1] counter, KEYS[2] mark; ARGV[1] cost, ARGV[2] "1" when KEYS[2] is a mark
var refundScript = redis.NewScript(`
redis.call('DECRBY', KEYS[1], ARGV[1])
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 1
`)

// shareLimit is the token's daily person-times for an app with daily cap
// (0: no share of its own).
func shareLimit(t *token, daily int) int {
	if t.share == 0 || daily == 0 {
		return 0
	}
	return max(daily*t.share/100, 1)
}

// shanghai is Asia/Shanghai, UTC+8 without DST: the day of the daily caps.
var shanghai = time.FixedZone("Asia/Shanghai", 8*60*60)

// chargeShare charges msg's person-times (users, and group_size per group
// target) against the token's share of the app's daily cap, once per
// idempotency key. The returned refund gives the charge back (a Send that
// failed). A used share is a 429 naming "to".
func (s *Server) chargeShare(ctx context.Context, t *token, msg *providers.Message, key string) (refund func(), e *Error) {
	app, ok := s.cfg.Apps[msg.App]
	lim := shareLimit(t, app.Limits.Daily)
	if !ok || lim == 0 {
		return func() {}, nil
	}
	cost := len(msg.To.Users) + app.Limits.GroupSize*(len(msg.To.Depts)+len(msg.To.Tags)+len(msg.To.Chats))
	if msg.To.All {
		cost += app.Limits.GroupSize
	}
	if cost == 0 {
		return func() {}, nil // the producer refuses it on "to"
	}
	day := s.now().In(shanghai).Format("20060102")
	tag := "msgd:{" + msg.App + "}:share:" + t.name + ":"
	counter, mark, marked := tag+day, tag+"k:none", "0"
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		mark, marked = tag+"k:"+hex.EncodeToString(sum[:16]), "1"
	}
	n, err := shareScript.Run(ctx, s.rdb, []string{counter, mark}, cost, lim, (48 * time.Hour).Milliseconds(), marked).Int()
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the dispatcher failed; try again"}
	}
	if n < 0 {
		return nil, &Error{Status: http.StatusTooManyRequests, Code: CodeShareExhausted, Field: "to",
			Message: fmt.Sprintf("token %s has used its share (%d%%: %d person-times) of app %s's daily cap today (Asia/Shanghai)", t.name, t.share, lim, msg.App)}
	}
	if n == 0 {
		return func() {}, nil // charged by the first call with this key
	}
	return func() {
		_ = refundScript.Run(context.WithoutCancel(ctx), s.rdb, []string{counter, mark}, cost, marked).Err()
	}, nil
}

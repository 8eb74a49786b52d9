package record

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// saveUnlessNewerScript is Save of a live record, unless a later generation
// has written it: the stored meta's generations is above the caller's.
//
//	KEYS[1]  the record
//	KEYS[2]  the app's event stream
//	ARGV[1]  the caller's generations (Record.Generations)
//	ARGV[2]  the record's TTL ms
//	ARGV[3]  "1" to delete the old layout's whole-record field
//	ARGV[4]  the event stream's max length (approximate)
//	ARGV[5]  nf: the number of record items that follow
//	ARGV[6 … 5+nf]  the record's hash fields and values
//	ARGV[6+nf …]    the event's fields and values (none: no event)
//
// Returns 1 when written, 0 when a later generation had written (nothing
// written).
var saveUnlessNewerScript = redis.NewScript(`
local meta = redis.call('HGET', KEYS[1], 'meta')
if meta then
  local ok, m = pcall(cjson.decode, meta)
  if ok and type(m) == 'table' and tonumber(m.generations or 0) > tonumber(ARGV[1]) then return 0 end
end
local nf = tonumber(ARGV[5])
local f = {}
for i = 6, 5 + nf do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(f))
redis.call('HINCRBY', KEYS[1], 'v', 1)
if ARGV[3] == '1' then redis.call('HDEL', KEYS[1], 'rec') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if #ARGV > 5 + nf then
  local args = {KEYS[2], 'MAXLEN', '~', ARGV[4], '*'}
  for i = 6 + nf, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call('XADD', unpack(args))
end
return 1
`)

// SaveUnlessNewer is Save for a live (non-terminal) record written by the
// task of generation rec.Generations-1, unless the task of a later
// generation has written it since: then nothing is written (no event
// either) and saved is false. The worker saves a message "waiting" after
// enqueueing the follow-up generation's task, which may already have run
// by then; its write must not go back over the follow-up's.
func (s *Store) SaveUnlessNewer(ctx context.Context, rec *Record, typ, detail string, ttl time.Duration) (saved bool, err error) {
	if rec.assumed {
		return false, fmt.Errorf("record: save %s: %w", rec.ID, ErrAssumed)
	}
	if rec.State.Terminal() {
		return false, fmt.Errorf("record: save %s: SaveUnlessNewer is for a live record, not %s", rec.ID, rec.State)
	}
	seq := rec.EventSeq
	ev := rec.nextEvent(typ, detail)
	e, err := rec.encode()
	if err != nil {
		rec.EventSeq = seq
		return false, err
	}
	legacy := "0"
	if rec.stored.legacy {
		legacy = "1"
	}
	args := []any{rec.Generations, max(ttl.Milliseconds(), 1), legacy, s.EventsMaxLen, len(e.fields)}
	args = append(args, e.fields...)
	args = append(args, ev...)
	n, err := saveUnlessNewerScript.Run(ctx, s.rdb, []string{Key(rec.App, rec.ID), EventsKey(rec.App)}, args...).Int()
	if err != nil {
		rec.EventSeq = seq
		return false, fmt.Errorf("record: save %s: %w", rec.ID, err)
	}
	if n == 0 {
		rec.EventSeq = seq
		return false, nil
	}
	rec.stored = e.next
	return true, nil
}

package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// The send path's two writes per request, each one script call on keys of the
// app's hash tag {app} (one Redis Cluster slot): Begin before the request
// leaves, Settle once its outcome is known. Each may carry the quota ledger's
// transition of the part's recipients (ratelimit.LedgerCall, whose keys share
// the tag), so that the ledger and the record never disagree about a part.

// ErrLedgerRefused is returned by Begin when the quota ledger refused one of
// the part's recipients (a stale charge, a slot not yet come): nothing was
// written; the ledger's reply says who and why.
var ErrLedgerRefused = errors.New("record: quota ledger refused the part")

// beginScript marks a part sending unless the message has a tombstone: the
// record's meta and the part, and the ledger's all-or-nothing "mark sending"
// of the part's recipients, in one step.
//
//	KEYS[1]  the record
//	KEYS[2]  the message's tombstone
//	KEYS[3…] the ledger call's keys (none without a ledger step)
//	ARGV[1]  the record's TTL ms
//	ARGV[2]  nl: the number of the ledger call's arguments (0: no ledger step)
//	ARGV[3 … 2+nl]  the ledger call's arguments
//	ARGV[3+nl …]    the record's hash fields and values to write
//
// Returns {0} for a tombstone, {3} for a missing record (nothing written);
// {2, ledger reply} when the ledger refused a recipient (nothing written);
// {1, ledger reply} when written.
var beginScript = redis.NewScript(ratelimit.MarkFuncLua + `
if redis.call('EXISTS', KEYS[2]) == 1 then return {0} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {3} end
local nl = tonumber(ARGV[2])
local led = false
if nl > 0 then
  local K, A = {unpack(KEYS, 3)}, {unpack(ARGV, 3, 2 + nl)}
  led = ledgerMark(K, A)
  for j = 3, #led, 3 do
    if led[j] ~= 0 then return {2, led} end
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3 + nl))
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HDEL', KEYS[1], 'rec')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {1, led}
`)

// settleScript records a request's outcome: the ledger's transition (sent,
// failed or refunded), the part, the record's meta and, when given, the
// event, in one step. (A record of the old layout lost its whole-record field
// "rec" at the part's begin, which every settle follows.)
//
//	KEYS[1]  the record
//	KEYS[2]  the app's event stream
//	KEYS[3]  the message's idempotency key (the record key again when none)
//	KEYS[4…] the ledger call's keys (none without a ledger step)
//	ARGV[1]  the record's TTL ms
//	ARGV[2]  the idempotency key's TTL ms ("0": leave it)
//	ARGV[3]  the event stream's max length (approximate)
//	ARGV[4]  nl: the number of the ledger call's arguments (0: no ledger step)
//	ARGV[5 … 4+nl]  the ledger call's arguments
//	ARGV[5+nl]      nf: the number of record items that follow
//	ARGV[6+nl … 5+nl+nf]  the record's hash fields and values to write
//	ARGV[6+nl+nf …]       the event's fields and values (none: no event)
//
// Returns {1, ledger reply}.
var settleScript = redis.NewScript(ratelimit.MarkFuncLua + `
local nl = tonumber(ARGV[4])
local led = false
if nl > 0 then
  local K, A = {unpack(KEYS, 4)}, {unpack(ARGV, 5, 4 + nl)}
  led = ledgerMark(K, A)
end
local nf = tonumber(ARGV[5 + nl])
redis.call('HSET', KEYS[1], unpack(ARGV, 6 + nl, 5 + nl + nf))
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
if #ARGV > 5 + nl + nf then
  local args = {KEYS[2], 'MAXLEN', '~', ARGV[3], '*'}
  for i = 6 + nl + nf, #ARGV do args[#args + 1] = ARGV[i] end
  redis.call('XADD', unpack(args))
end
return {1, led}
`)

// Begin writes, before part i of rec leaves, rec's meta and that part (the
// caller has marked it sending), together with the ledger step (nil: none),
// unless the message has a tombstone — then nothing is written and the error
// wraps ErrCancelled. When the ledger refuses a recipient nothing is written
// and the error wraps ErrLedgerRefused. It returns the ledger's reply, for
// ledger.Transition. ttl is how long the record lives.
func (s *Store) Begin(ctx context.Context, rec *Record, i int, ledger *ratelimit.LedgerCall, ttl time.Duration) (any, error) {
	if rec.assumed {
		return nil, fmt.Errorf("record: begin %s part %d: %w", rec.ID, i, ErrAssumed)
	}
	e, err := rec.encode(i)
	if err != nil {
		return nil, err
	}
	keys := []string{Key(rec.App, rec.ID), TombKey(rec.App, rec.ID)}
	args := []any{max(ttl.Milliseconds(), 1), 0}
	if ledger != nil {
		keys = append(keys, ledger.Keys...)
		args[1] = len(ledger.Args)
		args = append(args, ledger.Args...)
	}
	args = append(args, e.fields...)
	reply, err := beginOutcome(rec, i, beginScript.Run(ctx, s.rdb, keys, args...))
	if err == nil {
		rec.stored = e.next
	}
	return reply, err
}

// beginOutcome reads the reply of beginScript or beginFirstScript: the
// ledger's reply and nil, or the error its code means (nothing written).
func beginOutcome(rec *Record, i int, cmd *redis.Cmd) (any, error) {
	fail := func(err error) error { return fmt.Errorf("record: begin %s part %d: %w", rec.ID, i, err) }
	res, err := cmd.Slice()
	if err != nil {
		return nil, fail(err)
	}
	var reply any
	if len(res) > 1 {
		reply = res[1]
	}
	switch code, _ := res[0].(int64); code {
	case 0:
		return nil, fail(ErrCancelled)
	case 2:
		return reply, fail(ErrLedgerRefused)
	case 3:
		return nil, fail(ErrNotFound)
	case 4:
		return nil, fail(ErrAssumed)
	case 5:
		return nil, fail(ErrSemaphoreFull)
	}
	return reply, nil
}

// Settle is a prepared write of a part's outcome (Store.PrepareSettle): queue
// it in a pipeline (Queue), run the pipeline, then read Result.
type Settle struct {
	// script builds settleScript's keys and arguments, when it runs
	script func() ([]string, []any)
	cmd    *redis.Cmd
	rec    *Record
	next   stored
	// tx is the same writes as one MULTI, used when queued in a pipeline:
	// set when there is no ledger step (settleScript then only writes) or
	// one the MULTI can run first as a small EVAL of its own
	// (ratelimit.LedgerCall.EvalCmd: one recipient sent or failed; ledgerTx),
	// and not on a Redis Cluster. No record bytes go through Lua.
	tx       *multi
	ledgerTx bool
}

// Queue adds the settle script's call to p: a pipeline (the script must be
// loaded, see LoadScripts; a pipeline that failed with NOSCRIPT may queue it
// again) or the client itself.
func (st *Settle) Queue(ctx context.Context, p redis.Scripter) {
	if pl, ok := p.(redis.Pipeliner); ok && st.tx != nil {
		st.tx.queue(ctx, pl)
		return
	}
	st.tx = nil
	keys, args := st.script()
	st.cmd = queueScript(ctx, settleScript, p, keys, args)
}

// queueScript adds a call of sc to p: EVALSHA in a pipeline (whose caller
// loads the scripts on NOSCRIPT), Run (EVALSHA, then EVAL) on a client.
func queueScript(ctx context.Context, sc *redis.Script, p redis.Scripter, keys []string, args []any) *redis.Cmd {
	if _, pipelined := p.(redis.Pipeliner); pipelined {
		return sc.EvalSha(ctx, p, keys, args...)
	}
	return sc.Run(ctx, p, keys, args...)
}

// Result returns the ledger's reply (nil without a ledger step) once the call
// has run; on success the Record knows what Redis now holds of it.
func (st *Settle) Result() (any, error) {
	if st.tx != nil {
		res, err := st.tx.result()
		if err != nil {
			return nil, fmt.Errorf("record: settle %s: %w", st.rec.ID, err)
		}
		st.rec.stored = st.next
		if st.ledgerTx {
			return res[0], nil
		}
		return nil, nil
	}
	if st.cmd == nil {
		return nil, fmt.Errorf("record: settle %s: not queued", st.rec.ID)
	}
	res, err := st.cmd.Slice()
	if err != nil {
		return nil, fmt.Errorf("record: settle %s: %w", st.rec.ID, err)
	}
	st.rec.stored = st.next
	if len(res) > 1 {
		return res[1], nil
	}
	return nil, nil
}

// PrepareSettle prepares the write of part i's outcome: the ledger step (nil:
// none), rec's meta and the part — every part that changed, when rec is
// terminal — and, when typ is not empty, the event of type typ with detail
// (numbered now). A terminal record is kept for retention from now, and its
// idempotency key for IdempotencyHold; a live one for ttl.
func (s *Store) PrepareSettle(rec *Record, i int, ledger *ratelimit.LedgerCall, typ, detail string, ttl, retention time.Duration) (*Settle, error) {
	if rec.assumed {
		return nil, fmt.Errorf("record: settle %s: %w", rec.ID, ErrAssumed)
	}
	var e *encoded
	var err error
	if rec.State.Terminal() {
		e, err = rec.encode()
	} else {
		e, err = rec.encode(i)
	}
	if err != nil {
		return nil, err
	}
	ev := rec.nextEvent(typ, detail)
	key := Key(rec.App, rec.ID)
	keys := []string{key, EventsKey(rec.App), key}
	idemTTL := int64(0)
	if rec.State.Terminal() {
		ttl = retention
		if rec.IdempotencyKey != "" {
			keys[2], idemTTL = idemKey(rec.App, rec.IdempotencyKey), max(s.IdempotencyHold.Milliseconds(), 1)
		}
	}
	ttlMS := max(ttl.Milliseconds(), 1)
	st := &Settle{rec: rec, next: e.next, script: func() ([]string, []any) {
		k, args := keys[:3:3], []any{ttlMS, idemTTL, s.EventsMaxLen, 0}
		if ledger != nil {
			k = append(k, ledger.Keys...)
			args[3] = len(ledger.Args)
			args = append(args, ledger.Args...)
		}
		args = append(args, len(e.fields))
		args = append(args, e.fields...)
		return k, append(args, ev...)
	}}
	if s.cluster {
		return st, nil
	}
	// settleScript's writes, without a script; the ledger step, when there
	// is one, as its own small EVAL first (or settleScript when it needs
	// the whole ledger transition)
	var cmds [][]any
	if ledger != nil {
		c, ok := ledger.EvalCmd()
		if !ok {
			return st, nil
		}
		cmds, st.ledgerTx = append(cmds, c), true
	}
	cmds = append(cmds, append([]any{"hset", key}, e.fields...), []any{"hincrby", key, fieldVersion, 1}, []any{"pexpire", key, ttlMS})
	if idemTTL != 0 {
		cmds = append(cmds, []any{"pexpire", keys[2], idemTTL})
	}
	if len(ev) > 0 {
		cmds = append(cmds, append([]any{"xadd", keys[1], "maxlen", "~", s.EventsMaxLen, "*"}, ev...))
	}
	st.tx = &multi{cmds: cmds}
	return st, nil
}

// LoadScripts loads the send path's scripts into Redis, for pipelines; a
// pipeline that failed with NOSCRIPT (Redis restarted) may run again after it.
func (s *Store) LoadScripts(ctx context.Context) error {
	for _, sc := range []*redis.Script{beginScript, beginFirstScript, settleScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("record: load scripts: %w", err)
		}
	}
	return nil
}

package ratelimit

// markOneLua is markScript's "sent" (D) and "failed" (F) for one recipient:
// the same transition and the same reply, without what those two actions
// never touch (the daily counters, the arrival zset, the test clock). It is
// small so that it can run as EVAL — its text, not its SHA — inside a MULTI
// with the caller's own writes ([LedgerCall.EvalCmd]): a Redis that lost its
// scripts still runs it, so the other writes never apply without it.
//
//	KEYS[1]  the message's ledger hash
//	ARGV[1]  "D" mark sent, "F" mark failed
//	ARGV[2]  the recipient
//
// Returns {op, now, code, state, at} as markScript does, op and now from
// Redis TIME.
const markOneLua = `local t = redis.call('TIME')
local us = t[1] * 1000000 + t[2]
local out = {us, math.floor(us / 1000), 1, '', 0}
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v then return out end
local st, at = string.match(v, '^(%a)(%-?%d+),%d+,%-?%d+,%d+,?[^,]*$')
if not st then return out end
out[3], out[4], out[5] = 0, st, tonumber(at)
local to = ARGV[1]
if to == 'D' then
  if st == 'A' or st == 'B' or st == 'S' then redis.call('HSET', KEYS[1], ARGV[2], 'D' .. string.sub(v, 2))
  elseif st ~= 'D' then out[3] = 4 end
elseif to == 'F' then
  if st == 'S' then redis.call('HSET', KEYS[1], ARGV[2], 'F' .. string.sub(v, 2))
  elseif st ~= 'F' then out[3] = 4 end
else
  return redis.error_reply('ratelimit: markOne: action ' .. to)
end
return out
`

// EvalCmd returns the call as one EVAL command (name and arguments, for
// [redis.Pipeliner.Do]) of a small script of its own, for a caller that
// runs it inside a MULTI with its own writes instead of through
// [MarkFuncLua] inside its script; the reply is the same, for
// [LedgerCall.Transition]. It reports false when the call is not one that
// script makes: one recipient (not the group) marked sent or failed, with no
// test clock set.
func (c *LedgerCall) EvalCmd() ([]any, bool) {
	if len(c.ch.rcpt) != 1 || c.ch.rcpt[0] == GroupRecipient || len(c.Args) < 2 || c.Args[1] != argZero {
		return nil, false
	}
	action := c.Args[0]
	if action != "D" && action != "F" {
		return nil, false
	}
	return []any{"eval", markOneLua, 1, c.Keys[0], action, c.ch.rcpt[0]}, true
}

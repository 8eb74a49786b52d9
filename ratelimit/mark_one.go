package ratelimit

// luaMarkOne is one recipient's ledger transition to sending (to = "S" or
// "s"), sent ("D") or failed ("F"), in markScript's rules, with nothing else:
// no daily counter, no arrival, none of the general path's closures and
// tables (these actions touch neither). It reads the locals f (the
// recipient), to, maxAge (ms: a charge older than this is stale for
// sending), op and now, and KEYS[1] (the message's ledger hash), and returns
// markScript's reply for f: {op, now, code, state, at}. markScript's fast
// path and markOneLua run it.
const luaMarkOne = `local v = redis.call('HGET', KEYS[1], f)
local st, at
if v then st, at = string.match(v, '^(%a)(%-?%d+),%d+,%-?%d+,%d+,?[^,]*$') end
if not st then return {op, now, 1, '', 0} end
at = tonumber(at)
local code, booked = 0, st == 'A' or st == 'B'
if to == 'D' then
  if booked or st == 'S' then redis.call('HSET', KEYS[1], f, 'D' .. string.sub(v, 2))
  elseif st ~= 'D' then code = 4 end
elseif to == 'F' then
  if st == 'S' then redis.call('HSET', KEYS[1], f, 'F' .. string.sub(v, 2))
  elseif st ~= 'F' then code = 4 end
elseif not booked then code = 4
elseif at > now then code = 2
elseif now - at > maxAge then code = 3
else redis.call('HSET', KEYS[1], f, 'S' .. string.sub(v, 2)) end
return {op, now, code, st, at}
`

// markOneLua is luaMarkOne as a script of its own, for sent and failed
// (EvalCmd sends no other action), op and now from Redis TIME: small, so
// that it can run as EVAL — its text, not its SHA — inside a MULTI with the
// caller's own writes ([LedgerCall.EvalCmd]): a Redis that lost its scripts
// still runs it, so the other writes never apply without it.
//
//	KEYS[1]  the message's ledger hash
//	ARGV[1]  "D" mark sent, "F" mark failed
//	ARGV[2]  the recipient
//
// Returns {op, now, code, state, at} as markScript does.
const markOneLua = `local t = redis.call('TIME')
local op = t[1] * 1000000 + t[2]
local now, f, to, maxAge = math.floor(op / 1000), ARGV[2], ARGV[1], 0
` + luaMarkOne

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

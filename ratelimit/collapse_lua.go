package ratelimit

// collapseLua is the part of admitLua that collapse keys add (see the
// package documentation, "Collapse keys"). It runs only when the call has a
// collapse pointer prefix (ckp), for recipients without a ledger entry.
//
// Its optional arguments, after admitLua's own (absent in a call without a
// collapse key or a not-before time):
//
//	ARGV[18+2nw] the collapse pointer prefix ({app}:ck:<tenant>:<key>:), "" for none
//	ARGV[19+2nw] the message id (ids of one app sort by creation time)
//	ARGV[20+2nw] "" (replace), or "=" followed by the message's text (digest)
//	ARGV[21+2nw] not before, ms ("0": none): no slot earlier than this
//	ARGV[22+2nw] the app's margin, ms
//
// The pointer rl:{app}:ck:<tenant>:<key>:<rcpt> is a hash: m = the newest
// message claiming the recipient, n = how many older messages it superseded
// for the recipient (transitively, and those that came to admission after
// it), fi = the id of the oldest of them, and in
// digest mode t = the claimant's text, ft = the first superseded text, lt =
// the last one. Its TTL is the claimant's slot + the ledger TTL.
//
// Extra reply quintuples (besides the recipient's own code): 10 superseded
// (at = the successor's id), 11 digest (at = count, why = first id, gen =
// first text), 12 digest (gen = last text), 13 this message superseded an
// older one (at = its id, why = its slot).
const collapseLua = `
local mid, dtext, margin, lpre = nil, nil, 0, nil
if ckp then
  mid = ARGV[19 + 2 * nw]
  dtext = ARGV[20 + 2 * nw]
  if dtext == '' then dtext = nil else dtext = string.sub(dtext, 2) end
  margin = tonumber(ARGV[22 + 2 * nw])
  lpre = string.sub(KEYS[1], 1, #KEYS[1] - #mid)
end
local pend = {}
-- collapse(j, key) for recipient j without a ledger entry: returns the id
-- of a newer claimant (j is superseded for this message), or the slot of
-- the older claimant this message superseded (inherited when earlier than
-- its own), and a lower bound that keeps this message behind an older
-- claimant whose request is due or in flight (its slot + margin).
local function collapse(j, key)
  local pk = ckp .. fields[j]
  local p = redis.call('HMGET', pk, 'm', 'n', 'fi', 'ft', 'lt', 't')
  local cur = p[1]
  if cur and cur > mid then -- the newer claimant collapsed this one too
    redis.call('HINCRBY', pk, 'n', 1)
    if not p[3] or mid < p[3] then
      redis.call('HSET', pk, 'fi', mid)
      if dtext then redis.call('HSET', pk, 'ft', dtext) end
    end
    return cur, nil, nil
  end
  local n, fi, ft, lt = 0, false, false, false
  local inherit, olb = nil, nil
  if cur and cur ~= mid then
    local ov = redis.call('HGET', lpre .. cur, fields[j])
    if ov then
      local st, at, mem, g, why = parse(ov)
      if st == 'B' and at > now and why < 16 then
        -- booked, not due, never rendered: superseded, its charge refunded
        redis.call('ZREM', key, mem)
        if cap > 0 then dayAdd(dayOf(at), -1) end
        redis.call('HSET', lpre .. cur, fields[j], 'C' .. istr(at) .. ',' .. mem .. ',' .. g .. ',' .. why .. ',' .. mid)
        inherit, olb = at, at -- its place kept the order behind older claimants: keep it
        n = (tonumber(p[2]) or 0) + 1
        fi = p[3] or cur
        ft = p[4] or p[6] or false
        lt = p[6] or false
        emit(j, 13, cur, at, tonumber(g))
      elseif st == 'A' or st == 'B' or st == 'S' then
        olb = at + margin
      end
    end
  end
  pend[j] = {n, fi, ft, lt}
  return nil, inherit, olb
end
-- claim(j, s): recipient j was charged at s: the pointer names this message.
local function claim(j, s)
  local c = pend[j]
  if not c then return end
  local pk = ckp .. fields[j]
  local a = {'m', mid, 'n', istr(c[1])}
  if c[1] > 0 then
    a[#a + 1] = 'fi'; a[#a + 1] = c[2]
    if c[3] then a[#a + 1] = 'ft'; a[#a + 1] = c[3] end
    if c[4] then a[#a + 1] = 'lt'; a[#a + 1] = c[4] end
  else
    redis.call('HDEL', pk, 'fi', 'ft', 'lt')
  end
  if dtext then a[#a + 1] = 't'; a[#a + 1] = dtext else redis.call('HDEL', pk, 't') end
  redis.call('HSET', pk, unpack(a))
  redis.call('PEXPIRE', pk, istr(s - now + lttl))
  if dtext and c[1] > 0 then
    emit(j, 11, c[1], c[2], c[3] or '')
    emit(j, 12, 0, '', c[4] or '')
  end
end
-- supersededAtMove: a stale charge of recipient j (due to be moved) whose
-- key a newer message claims is superseded instead (refunded, never sent),
-- so that it cannot arrive after the newer one.
local function supersededAtMove(j, key, v, st, at, mem, g, why)
  local cur = redis.call('HGET', ckp .. fields[j], 'm')
  if not cur or cur <= mid then return false end
  redis.call('ZREM', key, mem)
  if cap > 0 then dayAdd(dayOf(at), -1) end
  lset[nl + 1] = fields[j]; lset[nl + 2] = 'C' .. istr(at) .. ',' .. mem .. ',' .. g .. ',' .. why .. ',' .. cur; nl = nl + 2
  emit(j, 10, cur, 0, tonumber(g))
  return true
end
-- digestOf(j): the digest of a recipient charged by an earlier call.
local function digestOf(j)
  local p = redis.call('HMGET', ckp .. fields[j], 'm', 'n', 'fi', 'ft', 'lt')
  if p[1] == mid and (tonumber(p[2]) or 0) > 0 then
    emit(j, 11, tonumber(p[2]), p[3] or '', p[4] or '')
    emit(j, 12, 0, '', p[5] or '')
  end
end
`

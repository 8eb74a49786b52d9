package ratelimit

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// luaClock is the common prologue of the scripts: the one clock and the
// stamp of this call. The clock is Redis TIME; the stamp is TIME in
// microseconds, and now is the stamp in milliseconds. The stamp is also the
// member of every arrival the call charges. Redis runs one script at a time,
// each for more than a microsecond, so stamps of successive calls differ; a
// Redis clock stepped back could repeat one, so a member is added with ZADD NX
// wherever the zset may already hold members (see admitLua).
//
// A script using it takes KEYS[2] = the app's test clock key and ARGV[2] =
// the test clock, always "0" in production: only tests set it, to an offset
// in ms added to TIME, or to "@<ms>", a fixed time used instead of TIME. A
// test clock can be set back, so it is made strictly increasing per app: the
// stamp is the previous stamp + 1µs when the test time has not passed it (one
// SET … GET of the key, which production never touches).
const luaClock = `
local us, rms
local t = redis.call('TIME')
if ARGV[2] == '0' then
  rms = t[1] * 1000 + math.floor(t[2] / 1000)
  us = t[1] * 1000000 + t[2]
elseif string.sub(ARGV[2], 1, 1) == '@' then
  us = tonumber(string.sub(ARGV[2], 2)) * 1000
else
  rms = t[1] * 1000 + math.floor(t[2] / 1000)
  us = t[1] * 1000000 + t[2] + tonumber(ARGV[2]) * 1000
end
local opstr = string.format('%d', us)
if ARGV[2] ~= '0' then
  local prev = tonumber(redis.call('SET', KEYS[2], opstr, 'GET'))
  if prev and prev >= us then
    us = prev + 1
    opstr = string.format('%d', us)
    redis.call('SET', KEYS[2], opstr)
  end
end
local op = us
local now = math.floor(us / 1000)
`

// luaLedger parses a ledger value "<state><at>,<member>,<gen>,<why>", e.g.
// "B1732000062123,4711,0,1", or "<…>,<successor>" for a superseded entry
// (state C, see collapseLua).
const luaLedger = `
local function parse(v)
  local st, at, mem, g, why, by = string.match(v, '^(%a)(%-?%d+),(%d+),(%-?%d+),(%d+),?([^,]*)$')
  return st, tonumber(at), mem, g, tonumber(why), by
end
`

// luaDayConst: a day and Asia/Shanghai's offset from UTC, in ms.
const luaDayConst = `
local DAY, SH = 86400000, 28800000
`

// luaDayKey maps Unix ms to Asia/Shanghai calendar days (UTC+8, no DST) and
// a day to its counter key (dprefix .. YYYYMMDD). It needs luaDayConst.
const luaDayKey = `
local function dayOf(ms) return math.floor((ms + SH) / DAY) end
local function dayStart(d) return d * DAY - SH end
local dkeys = {}
local function dkey(d)
  local k = dkeys[d]
  if k then return k end
  -- civil date of day number d (days since 1970-01-01), H. Hinnant's algorithm
  local z = d + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local dd = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  if m <= 2 then y = y + 1 end
  k = dprefix .. string.format('%04d%02d%02d', y, m, dd)
  dkeys[d] = k
  return k
end
`

// luaDaily keeps the (app, tenant) person-times counters of Asia/Shanghai
// calendar days (see luaDayKey): reads are cached and writes accumulated for
// the whole call, then flushed once per day touched. A counter expires at the
// end of the day after its own.
const luaDaily = `
local dused, ddelta = {}, {}
local function dayUsed(d)
  local u = dused[d]
  if u == nil then
    u = tonumber(redis.call('GET', dkey(d))) or 0
    dused[d] = u
  end
  return u + (ddelta[d] or 0)
end
local function dayAdd(d, n) ddelta[d] = (ddelta[d] or 0) + n end
-- dayTake takes n person-times of day d if the cap allows; on a day not read
-- yet it increments first (one call instead of a read and a write) and
-- gives back when that went over the cap.
local function dayTake(d, n)
  if dused[d] ~= nil then
    if dayUsed(d) + n > cap then return false end
    dayAdd(d, n)
    return true
  end
  local k = dkey(d)
  local v = redis.call('INCRBY', k, string.format('%d', n))
  if v == n then redis.call('PEXPIRE', k, string.format('%d', dayStart(d + 2) - now)) end
  if v > cap then
    redis.call('DECRBY', k, string.format('%d', n))
    dused[d] = v - n
    return false
  end
  dused[d] = v
  return true
end
local function dayFlush()
  for d, n in pairs(ddelta) do
    if n ~= 0 then
      local v = redis.call('INCRBY', dkey(d), string.format('%d', n))
      if v == n then
        if n > 0 then
          redis.call('PEXPIRE', dkey(d), string.format('%d', dayStart(d + 2) - now))
        else
          redis.call('DEL', dkey(d)) -- the day's counter had expired: nothing to give back
        end
      end
    end
  end
end
`

// admitScript is Admit and Readmit: for one chunk (≤ 250 recipients) of one
// message of one (app, tenant), in recipient order, it returns each
// recipient's existing ledger decision, moves a stale charge, or charges now /
// books the earliest legal slot. See the package documentation for the rules.
//
//	KEYS[1]  the message's ledger hash ({app}:l:<message id>)
//	KEYS[2]  the app's test clock key ({app}:c; see luaClock)
//	KEYS[2+j] the arrival zset of recipient j ({app}:r:<tenant>:<recipient>)
//	ARGV[1]  move age ms: an admitted/booked charge whose slot is ≤ now and at
//	         least this old is moved (Admit: margin/2+1; Readmit: 0)
//	ARGV[2]  test clock ("0" in production; see luaClock)
//	ARGV[3]  urgent: "1" or "0"
//	ARGV[4]  generation of the calling task
//	ARGV[5]  urgent headroom
//	ARGV[6]  daily cap (0 = none: no daily counter)
//	ARGV[7]  daily counter key prefix ({app}:d:<tenant>:), the day is appended
//	ARGV[8]  peak guard ms (0 = no peak rule)
//	ARGV[9]  peak spread offset ms of this message
//	ARGV[10] peak minute marks, comma-separated ("0,30")
//	ARGV[11] ledger TTL ms (kept after the latest slot)
//	ARGV[12] not-after ms: a slot later than this is not booked (0 = none)
//	ARGV[13] group cost charged to the daily cap (0 = none)
//	ARGV[14] number of windows nw
//	ARGV[15..14+2nw] per window: count, window+margin ms
//	ARGV[15+2nw] the length of the arrival keys' prefix ({app}:r:<tenant>:):
//	         recipient j's ledger field is KEYS[2+j] without it
//	ARGV[16+2nw] the caller's guess of today (Asia/Shanghai) as YYYYMMDD and
//	ARGV[17+2nw] as a day number (days since 1970-01-01): used by the fast
//	         path when right, ignored when not
//
// Returns {op, now, idx, code, at, why, gen, idx, code, …}: the call's stamp
// (µs), now (ms), then one quintuple per recipient that was NOT freshly
// charged at now (idx 1-based; idx 0 is the group). Codes: 1 booked, 2 ledger:
// admitted, 3 ledger: booked, 4 moved to now, 5 moved to a slot, 6 ledger:
// sending, 7 ledger: sent, 8 late (no slot by not-after: nothing charged, a
// moved charge dropped), 9 group charged now.
var admitScript = redis.NewScript(admitLua)

const admitLua = `
local dprefix, cap = ARGV[7], tonumber(ARGV[6])
` + luaClock + `
local HOUR = 3600000
local urgent = ARGV[3] == '1'
local gen = ARGV[4]
local guard = tonumber(ARGV[8])
local peakOn = guard > 0 and not urgent
-- peakEnd(s): the end of the peak window holding s, or nil (guard > 0 only)
local marks, peakEnd = nil, nil
if guard > 0 then
  marks = {}
  for m in string.gmatch(ARGV[10], '%d+') do marks[#marks + 1] = tonumber(m) * 60000 end
  peakEnd = function(s)
    local pos, e = s % HOUR, nil
    for _, mk in ipairs(marks) do
      local d = (pos - mk) % HOUR
      local x = nil
      if d < guard then x = s - d + guard elseif d >= HOUR - guard then x = s - d + HOUR + guard end
      if x and (e == nil or x > e) then e = x end
    end
    return e
  end
end
local notAfter = tonumber(ARGV[12])
local gcost = tonumber(ARGV[13])
local nw = tonumber(ARGV[14])
local Lmax = 0
for i = 1, nw do
  local L = tonumber(ARGV[14 + 2 * i])
  if L > Lmax then Lmax = L end
end
local plen = tonumber(ARGV[15 + 2 * nw]) + 1
local nr = #KEYS - 2
-- numbers given to redis.call are formatted by Redis with %.17g: slow; hot
-- arguments are passed as strings, formatted once with %d (exact up to 2^63)
local nowStr = string.format('%d', now)
local fresh = 'A' .. nowStr .. ',' .. opstr .. ',' .. gen .. ',0'
-- a fresh key expires Lmax from now: PEXPIREAT on Redis's own clock when TIME
-- was read (PEXPIRE is rewritten into PEXPIREAT by Redis: an extra string)
local expCmd, expArg = 'PEXPIREAT', nil
if rms then expArg = string.format('%d', rms + Lmax) else expCmd, expArg = 'PEXPIRE', string.format('%d', Lmax) end
-- a recipient with no arrival and no ledger entry is charged now when today
-- has room and now is not in a peak window (non-urgent)
local fast = not (peakOn and peakEnd(now)) and (notAfter == 0 or now <= notAfter)
-- optional arguments (collapse keys, reservations): absent in the usual call
local ckp = ARGV[18 + 2 * nw]
local nbf = 0
if ckp then
  nbf = tonumber(ARGV[21 + 2 * nw])
  if ckp == '' then ckp = nil end
  if ckp or nbf > now then fast = false end
end

-- setTTL gives the ledger the TTL want (ms) unless it already has a longer one
local function setTTL(want)
  if redis.call('PEXPIRE', KEYS[1], want, 'NX') == 0 then redis.call('PEXPIRE', KEYS[1], want, 'GT') end
end

-- The fast path of the usual single-recipient call, before the general path
-- is set up (its closures cost more than the commands saved here): a
-- recipient whose arrivals are fewer than every window's threshold (so one
-- more breaks no window), none of them after now (the order of a recipient's
-- messages, and the arrival zset's expiry, stay as the general path keeps
-- them), is charged now by HSETNX of its ledger entry,
-- which is also the ledger read (one command instead of HMGET and HSET). The
-- caller passes its guess of today's counter, which saves computing its key
-- (dkey below). Anything else (a wrong guess, an entry already there, more
-- arrivals, a later one, a full day) falls through to the general path, which
-- decides as if this had not run: what it took of the day is given back here.
-- It takes the day as dayTake does, inlined.
` + luaDayConst + `
local guessDay = tonumber(ARGV[17 + 2 * nw])
local narr = -1
if nr == 1 and gcost == 0 and fast and (cap == 0 or math.floor((now + SH) / DAY) == guessDay) then
  narr = redis.call('ZCARD', KEYS[3])
  if narr > 0 then
    for i = 1, nw do
      local T = tonumber(ARGV[13 + 2 * i])
      if not urgent then T = T - tonumber(ARGV[5]) end
      if narr >= T then narr = -1 break end
    end
    if narr > 0 then
      local last = redis.call('ZRANGE', KEYS[3], '-1', '-1', 'WITHSCORES')
      if tonumber(last[2]) > now then narr = -1 end
    end
  end
end
if narr >= 0 then
  local key, dk, ok = KEYS[3], nil, true
  if cap > 0 then
    dk = dprefix .. ARGV[16 + 2 * nw]
    local v = redis.call('INCR', dk)
    if v == 1 then redis.call('PEXPIRE', dk, string.format('%d', (guessDay + 2) * DAY - SH - now)) end
    if v > cap then redis.call('DECR', dk); ok = false end
  end
  if ok then
    local field = string.sub(key, plen)
    if redis.call('HSETNX', KEYS[1], field, fresh) == 1 then
      if narr == 0 then
        redis.call('ZADD', key, nowStr, opstr)
      elseif redis.call('ZADD', key, 'NX', nowStr, opstr) == 0 then
        -- the clock repeated a stamp: a member unique in the zset
        local k, member = 1, string.format('%d', op + 1)
        while redis.call('ZADD', key, 'NX', nowStr, member) == 0 do
          k = k + 1
          member = string.format('%d', op + k)
        end
        redis.call('HSET', KEYS[1], field, 'A' .. nowStr .. ',' .. member .. ',' .. gen .. ',0')
      end
      redis.call(expCmd, key, expArg)
      setTTL(ARGV[11])
      return {op, now}
    end
    if dk then redis.call('DECR', dk) end
  end
end
` + luaDayKey + luaLedger + luaDaily + `
local K, MAXIT = 4, 100
local function istr(x) return string.format('%d', x) end
local today = dayOf(now)
local LmaxStr = istr(Lmax)
local lttl = tonumber(ARGV[11])

local moveAge = tonumber(ARGV[1])
local headroom = tonumber(ARGV[5])
local spread = tonumber(ARGV[9])
local effL, thr = {}, {}
for i = 1, nw do
  local c = tonumber(ARGV[13 + 2 * i])
  effL[i] = tonumber(ARGV[14 + 2 * i])
  if urgent then thr[i] = c else thr[i] = c - headroom end
end

-- Earliest s' >= s at which no window breaks, when arrivals after s may
-- exist: every run of thr consecutive arrivals closer together than L
-- forbids (last-L, first+L); jump past all forbidden intervals holding s.
local function escape(key, s)
  local e = s
  for i = 1, nw do
    local L, T = effL[i], thr[i]
    local p = redis.call('ZRANGEBYSCORE', key, '(' .. (s - L), '(' .. (s + L), 'WITHSCORES')
    local n = #p / 2
    for j = 1, n - T + 1 do
      local a, b = tonumber(p[2 * j]), tonumber(p[2 * (j + T - 1)])
      if b - a < L and s > b - L and s < a + L and a + L > e then e = a + L end
    end
  end
  return e
end

-- The slot: the earliest s >= lb where every window has room (closed form
-- when no arrival lies after s: the thr-th latest arrival + L), the day has
-- room, and (non-urgent) s is outside the peak windows (else: window end +
-- spread offset). top holds the tn latest scores (ascending), all of them when
-- tn < K. Returns s, why (bits: 1 window, 2 daily, 4 peak, 8 no slot).
local function search(key, lb, top, tn, last, need)
  local s, ww, wd, wp, ok = lb, 0, 0, 0, false
  for it = 1, MAXIT do
    local s2 = s
    if not ok then
      if last == nil or s >= last then
        for i = 1, nw do
          local T, a = thr[i], nil
          if T <= tn then
            a = tonumber(top[2 * (tn - T + 1)])
          elseif tn >= K then
            local r = redis.call('ZRANGE', key, istr(-T), istr(-T), 'WITHSCORES')
            if r[2] then a = tonumber(r[2]) end
          end
          if a and a + effL[i] > s2 then s2 = a + effL[i] end
        end
        ok = true -- from here on s only grows past every arrival: windows stay legal
      else
        s2 = escape(key, s)
      end
    end
    if s2 > s then
      s, ww = s2, 1
      if not (last == nil or s >= last) then ok = false end
    else
      local moved = false
      if cap > 0 then
        local d = dayOf(s)
        if dayUsed(d) + need > cap then s, wd, moved = dayStart(d + 1), 2, true end
      end
      if not moved and peakOn then
        local pe = peakEnd(s)
        if pe then s, wp, moved = pe + spread, 4, true end
      end
      if not moved then return s, ww + wd + wp end
      if not (last == nil or s >= last) then ok = false end
    end
  end
  return s, ww + wd + wp + 8
end

local fields = {}
for j = 1, nr do fields[j] = string.sub(KEYS[2 + j], plen) end
if gcost > 0 then fields[nr + 1] = '*' end
local led, ledgerExists = {}, true
-- a new message (the usual first call) has no ledger: one EXISTS instead of
-- an HMGET of every field
if #fields > 2 then ledgerExists = redis.call('EXISTS', KEYS[1]) == 1 end
if #fields > 0 and ledgerExists then
  led = redis.call('HMGET', KEYS[1], unpack(fields))
end

local out, no = {op, now}, 2
local lset, nl, ldel = {}, 0, {}
-- emit reports recipient j (0: the group) with a code (see above)
local function emit(j, code, at, why, g)
  out[no + 1] = j; out[no + 2] = code; out[no + 3] = at; out[no + 4] = why; out[no + 5] = g
  no = no + 5
end
local maxAt = now
` + collapseLua + `

for j = 1, nr do
  local key, v = KEYS[2 + j], led[j]
  local st, at, mem, g, why, by
  if v then st, at, mem, g, why, by = parse(v) end
  local newer, inherit, olb = nil, nil, nil
  if ckp and not st then newer, inherit, olb = collapse(j, key) end
  if newer then -- a newer message of the key claims the recipient: nothing charged
    lset[nl + 1] = fields[j]; lset[nl + 2] = 'C0,0,' .. gen .. ',0,' .. newer; nl = nl + 2
    emit(j, 10, newer, 0, tonumber(gen))
  elseif st == 'C' then
    emit(j, 10, by, why, tonumber(g))
  else
  local top, tn
  if not st then
    top = redis.call('ZRANGE', key, '-4', '-1', 'WITHSCORES') -- -K
    tn = #top / 2
  end
  local take = false
  if tn == 0 and fast then
    if cap == 0 then
      take = true
    else -- dayTake(today, 1), inlined once today is read
      local u = dused[today]
      if u ~= nil then
        local dt = ddelta[today] or 0
        if u + dt + 1 <= cap then ddelta[today] = dt + 1; take = true end
      else
        take = dayTake(today, 1)
      end
    end
  end
  if take then
    redis.call('ZADD', key, nowStr, opstr)
    redis.call(expCmd, key, expArg)
    lset[nl + 1] = fields[j]; lset[nl + 2] = fresh; nl = nl + 2
  elseif st == 'S' then
    emit(j, 6, at, why, tonumber(g))
  elseif st == 'D' then
    emit(j, 7, at, why, tonumber(g))
  elseif (st == 'A' or st == 'B') and (at > now or now - at < moveAge) then
    local code = 2
    if at > now then code = 3 end
    emit(j, code, at, why, tonumber(g))
    if dtext then digestOf(j) end
  elseif ckp and (st == 'A' or st == 'B') and supersededAtMove(j, key, v, st, at, mem, g, why) then
    -- a stale charge that a newer message of its key claims: not moved, superseded
  else
    local moving = st == 'A' or st == 'B'
    local member = opstr
    if moving then
      member = mem
      redis.call('ZREM', key, mem)
      if cap > 0 then dayAdd(dayOf(at), -1) end
    end
    if not top then
      top = redis.call('ZRANGE', key, '-4', '-1', 'WITHSCORES') -- -K
      tn = #top / 2
    end
    local last = nil
    if tn > 0 then last = tonumber(top[2 * tn]) end
    if tn >= K then redis.call('ZREMRANGEBYSCORE', key, '-inf', istr(now - Lmax)) end
    local lb = now
    if not urgent and not moving and last and last > lb then lb = last end
    if nbf > lb then lb = nbf end
    if olb and olb > lb then lb = olb end
    local s, w = search(key, lb, top, tn, last, 1)
    if inherit and inherit < s then s, w = inherit, 1 end -- the superseded claimant's place
    if s > now and w == 0 then w = 1 end -- queued behind the recipient's earlier bookings
    if w >= 8 or (notAfter > 0 and s > notAfter) then
      if moving then ldel[#ldel + 1] = fields[j] end
      emit(j, 8, s, w, tonumber(gen))
    else
      local sstr = istr(s)
      if moving then w = w + 16 end -- a moved charge (perhaps rendered already) is never superseded
      if moving then
        redis.call('ZADD', key, sstr, member)
      else -- a new member: unique in the zset even if the clock repeated a stamp
        local k = 0
        while redis.call('ZADD', key, 'NX', sstr, member) == 0 do
          k = k + 1
          member = istr(op + k)
        end
      end
      local e = s
      if last and last > e then e = last end
      redis.call('PEXPIRE', key, istr(e + Lmax - now))
      if cap > 0 then dayAdd(dayOf(s), 1) end
      if s > maxAt then maxAt = s end
      if s == now and not moving then
        local v = fresh
        if member ~= opstr then v = 'A' .. nowStr .. ',' .. member .. ',' .. gen .. ',' .. w end
        lset[nl + 1] = fields[j]; lset[nl + 2] = v; nl = nl + 2
      else
        local stn = 'A'
        if s > now then stn = 'B' end
        lset[nl + 1] = fields[j]; lset[nl + 2] = stn .. sstr .. ',' .. member .. ',' .. gen .. ',' .. w; nl = nl + 2
        local code = 1
        if moving then
          if s > now then code = 5 else code = 4 end
        end
        emit(j, code, s, w, tonumber(gen))
      end
      if ckp then claim(j, s) end
    end
  end
  end
end

if gcost > 0 then
  local v = led[nr + 1]
  local st, at, mem, g, why
  if v then st, at, mem, g, why = parse(v) end
  if st and st ~= 'F' then -- recorded (never moved: the group has no windows)
    local code = 2
    if st == 'S' then code = 6 elseif st == 'D' then code = 7 elseif at > now then code = 3 end
    emit(0, code, at, why, tonumber(g))
  else
    local s, w = now, 0
    if cap > 0 and gcost > cap then w = 8 end
    local it = 0
    while w < 8 do
      it = it + 1
      if it > MAXIT then w = w + 8 break end
      local moved = false
      if cap > 0 then
        local d = dayOf(s)
        if dayUsed(d) + gcost > cap then
          s, moved = dayStart(d + 1), true
          if w % 4 < 2 then w = w + 2 end
        end
      end
      if not moved and peakOn then
        local pe = peakEnd(s)
        if pe then
          s, moved = pe + spread, true
          if w < 4 then w = w + 4 end
        end
      end
      if not moved then break end
    end
    if w >= 8 or (notAfter > 0 and s > notAfter) then
      emit(0, 8, s, w, tonumber(gen))
    else
      if cap > 0 then dayAdd(dayOf(s), gcost) end
      if s > maxAt then maxAt = s end
      local stn, code = 'A', 9
      if s > now then stn, code = 'B', 1 end
      lset[nl + 1] = '*'; lset[nl + 2] = stn .. s .. ',' .. gcost .. ',' .. gen .. ',' .. w; nl = nl + 2
      emit(0, code, s, w, tonumber(gen))
    end
  end
end

if cap > 0 then dayFlush() end
if #ldel > 0 then redis.call('HDEL', KEYS[1], unpack(ldel)) end
if nl > 0 then
  -- A hash of more than 128 fields is a hashtable, but HSET builds it field
  -- by field in a listpack first, searching the listpack for each field
  -- (quadratic) until it converts. A value longer than 64 bytes converts it
  -- at once: a big chunk of a new ledger starts with the header field ""
  -- (never a recipient) holding such a value. 5x faster for 250 fields.
  if nl > 128 and not ledgerExists then
    lset[nl + 1] = ''; lset[nl + 2] = 'ledger header: its length (over 64 bytes) makes the hash a hashtable'
  end
  redis.call('HSET', KEYS[1], unpack(lset))
  -- never shorten: an earlier call may have booked later slots
  local want = ARGV[11]
  if maxAt > now then want = istr(maxAt - now + lttl) end
  setTTL(want)
end
return out
`

// markScript moves ledger entries of one message (the worker's transitions).
//
//	KEYS[1]  the message's ledger hash
//	KEYS[2]  the app's test clock key
//	KEYS[2+j] the arrival zset of recipient j (the clock key for the group "*")
//	ARGV[1]  action: "S" mark sending, "s" mark sending all or none (one
//	         refusal and nothing is written), "D" mark sent, "F" mark failed,
//	         "N" not sent (refund), "X" release
//	ARGV[2]  test clock ("0" in production; see luaClock)
//	ARGV[3]  max age ms for "S": a charge older than this is stale (margin/2)
//	ARGV[4]  daily counter key prefix
//	ARGV[5]  "1" when the app keeps daily counters (it has a daily cap)
//	ARGV[6..] the recipients, in the order of KEYS[3..]
//
// Returns {op, now, code, state, at, code, state, at, …} per recipient: code
// 0 done, 1 no ledger entry, 2 too early (its slot is later), 3 stale (older
// than the max age: re-admit it), 4 refused in this state; state and at are
// the entry before the call ("" and 0 when absent).
var markScript = redis.NewScript(markLua)

const markLua = `
local dprefix, cap = ARGV[4], 0
` + luaClock + `
-- The fast path of one recipient (not the group) marked sending, sent or
-- failed, the worker's begin and settle of a part: HGET instead of HMGET,
-- and none of the general path's closures and tables, which cost more than
-- its commands; these actions never touch the daily counters or the
-- arrivals. The same transitions and reply as the general path below.
if #ARGV == 6 and ARGV[6] ~= '*' and (ARGV[1] == 'S' or ARGV[1] == 's' or ARGV[1] == 'D' or ARGV[1] == 'F') then
  local f, to, maxAge = ARGV[6], ARGV[1], tonumber(ARGV[3])
` + luaMarkOne + `end
` + luaDayConst + luaDayKey + luaLedger + luaDaily + `
local action, maxAge, daily = ARGV[1], tonumber(ARGV[3]), ARGV[5] == '1'
local atomic = action == 's'
if atomic then action = 'S' end
local fields = {}
for j = 6, #ARGV do fields[#fields + 1] = ARGV[j] end
local led = redis.call('HMGET', KEYS[1], unpack(fields))
local out, hset, hdel = {op, now}, {}, {}
for j, f in ipairs(fields) do
  local key, v = KEYS[j + 2], led[j]
  local code, st, at, mem, g, why = 0, nil, 0, nil, nil, nil
  if v then st, at, mem, g, why = parse(v) end
  if not st then
    code, st, at = 1, '', 0
  else
    local rest = ',' .. mem .. ',' .. g .. ',' .. why
    local booked = st == 'A' or st == 'B'
    if action == 'S' then
      if not booked then code = 4
      elseif at > now then code = 2
      elseif now - at > maxAge then code = 3
      else hset[#hset + 1] = f; hset[#hset + 1] = 'S' .. at .. rest end
    elseif action == 'D' then
      if booked or st == 'S' then hset[#hset + 1] = f; hset[#hset + 1] = 'D' .. at .. rest
      elseif st ~= 'D' then code = 4 end
    elseif action == 'F' then
      if st == 'S' then hset[#hset + 1] = f; hset[#hset + 1] = 'F' .. at .. rest
      elseif st ~= 'F' then code = 4 end
    elseif action == 'N' then
      if booked or st == 'S' then -- it never reached the provider: refund its charge
        if f == '*' then
          if daily then dayAdd(dayOf(at), -tonumber(mem)) end
        else
          redis.call('ZREM', key, mem)
          if daily then dayAdd(dayOf(at), -1) end
        end
        hdel[#hdel + 1] = f
      else code = 4 end
    elseif action == 'X' then
      if booked then
        if f == '*' then
          if daily then dayAdd(dayOf(at), -tonumber(mem)) end
        else
          redis.call('ZREM', key, mem)
          if daily then dayAdd(dayOf(at), -1) end
        end
        hdel[#hdel + 1] = f
      elseif st == 'F' then
        hdel[#hdel + 1] = f -- the failed attempt may have arrived: its charge stays
      else code = 4 end
    end
  end
  out[#out + 1] = code; out[#out + 1] = st; out[#out + 1] = at
end
if atomic then -- all or nothing: one refusal and nobody is marked sending
  for j = 3, #out, 3 do if out[j] ~= 0 then hset = {} end end
end
if #hset > 0 then redis.call('HSET', KEYS[1], unpack(hset)) end
if #hdel > 0 then redis.call('HDEL', KEYS[1], unpack(hdel)) end
dayFlush()
return out
`

// MarkFuncLua defines the Lua function ledgerMark(K, A): markScript's body
// as a function, for a script of another package that runs a ledger
// transition in the same call as its own writes (the worker's begin and
// settle of a part, see internal/record). K and A are markScript's KEYS and
// ARGV, as [LedgerCall] prepares them; it returns markScript's reply. Its keys
// carry the app's hash tag, so they share a Cluster slot with every other key
// of the app.
var MarkFuncLua = "local function ledgerMark(K, A)\n" +
	strings.NewReplacer("KEYS[", "K[", "ARGV[", "A[", "#ARGV", "#A").Replace(markLua) + "\nend\n"

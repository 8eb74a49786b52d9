// Package ratelimit is the exact, distributed admission core of the dispatcher
// (docs/architecture.md step 5, §4a G1 G2 G5, §5): per-recipient sliding windows, the
// daily person-times cap, the urgent headroom and peak-minute avoidance,
// decided in Redis by one atomic script call per chunk of ≤ 250 recipients,
// with a per-(message, recipient) ledger that makes re-runs safe.
//
// # Use
//
//	l, err := ratelimit.New(rdb, ratelimit.Options{Policies: map[string]ratelimit.Policy{"hr-bot": {...}}})
//	d, err := l.Admit(ctx, ratelimit.Request{App: "hr-bot", Tenant: corpID, MessageID: id,
//		Generation: gen, Recipients: users, GroupCost: deptSize, Urgent: urgent, NotAfter: expiresAt})
//	// d.Admitted: send now (MarkSending just before the request leaves, MarkSent after).
//	// d.Booked:   a follow-up task (id: message id + generation+1) at each distinct At.
//	// d.Late:     no slot before NotAfter: nothing charged (expire those recipients).
//	// d.Sending, d.Sent: an earlier run got there first (G2).
//
// A follow-up calls Admit again with the same message id: its booked
// recipients come back Admitted (pre-admitted: nothing is charged twice) once
// their slot has come, or Moved if it starts more than Margin/2 late.
//
// # Rules
//
// Every limit is checked against one clock, Redis TIME, read inside the
// script, so all workers see one clock. Times are Unix milliseconds; each
// call also has a stamp, TIME in microseconds, which is the member of every
// arrival it charges. Redis runs one script at a time, each for more than a
// microsecond, so successive calls have distinct stamps; a Redis clock
// stepped back could repeat one, so a member is added with ZADD NX wherever
// the recipient's zset may already hold members, and moves on to the next
// free value if it is taken. (Tests can give the scripts an offset to add to
// TIME, or a fixed time, through unexported fields; production cannot. A
// test clock can be set back, so its stamps are kept strictly increasing per
// app by a high-water mark in the key rl:{app}:c, which production never
// touches.)
//
// Windows. For each recipient of an (app, tenant) and each (Count, Window) of
// the policy, with L = Window + Margin, no half-open interval [x, x+L) may hold
// more than Count arrivals. An arrival is a charge at its slot: an admission
// at Now, or a booking at its future slot, both counted from the moment they
// are decided. A non-urgent request fits at s only if every interval of length
// L holding s holds at most Count − UrgentHeadroom − 1 arrivals; an urgent one
// only if at most Count − 1. So bulk traffic always leaves UrgentHeadroom of
// every window to urgent traffic, and an urgent charge never breaks a window
// that holds future bookings.
//
// Order. A non-urgent request to a recipient is placed at or after every
// arrival the recipient already has (first come, first served: a later request
// never gets a slot before an earlier booking). An urgent request, and a moved
// charge, may take the earliest gap from Now on, even before earlier bookings.
//
// The slot. Starting from the lower bound (Now, or for a non-urgent request the
// recipient's latest arrival when that is later), the slot is the earliest
// instant at which, checked in this order and repeated until all hold: every
// window fits (else: the earliest instant from which it does); the day
// (Asia/Shanghai, UTC+8) of the slot has room in the daily cap (else: the
// next day's start, 00:00 Asia/Shanghai; a day-capped booking is a booking like
// any other, with [ReasonDaily]); for a non-urgent request, the slot is not in
// a peak window (else: the window's end plus the message's spread offset, see
// [PeakRule]: the instants between the end and the offset are skipped on
// purpose, so that the work moved out of a window is spread instead of piled
// at its end). The search is bounded (100 moves); a recipient that finds no
// slot, or whose slot is after [Request.NotAfter], is reported Late and not
// charged. Because every request is placed at its earliest legal slot, a
// backlog is packed at the legal maximum (G5), and a booking is a reservation:
// follow-ups never compete for a window that opens (no herd at the boundary).
//
// Group targets (departments, tags, @all, chats) have unknown members, so
// they are not covered by the per-recipient windows: [Request.GroupCost]
// person-times are charged against the daily cap only, once per message, as
// the pseudo-recipient [GroupRecipient] (same day and peak rules).
//
// The ledger (G2). Each (message, recipient) has one entry: admitted or booked
// (charged at a slot) → sending → sent; or sending → failed, after which the
// next Admit charges the new attempt as a new arrival (the failed one may have
// arrived, so its charge stays). A recipient already in the ledger is never
// charged again: Admit returns its recorded decision (Repeated). The one
// exception is G1's: an admitted or booked charge whose slot passed more than
// Margin/2 ago without being marked sending is moved (its arrival removed and
// placed again from Now: moved, not doubled), by Admit automatically and by
// [Limiter.Readmit] on demand. [Limiter.Release] cancels a charge that never
// left.
//
// # Keys
//
// All keys of an app carry the hash tag {app}, so an app lives in one Cluster
// slot and each script touches one slot. The daily counters' keys are built
// inside the script from the Redis clock (so not declared in KEYS); they carry
// the same tag. With the default prefix "rl":
//
//	rl:{app}:r:<tenant>:<rcpt>    zset  arrivals of a recipient: member = short charge id, score = slot ms;
//	                                    TTL = latest arrival + longest window + margin
//	rl:{app}:d:<tenant>:YYYYMMDD  string person-times charged on that Asia/Shanghai day (only with a daily cap);
//	                                    TTL = end of the following day
//	rl:{app}:l:<message id>       hash  ledger: recipient (or "*") → "<state><slot ms>,<charge id>,<generation>,<reason bits>";
//	                                    TTL = latest slot + LedgerTTL; a ledger that got more than 64
//	                                    entries in one call has a header field "" (see Cost)
//
// Arrivals are an exact sliding log (a sorted set per recipient), not buckets.
// Measured (BenchmarkMemory, TestMemoryPerLightRecipient): a lightly used
// recipient's key is 104 bytes, the same as the bare sliding-window script's,
// and all state per recipient including its share of a 250-recipient
// message's ledger is about 320 bytes (about 370 for a message of its own);
// a conservative bucketed log would save nothing on such keys and would
// round slots, and a busy recipient holds at most one longest window of
// arrivals plus its bookings (older ones are trimmed as the window slides).
// The log is exact, so booked slots are exact to the millisecond. Members are
// short: the stamp of the call that made the charge (a 16-digit integer,
// stored as an 8-byte integer in a listpack; a 36-character UUID would double
// the key). One call charges a recipient at most once, and a new member is
// added only if the zset does not hold it, so members are unique within a
// recipient's zset; a moved charge keeps its member and changes its score.
//
// # Cost
//
// Per call: TIME, one HMGET (for more than two recipients, only after an
// EXISTS finds the ledger: a new message's first call skips it) and one HSET
// (and one or two PEXPIRE) of the ledger, one INCRBY (or GET and INCRBY) per
// day touched. Numbers are passed to Redis as strings formatted once in the
// script (Redis formats a Lua number argument with %.17g, which costs as much
// as a cheap command). Per recipient in the usual case (no ledger entry, no
// arrival in the last window): one ZRANGE of its latest 4 arrivals, one ZADD,
// one PEXPIREAT. A busy recipient adds a trim and a rank look-up per window
// whose count exceeds what the first read covered; the general search (an
// urgent request or a moved charge meeting future bookings) reads the
// arrivals within one window on either side of each candidate slot. A
// message is one round trip whatever its size (chunks are pipelined); a send
// is three (Admit, MarkSending, MarkSent), or one of its own (Admit) when the
// caller runs the marks inside its own scripts (MarkFuncLua, LedgerCall), as
// the worker does with its record writes.
//
// Two shortcuts keep the common cases cheap:
//
//   - A single recipient whose arrivals are fewer than every window's
//     threshold, none later than now, takes a fast path before the rest of
//     the script is set up: one more arrival at now breaks no window and
//     keeps the recipient's order. TIME, ZCARD of its zset (and, when it
//     holds arrivals, a ZRANGE of the latest), INCR of today's counter (its
//     key is the caller's guess of today, checked against TIME), HSETNX of
//     its ledger entry (which is also the ledger read), ZADD, PEXPIREAT and
//     the ledger's PEXPIRE: seven commands (six without a daily cap; one more
//     for a recipient with arrivals), where the general path runs eight and
//     sets up its closures. Anything else falls through to the general path,
//     which decides as if the fast path had not run (a day charged for a
//     recipient already in the ledger is given back).
//   - A hash of more than 128 fields is a hashtable, but HSET builds a new
//     one in a listpack first, searching it for every field, until it
//     converts: quadratic. A value over 64 bytes converts it at once, so a
//     call writing more than 64 entries into a new ledger adds the header
//     field "" (never a recipient id) with such a value; HSET of 250 entries
//     takes ~57µs instead of ~300µs.
//
// Measured against bare sliding-window checks in the same run
// (BenchmarkAdmissionRatio, 16 callers; figures in the README): "bare" checks
// one window (ZREMRANGEBYSCORE, ZCARD, ZADD per recipient), "bare-wecom" the
// two windows this script enforces by default (ZREMRANGEBYSCORE, ZCOUNT,
// ZCARD, ZADD); neither sets a TTL, keeps a ledger or a daily counter, or
// books. The difference that remains is those: a single-recipient call runs
// seven commands against four or five, each costing about 1–2µs of script
// overhead over its own work.
package ratelimit

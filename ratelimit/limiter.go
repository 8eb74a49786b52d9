package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ChunkSize is the largest number of recipients one script call decides; Admit
// and the ledger transitions split longer lists into chunks of ChunkSize,
// sent together in one pipeline (one round trip). Each chunk is atomic on its
// own; recipients of different chunks never share a key but the daily counter.
const ChunkSize = 250

// GroupRecipient stands for the group targets of a message (departments,
// tags, @all, chats) in a [Decision] and in the ledger transitions: their
// configured size, [Request.GroupCost], is charged against the daily cap only,
// because their members are unknown. It is never a valid recipient id.
const GroupRecipient = "*"

// DefaultPrefix is the default of [Options.Prefix].
const DefaultPrefix = "rl"

// Options configure a [Limiter].
type Options struct {
	// Prefix starts every key. Default "rl".
	Prefix string
	// Policies are the quotas by app name.
	Policies map[string]Policy
	// Default is the policy of apps missing from Policies. Nil means an app
	// missing from Policies is an error.
	Default *Policy
	// DailyCap, when set, returns the daily person-times cap of (app, tenant),
	// e.g. corp_user_max × 200 of a third-party app's tenant; a result ≤ 0
	// keeps Policy.Daily. Called on every Admit: keep it cheap.
	DailyCap func(app, tenant string) int
}

// Limiter is the exact, distributed admission core of docs/architecture.md step 5 and
// §5. It is safe for concurrent use; all its state is in Redis, so any number
// of Limiters (processes) may share one Redis.
type Limiter struct {
	rdb      redis.UniversalClient
	prefix   string
	policies map[string]*compiled
	def      *compiled
	dailyCap func(app, tenant string) int

	// The test clock, set by tests only: fixed (Unix ms, 0 = unset) replaces
	// Redis TIME, else offset (ms) is added to it. Production leaves both 0.
	fixed, offset atomic.Int64

	day atomic.Pointer[dayGuess] // see today
}

// dayGuess is this process's guess of the Asia/Shanghai day, passed to the
// admit script, whose fast path uses it when it is right (the script's clock
// is Redis TIME): the day number (days since 1970-01-01) and its date.
type dayGuess struct {
	num             int64
	numArg, dateArg any
}

// today returns the guess for now, formatted once a day.
func (l *Limiter) today() *dayGuess {
	const day = 24 * 60 * 60 * 1000
	d := (time.Now().UnixMilli() + 8*60*60*1000) / day
	if g := l.day.Load(); g != nil && g.num == d {
		return g
	}
	g := &dayGuess{num: d, numArg: strconv.FormatInt(d, 10), dateArg: time.UnixMilli(d * day).UTC().Format("20060102")}
	l.day.Store(g)
	return g
}

// clockArg is the scripts' ARGV[2]: "0" in production.
func (l *Limiter) clockArg() any {
	if f := l.fixed.Load(); f != 0 {
		return "@" + strconv.FormatInt(f, 10)
	}
	if o := l.offset.Load(); o != 0 {
		return strconv.FormatInt(o, 10)
	}
	return argZero
}

// Boxed constant arguments (a constant string in an interface does not
// allocate, but one held in a string variable does).
var argZero, argOne any = "0", "1"

// New returns a Limiter on rdb. It validates every policy.
func New(rdb redis.UniversalClient, opts Options) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: nil Redis client")
	}
	l := &Limiter{rdb: rdb, prefix: opts.Prefix, policies: map[string]*compiled{}, dailyCap: opts.DailyCap}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	var errs []error
	for app, p := range opts.Policies {
		if err := checkApp(app); err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := p.compile()
		if err != nil {
			errs = append(errs, fmt.Errorf("app %q: %w", app, err))
			continue
		}
		l.policies[app] = c
	}
	if opts.Default != nil {
		c, err := opts.Default.compile()
		if err != nil {
			errs = append(errs, fmt.Errorf("default policy: %w", err))
		}
		l.def = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return l, nil
}

func checkApp(app string) error {
	if app == "" || strings.ContainsAny(app, "{}") {
		return fmt.Errorf("app %q: must be non-empty without braces (it is the keys' hash tag)", app)
	}
	return nil
}

func (l *Limiter) policy(app string) (*compiled, error) {
	if err := checkApp(app); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	if c, ok := l.policies[app]; ok {
		return c, nil
	}
	if l.def != nil {
		return l.def, nil
	}
	return nil, fmt.Errorf("ratelimit: no policy for app %q", app)
}

func (l *Limiter) daily(c *compiled, app, tenant string) int {
	if l.dailyCap != nil {
		if d := l.dailyCap(app, tenant); d > 0 {
			return d
		}
	}
	return c.pol.Daily
}

// Keys. Every key of an app carries the hash tag {app}, so one app lives in one
// Redis Cluster slot and a script may touch all the keys it needs.

func (l *Limiter) tag(app string) string { return l.prefix + ":{" + app + "}:" }

// clockKey is the high-water mark of the app's test clock (see luaClock):
// the stamp (µs) of its latest call. Production never writes it.
func (l *Limiter) clockKey(app string) string { return l.prefix + ":{" + app + "}:c" }

// ledgerKey is the per-message ledger hash: field recipient (or "*") → entry.
func (l *Limiter) ledgerKey(app, msg string) string { return l.prefix + ":{" + app + "}:l:" + msg }

// arrivalKey is the zset of one recipient's arrivals: member = short id of the
// charge, score = its slot in Unix ms.
func (l *Limiter) arrivalKey(app, tenant, rcpt string) string {
	return l.prefix + ":{" + app + "}:r:" + tenant + ":" + rcpt
}

// dailyPrefix is the prefix of the (app, tenant) daily counters; the script
// appends the Asia/Shanghai date (YYYYMMDD).
func (l *Limiter) dailyPrefix(app, tenant string) string {
	return l.prefix + ":{" + app + "}:d:" + tenant + ":"
}

// Request asks for admission of one message (or one follow-up of it) to the
// recipients of one (app, tenant).
type Request struct {
	// App is the configured app. Required.
	App string
	// Tenant is the provider tenant (corp) of the recipients; a self-built app
	// has one (e.g. its corp id). It must not contain ':'.
	Tenant string
	// MessageID is the dispatcher message id; the ledger is kept per
	// (MessageID, recipient). Required.
	MessageID string
	// Generation is the generation of the calling task (0 for the original
	// send, n+1 for the follow-up booked by generation n); recorded with every
	// new charge and reported back in [Booking.Generation].
	Generation int
	// Recipients are the recipient ids, already normalised by the caller
	// (WeCom: lower-cased plaintext userids). Duplicates are ignored; "*" and
	// "" are invalid.
	Recipients []string
	// GroupCost is the configured size of the message's group targets
	// (departments, tags, @all, chats), charged against the daily cap only,
	// once per message, as [GroupRecipient] (decided with the first chunk,
	// after its recipients). 0 = none.
	GroupCost int
	// Urgent requests skip peak avoidance, may use the urgent headroom, and may
	// take a slot ahead of a recipient's earlier non-urgent bookings (never
	// breaking any window those bookings are in).
	Urgent bool
	// NotAfter, when set, is the latest acceptable slot (the message's expiry):
	// a recipient whose earliest slot is later is reported in [Decision.Late]
	// and nothing is charged for it.
	NotAfter time.Time
	// NotBefore, when set, is the earliest acceptable slot: a recipient is
	// charged at its earliest legal slot at or after it (a reservation for a
	// send planned at that time). Zero: now.
	NotBefore time.Time
	// CollapseKey, when set, makes this message supersede, per recipient, an
	// older message of the same (app, tenant) and key that is booked for a
	// later slot and not sent, and be superseded by a newer one (see the
	// package documentation, "Collapse keys"). At most 128 bytes, without
	// ':', '{' or '}'. Default none.
	CollapseKey string
	// Digest, with a CollapseKey, keeps the texts of what was collapsed:
	// DigestText is the message's own text, and [Decision.Digests] reports,
	// per recipient, what this message superseded. Default false (replace).
	Digest     bool
	DigestText string
}

// Reason says why a slot is not now; it is a set of bits.
type Reason int

// Reasons of a [Booking].
const (
	// ReasonWindow: a per-recipient window was full (or, for a non-urgent
	// request, the recipient's earlier bookings come first).
	ReasonWindow Reason = 1 << iota
	// ReasonDaily: the (app, tenant) daily cap was spent; the slot moved to a
	// later day's start.
	ReasonDaily
	// ReasonPeak: the slot fell in a peak window and moved past it.
	ReasonPeak
	// ReasonNoSlot: no slot was found within the search bound (100 moves);
	// only in [Decision.Late].
	ReasonNoSlot
	// reasonMoved (internal, masked off in decisions and entries): a stale
	// charge moved to this slot; its request may be rendered already, so a
	// collapse key never supersedes it.
	reasonMoved
)

func (r Reason) String() string {
	if r == 0 {
		return "none"
	}
	var s []string
	for _, x := range []struct {
		r Reason
		n string
	}{{ReasonWindow, "window"}, {ReasonDaily, "daily"}, {ReasonPeak, "peak"}, {ReasonNoSlot, "no-slot"}} {
		if r&x.r != 0 {
			s = append(s, x.n)
		}
	}
	return strings.Join(s, "+")
}

// Booking is a recipient with a time.
type Booking struct {
	// Recipient is the recipient id, or [GroupRecipient].
	Recipient string
	// At is the slot, in Redis time: the request must not leave before At,
	// and should leave within Margin/2 after it.
	At time.Time
	// Why says why At is not the decision's Now (0 for a recipient in
	// [Decision.Sending]).
	Why Reason
	// Generation is the generation of the call that charged this slot: a
	// re-run gets the original generation back, so the follow-up id derived
	// from it stays the same.
	Generation int
}

// Decision is the outcome of [Limiter.Admit] or [Limiter.Readmit]. Every
// recipient of the request is in exactly one of Admitted, Booked, Late,
// Sending and Sent.
type Decision struct {
	// Op is the stamp of the (first) script call: Redis TIME in microseconds,
	// increasing in the order Redis ran the calls (strictly, under a test
	// clock; see the package documentation).
	Op int64
	// Now is the Redis clock of the (first) script call.
	Now time.Time
	// Spread is the peak spread offset of this message (see [PeakRule]).
	Spread time.Duration
	// Admitted may be sent now: charged at Now, or already charged (by an
	// earlier run) at a slot not more than Margin/2 before Now.
	Admitted []string
	// Booked are charged at a later slot: send them at At, pre-admitted
	// (a follow-up task). Includes bookings made by an earlier run.
	Booked []Booking
	// Late could get no slot at or before [Request.NotAfter]: nothing is
	// charged for them (an old charge that had to move is dropped); At is the
	// slot they would have got.
	Late []Booking
	// Sending are marked sending in the ledger: a request to them may have
	// left; never send them again unless the unknown-outcome policy says so
	// (then [Limiter.MarkFailed] and Admit again to charge the new attempt).
	Sending []Booking
	// Sent are marked sent: never send them again (G2).
	Sent []string
	// Repeated lists the recipients already in the message's ledger, whose
	// existing decision was returned without a new charge.
	Repeated []string
	// Moved lists the recipients whose stale charge (not started within
	// Margin/2) was moved, not doubled, to the slot now reported (G1).
	Moved []string
	// Calls is the number of script calls made (chunks of ChunkSize), all in
	// one round trip.
	Calls int
	// Superseded are recipients a newer message of the same collapse key
	// claimed: never send them this message (nothing is charged for them).
	Superseded []Supersession
	// Supersedes lists the older messages this call superseded, per
	// recipient (their charges were refunded; this message may have taken
	// their slot).
	Supersedes []Supersession
	// Digests are, per recipient, what this message collapsed (digest mode,
	// only recipients that superseded something).
	Digests map[string]Digest
}

// Supersession is one recipient of a message superseded by another message
// of the same collapse key.
type Supersession struct {
	Recipient string
	// By is the newer message (in [Decision.Superseded]) or the older one
	// (in [Decision.Supersedes]).
	By string
	// At is the slot the older message held (zero when it had none).
	At time.Time
}

// Digest is what a message collapsed for one recipient.
type Digest struct {
	// Count is how many older messages it superseded (transitively).
	Count int
	// FirstID is the oldest of them; FirstText and LastText are the oldest's
	// and the newest's texts (digest mode).
	FirstID, FirstText, LastText string
}

// Admit decides, atomically per chunk of ChunkSize recipients, for every
// recipient of r in order:
//
//   - already in the message's ledger: its existing decision is returned
//     (Repeated; nothing is charged), except a charge whose slot passed more
//     than Margin/2 ago without being marked sending, which is moved to a new
//     slot as by Readmit (Moved);
//   - otherwise, charged now if every window, the daily cap and the peak rule
//     allow it (Admitted), else booked at the earliest legal slot (Booked), or
//     reported Late when that slot is after NotAfter.
//
// It is safe to retry: a retry after an error returns the decisions already
// taken. See the package documentation for the rules.
func (l *Limiter) Admit(ctx context.Context, r Request) (*Decision, error) {
	return l.admit(ctx, r, false)
}

// Readmit moves, not doubles, the charge of every recipient of r whose ledger
// entry is admitted or booked with a slot that has come (≤ now) to the
// earliest legal slot from now on (G1: a request not started within Margin/2
// of its admission must be re-admitted before it leaves). Future bookings,
// sending and sent entries are returned as they are; recipients not yet in
// the ledger are admitted as by Admit. The worker calls it when it finds it
// could not start a send within Margin/2 of the slot (Admit does the same by
// itself for entries older than Margin/2).
func (l *Limiter) Readmit(ctx context.Context, r Request) (*Decision, error) {
	return l.admit(ctx, r, true)
}

type chunk struct {
	keys []string
	args []any
	rcpt []string // recipients, in order; "*" last when the chunk carries the group
}

func (l *Limiter) admit(ctx context.Context, r Request, readmit bool) (*Decision, error) {
	chunks, spread, err := l.chunks(r, readmit)
	if err != nil {
		return nil, err
	}
	replies, err := l.run(ctx, admitScript, chunks)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: admit %s: %w", r.MessageID, err)
	}
	return decide(r.MessageID, spread, chunks, replies)
}

// decide builds the Decision of the admission of message from the replies of
// its chunks.
func decide(message string, spread int64, chunks []chunk, replies [][]any) (*Decision, error) {
	d := &Decision{Spread: time.Duration(spread) * time.Millisecond, Calls: len(chunks)}
	for k, rep := range replies {
		if err := d.add(rep, chunks[k].rcpt, k == 0); err != nil {
			return nil, fmt.Errorf("ratelimit: admit %s: %w", message, err)
		}
	}
	return d, nil
}

// chunks builds the admission script calls of r (ChunkSize recipients each)
// and returns the message's spread in ms.
func (l *Limiter) chunks(r Request, readmit bool) ([]chunk, int64, error) {
	c, err := l.policy(r.App)
	if err != nil {
		return nil, 0, err
	}
	if err := checkRequest(r.Tenant, r.MessageID); err != nil {
		return nil, 0, err
	}
	if r.GroupCost < 0 {
		return nil, 0, fmt.Errorf("ratelimit: group cost %d: negative", r.GroupCost)
	}
	rcpts, err := dedupe(r.Recipients)
	if err != nil {
		return nil, 0, err
	}
	if len(rcpts) == 0 && r.GroupCost == 0 {
		return nil, 0, errors.New("ratelimit: nothing to admit: no recipients and no group cost")
	}
	if err := CheckCollapseKey(r.CollapseKey); err != nil {
		return nil, 0, err
	}
	spread := int64(0)
	if c.spread > 0 {
		spread = int64(fnv64a(r.MessageID) % uint64(c.spread))
	}
	// The arguments are built once and boxed once: every string put in an
	// interface allocates, and a single-recipient call is mostly fixed cost.
	moveAge := c.moveAgeArg
	if readmit {
		moveAge = argZero
	}
	notAfter := argZero
	if !r.NotAfter.IsZero() {
		notAfter = strconv.FormatInt(max(r.NotAfter.UnixMilli(), 1), 10)
	}
	urgent := argZero
	if r.Urgent {
		urgent = argOne
	}
	daily := c.dailyArg
	if d := l.daily(c, r.App, r.Tenant); d != c.pol.Daily {
		daily = strconv.Itoa(d)
	}
	gen := argZero
	if r.Generation != 0 {
		gen = strconv.Itoa(r.Generation)
	}
	spreadArg := argZero
	if spread != 0 {
		spreadArg = strconv.FormatInt(spread, 10)
	}
	tag := l.tag(r.App)
	ledger, clock, rprefix := tag+"l:"+r.MessageID, tag+"c", tag+"r:"+r.Tenant+":"
	head := [...]any{
		moveAge, l.clockArg(), urgent, gen, c.headroomArg,
		daily, tag + "d:" + r.Tenant + ":",
		c.guardArg, spreadArg, c.marksArg, c.ledgerTTLArg, notAfter,
		argZero, // group cost: first chunk only
		c.nwArg,
	}
	var plen any = strconv.Itoa(len(rprefix))
	var ext []any // collapse key and not-before: only when set
	if r.CollapseKey != "" || !r.NotBefore.IsZero() {
		ck, text := "", ""
		if r.CollapseKey != "" {
			ck = tag + "ck:" + r.Tenant + ":" + r.CollapseKey + ":"
			if r.Digest {
				text = "=" + truncate(r.DigestText, DigestTextMax)
			}
		}
		nb := "0"
		if !r.NotBefore.IsZero() {
			nb = strconv.FormatInt(r.NotBefore.UnixMilli(), 10)
		}
		ext = []any{ck, r.MessageID, text, nb, strconv.FormatInt(c.margin, 10)}
	}
	day := l.today()
	nchunks := max(1, (len(rcpts)+ChunkSize-1)/ChunkSize)
	chunks := make([]chunk, 0, nchunks)
	for i := 0; i == 0 || i < len(rcpts); i += ChunkSize {
		part := rcpts[i:min(i+ChunkSize, len(rcpts))]
		ch := chunk{keys: make([]string, 2, 2+len(part)), args: make([]any, len(head), len(head)+len(c.windowArgs)+3)}
		ch.keys[0], ch.keys[1] = ledger, clock
		copy(ch.args, head[:])
		if i == 0 && r.GroupCost > 0 {
			ch.args[12] = strconv.Itoa(r.GroupCost)
		}
		ch.args = append(ch.args, c.windowArgs...)
		ch.args = append(ch.args, plen, day.dateArg, day.numArg)
		if ext != nil {
			ch.args = append(ch.args, ext...)
		}
		for _, rc := range part {
			ch.keys = append(ch.keys, rprefix+rc)
		}
		ch.rcpt = part
		if i == 0 && r.GroupCost > 0 {
			ch.rcpt = append(part[:len(part):len(part)], GroupRecipient)
		}
		chunks = append(chunks, ch)
	}
	return chunks, spread, nil
}

// add merges the reply of one chunk into d.
func (d *Decision) add(rep []any, rcpt []string, first bool) error {
	if len(rep) < 2 || (len(rep)-2)%5 != 0 {
		return fmt.Errorf("malformed script reply of %d elements", len(rep))
	}
	op, now := toInt(rep[0]), toInt(rep[1])
	if first {
		d.Op, d.Now = op, time.UnixMilli(now)
	}
	nr := len(rcpt)
	group := nr > 0 && rcpt[nr-1] == GroupRecipient
	if group {
		nr--
	}
	res := make([]int, nr) // index into rep of the recipient's quintuple, 0 = fresh
	groupAt := -1
	for i := 2; i < len(rep); i += 5 {
		idx := int(toInt(rep[i]))
		if code := toInt(rep[i+1]); code >= 11 && code <= 13 { // collapse extras
			if idx < 1 || idx > nr {
				return fmt.Errorf("script reply names recipient %d of %d", idx, nr)
			}
			d.extra(rcpt[idx-1], code, rep[i+2:i+5])
			continue
		}
		switch {
		case idx == 0 && group:
			groupAt = i
		case idx >= 1 && idx <= nr:
			res[idx-1] = i
		default:
			return fmt.Errorf("script reply names recipient %d of %d", idx, nr)
		}
	}
	one := func(name string, i int) error {
		code, at, why, gen := toInt(rep[i+1]), toInt(rep[i+2]), Reason(toInt(rep[i+3]))&^reasonMoved, int(toInt(rep[i+4]))
		b := Booking{Recipient: name, At: time.UnixMilli(at), Why: why, Generation: gen}
		switch code {
		case 1:
			d.Booked = append(d.Booked, b)
		case 2:
			d.Admitted = append(d.Admitted, name)
			d.Repeated = append(d.Repeated, name)
		case 3:
			d.Booked = append(d.Booked, b)
			d.Repeated = append(d.Repeated, name)
		case 4:
			d.Admitted = append(d.Admitted, name)
			d.Moved = append(d.Moved, name)
		case 5:
			d.Booked = append(d.Booked, b)
			d.Moved = append(d.Moved, name)
		case 6:
			b.Why = 0
			d.Sending = append(d.Sending, b)
			d.Repeated = append(d.Repeated, name)
		case 7:
			d.Sent = append(d.Sent, name)
			d.Repeated = append(d.Repeated, name)
		case 8:
			d.Late = append(d.Late, b)
		case 9:
			d.Admitted = append(d.Admitted, name)
		case 10:
			by, _ := rep[i+2].(string)
			d.Superseded = append(d.Superseded, Supersession{Recipient: name, By: by})
		default:
			return fmt.Errorf("script reply code %d for %q", code, name)
		}
		return nil
	}
	for j, name := range rcpt[:nr] {
		if res[j] == 0 {
			d.Admitted = append(d.Admitted, name)
			continue
		}
		if err := one(name, res[j]); err != nil {
			return err
		}
	}
	if group {
		if groupAt < 0 {
			return errors.New("script reply lacks the group")
		}
		return one(GroupRecipient, groupAt)
	}
	return nil
}

// run runs script once per chunk: one call through EVALSHA (falling back to
// EVAL), or several in one pipeline of EVALSHA (loading the script and running
// the pipeline again if Redis does not know it: chunks that did run return
// their recorded decisions the second time).
func (l *Limiter) run(ctx context.Context, s *redis.Script, chunks []chunk) ([][]any, error) {
	out := make([][]any, len(chunks))
	if len(chunks) == 1 {
		v, err := s.Run(ctx, l.rdb, chunks[0].keys, chunks[0].args...).Slice()
		if err != nil {
			return nil, err
		}
		out[0] = v
		return out, nil
	}
	for attempt := 0; ; attempt++ {
		cmds := make([]*redis.Cmd, len(chunks))
		_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, ch := range chunks {
				cmds[i] = s.EvalSha(ctx, p, ch.keys, ch.args...)
			}
			return nil
		})
		if err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := s.Load(ctx, l.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		for i, c := range cmds {
			v, err := c.Slice()
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func checkRequest(tenant, msg string) error {
	if msg == "" {
		return errors.New("ratelimit: empty message id")
	}
	if strings.Contains(tenant, ":") {
		return fmt.Errorf("ratelimit: tenant %q: must not contain ':'", tenant)
	}
	return nil
}

// fnv64a is the FNV-1a hash of s.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// dedupe returns rcpts without duplicates, in first-seen order, and rejects
// invalid ids.
func dedupe(rcpts []string) ([]string, error) {
	if len(rcpts) <= 8 { // no map for the usual short list
		for i, r := range rcpts {
			if r == "" || r == GroupRecipient {
				return nil, fmt.Errorf("ratelimit: invalid recipient id %q", r)
			}
			if slices.Contains(rcpts[:i], r) {
				return dedupeMap(rcpts)
			}
		}
		return rcpts, nil
	}
	return dedupeMap(rcpts)
}

func dedupeMap(rcpts []string) ([]string, error) {
	seen := make(map[string]struct{}, len(rcpts))
	out := make([]string, 0, len(rcpts))
	for _, r := range rcpts {
		if r == "" || r == GroupRecipient {
			return nil, fmt.Errorf("ratelimit: invalid recipient id %q", r)
		}
		if _, ok := seen[r]; ok {
			continue
		}
		seen[r] = struct{}{}
		out = append(out, r)
	}
	return out, nil
}

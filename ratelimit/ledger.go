package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is the state of a (message, recipient) ledger entry.
type State byte

// Ledger states. An entry moves admitted/booked → sending → sent; a failed
// attempt (sending → failed) is charged anew by the next Admit.
const (
	// StateAdmitted: charged at a slot that was "now" when decided.
	StateAdmitted State = 'A'
	// StateBooked: charged at a future slot (a follow-up sends it).
	StateBooked State = 'B'
	// StateSending: the request may have left ([Limiter.MarkSending]).
	StateSending State = 'S'
	// StateSent: the provider took it ([Limiter.MarkSent]); never sent again.
	StateSent State = 'D'
	// StateFailed: an attempt left and failed so that it must be sent again
	// ([Limiter.MarkFailed]); its charge stays, the next Admit charges the
	// new attempt.
	StateFailed State = 'F'
	// StateSuperseded: a newer message of the same collapse key claimed the
	// recipient before this one was sent to it; its charge (if any) was
	// refunded, and it is never sent ([Entry.SupersededBy] names the newer
	// message).
	StateSuperseded State = 'C'
)

func (s State) String() string {
	switch s {
	case StateAdmitted:
		return "admitted"
	case StateBooked:
		return "booked"
	case StateSending:
		return "sending"
	case StateSent:
		return "sent"
	case StateFailed:
		return "failed"
	case StateSuperseded:
		return "superseded"
	case 0:
		return "none"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Ref names ledger entries: recipients (or [GroupRecipient]) of one message of
// one (app, tenant).
type Ref struct {
	App, Tenant, MessageID string
	Recipients             []string
}

// Refusal is a recipient a transition did not apply to.
type Refusal struct {
	Recipient string
	// Why the transition was refused.
	Why Refused
	// State and At are the entry as found (State 0 when there is none).
	State State
	At    time.Time
}

// Refused says why a ledger transition did not apply.
type Refused int

// Reasons of a [Refusal].
const (
	// RefusedNotFound: the message has no ledger entry for the recipient.
	RefusedNotFound Refused = 1
	// RefusedEarly: MarkSending before the booked slot (At).
	RefusedEarly Refused = 2
	// RefusedStale: MarkSending more than Margin/2 after the slot: call
	// [Limiter.Readmit] (or Admit) first, then send at the new slot.
	RefusedStale Refused = 3
	// RefusedState: not allowed from the entry's state (e.g. releasing a
	// recipient that may already have been sent to).
	RefusedState Refused = 4
)

func (r Refused) String() string {
	switch r {
	case RefusedNotFound:
		return "not found"
	case RefusedEarly:
		return "before its slot"
	case RefusedStale:
		return "stale: readmit"
	case RefusedState:
		return "not allowed in this state"
	}
	return "refused(" + strconv.Itoa(int(r)) + ")"
}

// Transition is the outcome of a ledger transition.
type Transition struct {
	// Op and Now are the stamp and Redis clock of the (first) call.
	Op  int64
	Now time.Time
	// Done lists the recipients the transition applied to (including ones
	// already in the target state, for MarkSent and MarkFailed).
	Done []string
	// Refused lists the others.
	Refused []Refusal
}

// MarkSending marks admitted or booked recipients sending, just before the
// request leaves. It refuses a recipient whose slot has not come
// (RefusedEarly), whose slot passed more than Margin/2 ago (RefusedStale:
// Readmit it first), or that is already sending, sent or failed
// (RefusedState: a crash re-run finds its own attempt here).
func (l *Limiter) MarkSending(ctx context.Context, r Ref) (*Transition, error) {
	return l.mark(ctx, r, "S")
}

// MarkSent marks recipients sent (from admitted, booked or sending): the
// ledger then never lets the message be charged or sent to them again.
func (l *Limiter) MarkSent(ctx context.Context, r Ref) (*Transition, error) {
	return l.mark(ctx, r, "D")
}

// MarkFailed marks sending recipients failed: the attempt left but must be
// sent again (a retryable provider error, or a resend after an unknown
// outcome). Its charge stays (it may have arrived); the next Admit charges the
// new attempt as a new arrival.
func (l *Limiter) MarkFailed(ctx context.Context, r Ref) (*Transition, error) {
	return l.mark(ctx, r, "F")
}

// MarkNotSent refunds recipients whose request certainly never reached the
// provider (it refused before applying it: throttled, busy, broken credentials,
// a bad payload): from admitted, booked or sending, the charge (its arrival and
// daily person-time) is removed and the entry dropped, so the next Admit charges
// the next attempt afresh. Sent and failed recipients are refused (RefusedState):
// a request to them may have arrived.
func (l *Limiter) MarkNotSent(ctx context.Context, r Ref) (*Transition, error) {
	return l.mark(ctx, r, "N")
}

// Release cancels: for admitted or booked recipients it drops the ledger entry
// and its charge (the arrival and its daily person-time); for failed ones it
// drops the ledger entry only. Sending and sent recipients are refused: their
// request may have arrived. Releasing a recipient without an entry reports
// RefusedNotFound and changes nothing.
func (l *Limiter) Release(ctx context.Context, r Ref) (*Transition, error) {
	return l.mark(ctx, r, "X")
}

func (l *Limiter) mark(ctx context.Context, r Ref, action string) (*Transition, error) {
	chunks, err := l.markChunks(r, action, ChunkSize)
	if err != nil || len(chunks) == 0 {
		return &Transition{}, err
	}
	replies, err := l.run(ctx, markScript, chunks)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: ledger %s: %w", r.MessageID, err)
	}
	return transition(r.MessageID, chunks, replies)
}

// markChunks builds markScript's calls for r, size recipients per call.
func (l *Limiter) markChunks(r Ref, action string, size int) ([]chunk, error) {
	c, err := l.policy(r.App)
	if err != nil {
		return nil, err
	}
	if err := checkRequest(r.Tenant, r.MessageID); err != nil {
		return nil, err
	}
	rcpts := r.Recipients
	if len(rcpts) == 1 { // the worker's usual call: nothing to deduplicate
		if rcpts[0] == "" {
			return nil, errors.New("ratelimit: empty recipient id")
		}
	} else {
		seen := make(map[string]struct{}, len(r.Recipients))
		rcpts = make([]string, 0, len(r.Recipients))
		for _, rc := range r.Recipients {
			if rc == "" {
				return nil, errors.New("ratelimit: empty recipient id")
			}
			if _, ok := seen[rc]; !ok {
				seen[rc] = struct{}{}
				rcpts = append(rcpts, rc)
			}
		}
	}
	daily := argZero
	if l.daily(c, r.App, r.Tenant) > 0 {
		daily = argOne
	}
	ledger, clock := l.ledgerKey(r.App, r.MessageID), l.clockKey(r.App)
	var maxAge, prefix any = c.margin / 2, l.dailyPrefix(r.App, r.Tenant)
	chunks := make([]chunk, 0, (len(rcpts)+size-1)/size)
	for i := 0; i < len(rcpts); i += size {
		part := rcpts[i:min(i+size, len(rcpts))]
		ch := chunk{rcpt: part, keys: make([]string, 2, 2+len(part))}
		ch.keys[0], ch.keys[1] = ledger, clock
		ch.args = make([]any, 5, 5+len(part))
		ch.args[0], ch.args[1], ch.args[2], ch.args[3], ch.args[4] = action, l.clockArg(), maxAge, prefix, daily
		for _, rc := range part {
			if rc == GroupRecipient {
				ch.keys = append(ch.keys, clock) // no arrival key; same slot
			} else {
				ch.keys = append(ch.keys, l.arrivalKey(r.App, r.Tenant, rc))
			}
			ch.args = append(ch.args, rc)
		}
		chunks = append(chunks, ch)
	}
	return chunks, nil
}

// transition decodes markScript's replies to chunks.
func transition(msg string, chunks []chunk, replies [][]any) (*Transition, error) {
	t := &Transition{}
	for k, rep := range replies {
		if len(rep) != 2+3*len(chunks[k].rcpt) {
			return nil, fmt.Errorf("ratelimit: ledger %s: malformed script reply of %d elements", msg, len(rep))
		}
		if k == 0 {
			t.Op, t.Now = toInt(rep[0]), time.UnixMilli(toInt(rep[1]))
		}
		for j, rc := range chunks[k].rcpt {
			code, st, at := toInt(rep[2+3*j]), rep[3+3*j], toInt(rep[4+3*j])
			if code == 0 {
				t.Done = append(t.Done, rc)
				continue
			}
			f := Refusal{Recipient: rc, Why: Refused(code)}
			if s, _ := st.(string); s != "" {
				f.State, f.At = State(s[0]), time.UnixMilli(at)
			}
			t.Refused = append(t.Refused, f)
		}
	}
	return t, nil
}

// LedgerCall is one ledger transition of a message's recipients prepared to
// run inside another package's script, through [MarkFuncLua]: ledgerMark(K, A)
// with K = Keys and A = Args. All its keys carry the app's hash tag. A call
// covers all of the Ref's recipients at once (a provider request's, ≤ 1000),
// not chunks of [ChunkSize].
type LedgerCall struct {
	Keys []string
	Args []any
	msg  string
	ch   chunk
	// atomic: a refusal means nothing was applied (Transition.Done empty).
	atomic bool
}

// PrepareMarkSending prepares [Limiter.MarkSending] of r's recipients as all
// or nothing: when one is refused, none is marked (Transition.Done is empty).
// It returns nil when r has no recipients.
func (l *Limiter) PrepareMarkSending(r Ref) (*LedgerCall, error) {
	c, err := l.prepare(r, "s")
	if c != nil {
		c.atomic = true
	}
	return c, err
}

// PrepareMarkSent prepares [Limiter.MarkSent]; nil when r has no recipients.
func (l *Limiter) PrepareMarkSent(r Ref) (*LedgerCall, error) { return l.prepare(r, "D") }

// PrepareMarkFailed prepares [Limiter.MarkFailed]; nil when r has no recipients.
func (l *Limiter) PrepareMarkFailed(r Ref) (*LedgerCall, error) { return l.prepare(r, "F") }

// PrepareMarkNotSent prepares [Limiter.MarkNotSent]; nil when r has no recipients.
func (l *Limiter) PrepareMarkNotSent(r Ref) (*LedgerCall, error) { return l.prepare(r, "N") }

func (l *Limiter) prepare(r Ref, action string) (*LedgerCall, error) {
	chunks, err := l.markChunks(r, action, max(len(r.Recipients), 1))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: ledger %s: %w", r.MessageID, err)
	}
	if len(chunks) == 0 {
		return nil, nil
	}
	return &LedgerCall{Keys: chunks[0].keys, Args: chunks[0].args, msg: r.MessageID, ch: chunks[0]}, nil
}

// Transition decodes the reply of ledgerMark(K, A) for this call.
func (c *LedgerCall) Transition(reply any) (*Transition, error) {
	rep, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("ratelimit: ledger %s: script reply of type %T", c.msg, reply)
	}
	t, err := transition(c.msg, []chunk{c.ch}, [][]any{rep})
	if err == nil && c.atomic && len(t.Refused) > 0 {
		t.Done = nil
	}
	return t, err
}

// Entry is one (message, recipient) ledger entry.
type Entry struct {
	State State
	// At is the slot charged (for the group: when its cost was charged).
	At time.Time
	// Why says why At was not the time of the decision.
	Why Reason
	// Generation is the generation of the call that charged At.
	Generation int
	// SupersededBy is the newer message of a superseded entry.
	SupersededBy string
}

// Ledger returns the ledger of a message: recipient (or [GroupRecipient]) →
// entry. Empty when the message has none (never admitted, or expired).
func (l *Limiter) Ledger(ctx context.Context, app, messageID string) (map[string]Entry, error) {
	if err := checkApp(app); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	m, err := l.rdb.HGetAll(ctx, l.ledgerKey(app, messageID)).Result()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: ledger %s: %w", messageID, err)
	}
	out := make(map[string]Entry, len(m))
	for k, v := range m {
		if k == "" {
			continue // the header of a big ledger (see admitLua), not an entry
		}
		e, err := parseEntry(v)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: ledger %s, %q: %w", messageID, k, err)
		}
		out[k] = e
	}
	return out, nil
}

// parseEntry parses "<state><at>,<member>,<gen>,<why>".
func parseEntry(v string) (Entry, error) {
	f := strings.Split(v, ",")
	by := ""
	if len(f) == 5 && v[0] == byte(StateSuperseded) {
		by, f = f[4], f[:4]
	}
	if len(v) < 2 || len(f) != 4 {
		return Entry{}, fmt.Errorf("malformed entry %q", v)
	}
	at, err1 := strconv.ParseInt(f[0][1:], 10, 64)
	gen, err2 := strconv.Atoi(f[2])
	why, err3 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return Entry{}, fmt.Errorf("malformed entry %q: %w", v, err)
	}
	return Entry{State: State(v[0]), At: time.UnixMilli(at), Why: Reason(why) &^ reasonMoved, Generation: gen, SupersededBy: by}, nil
}

// Arrivals returns the charged slots of one recipient that still count
// (booked slots included), oldest first. For status pages and tests.
func (l *Limiter) Arrivals(ctx context.Context, app, tenant, recipient string) ([]time.Time, error) {
	if err := checkApp(app); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	zs, err := l.rdb.ZRangeWithScores(ctx, l.arrivalKey(app, tenant, recipient), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: arrivals of %s: %w", recipient, err)
	}
	out := make([]time.Time, len(zs))
	for i, z := range zs {
		out[i] = time.UnixMilli(int64(z.Score))
	}
	return out, nil
}

// DailyUsed returns the person-times charged to (app, tenant) on the
// Asia/Shanghai calendar day holding t (0 when the app has no daily cap).
func (l *Limiter) DailyUsed(ctx context.Context, app, tenant string, t time.Time) (int, error) {
	if err := checkApp(app); err != nil {
		return 0, fmt.Errorf("ratelimit: %w", err)
	}
	n, err := l.rdb.Get(ctx, l.dailyPrefix(app, tenant)+t.In(shanghai).Format("20060102")).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ratelimit: daily of %s/%s: %w", app, tenant, err)
	}
	return n, nil
}

// shanghai is Asia/Shanghai: UTC+8 all year (no DST since 1991), fixed so that
// no tzdata is needed.
var shanghai = time.FixedZone("Asia/Shanghai", 8*60*60)

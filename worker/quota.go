package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/quota"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// quotaPolicy turns an app's config into its ratelimit policy (shared with
// the producer's quota authority).
func quotaPolicy(app config.App, pk config.Peak, messageTTL time.Duration) ratelimit.Policy {
	return quota.Policy(app, pk, messageTTL)
}

// quotaKey is a recipient's id as the quota knows it: normalised by the
// provider (e.g. lower-cased where the provider treats ids as
// case-insensitive).
func quotaKey(app config.App, id string) string {
	if app.Block != nil {
		return app.Block.NormalizeRecipient(id)
	}
	return id
}

// tenantCaps gives the quota each tenant's daily cap: its seats times the
// provider's person-times per seat (providers.DefaultLimits.PerSeatDaily),
// cached for a minute.
type tenantCaps struct {
	stores  map[string]*tenant.Store // by app, multi-tenant apps with a per-seat cap only
	perSeat map[string]int           // by app
	mu      sync.Mutex
	cache   map[string]tenantCap
}

type tenantCap struct {
	cap int
	at  time.Time
}

// dailyCap is ratelimit.Options.DailyCap: ≤ 0 keeps the app's configured cap.
func (c *tenantCaps) dailyCap(app, corp string) int {
	ts, ok := c.stores[app]
	if !ok || corp == "" {
		return 0
	}
	key := app + "\x00" + corp
	c.mu.Lock()
	e, ok := c.cache[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < time.Minute {
		return e.cap
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n := 0
	if t, err := ts.Get(ctx, corp); err == nil && t.Seats > 0 {
		n = t.Seats * c.perSeat[app]
	} else if err != nil && ok {
		n = e.cap // keep the last known cap through a blip
	}
	c.mu.Lock()
	c.cache[key] = tenantCap{cap: n, at: time.Now()}
	c.mu.Unlock()
	return n
}

// admitNew is step 5 for a generation not decided yet: one atomic decision per
// chunk of recipients charges those that may go now and books the others at their
// earliest legal slot (sent by a follow-up task). It returns the recipients to
// render now and the decision's time.
func (w *Worker) admitNew(ctx context.Context, rec *record.Record, j *job.Send) (providers.Recipients, time.Time, map[string]ratelimit.Digest, error) {
	to := j.Message.To
	if !w.quotaOn(j.Message.App) { // nothing to enforce: everybody now
		rec.Generations = j.Generation + 1
		return to, w.now(), nil, nil
	}
	req, orig := w.admission(j)
	d, err := w.quota.Admit(ctx, req)
	if err != nil {
		return providers.Recipients{}, time.Time{}, nil, fmt.Errorf("message %s: quota: %w", j.ID, err)
	}
	w.recordSuperseded(rec, d, orig)
	for _, b := range d.Booked {
		w.metrics.QuotaBooked(j.Message.App, b.At.Sub(d.Now))
	}
	w.metrics.QuotaLate(j.Message.App, len(d.Late))
	name := func(k string) string {
		if k == ratelimit.GroupRecipient {
			return k
		}
		return orig[k]
	}
	var now providers.Recipients
	for _, k := range d.Admitted {
		if k == ratelimit.GroupRecipient {
			now.Depts, now.Tags, now.Chats, now.All = to.Depts, to.Tags, to.Chats, to.All
			continue
		}
		now.Users = append(now.Users, orig[k])
	}
	// This generation's bookings are decided again now: drop the old entries.
	rec.Booked = slices.DeleteFunc(rec.Booked, func(b record.Booking) bool { return b.Generation <= j.Generation })
	for _, b := range d.Booked {
		rec.Booked = append(rec.Booked, record.Booking{Recipient: name(b.Recipient), At: b.At, Reason: b.Why.String(), Generation: j.Generation + 1})
	}
	for _, b := range d.Late {
		rec.Late = append(rec.Late, record.Booking{Recipient: name(b.Recipient), At: b.At, Reason: b.Why.String(), Generation: j.Generation})
	}
	rec.Generations = j.Generation + 1
	digests := map[string]ratelimit.Digest{}
	for k, g := range d.Digests {
		digests[orig[k]] = g
	}
	return now, d.Now, digests, nil
}

// admission is the quota request of generation j's recipients, and the map
// of quota key → id as the producer spelled it.
func (w *Worker) admission(j *job.Send) (ratelimit.Request, map[string]string) {
	app := w.cfg.Apps[j.Message.App]
	to := j.Message.To
	orig := map[string]string{}
	keys := make([]string, 0, len(to.Users))
	for _, u := range to.Users {
		k := quotaKey(app, u)
		if _, dup := orig[k]; !dup {
			orig[k] = u
			keys = append(keys, k)
		}
	}
	groups := len(to.Depts) + len(to.Tags) + len(to.Chats)
	if to.All {
		groups++
	}
	req := ratelimit.Request{
		App: j.Message.App, Tenant: corpOf(app, j.Message.Tenant), MessageID: j.ID, Generation: j.Generation,
		Recipients: keys, GroupCost: groups * app.Limits.GroupSize, Urgent: j.Urgent, NotAfter: j.ExpiresAt,
	}
	collapseRequest(&req, j)
	return req, orig
}

// partKeys are the quota keys of a part's users.
func partKeys(app config.App, p *record.Part) []string {
	keys := make([]string, len(p.To.Users))
	for i, u := range p.To.Users {
		keys[i] = quotaKey(app, u)
	}
	return keys
}

func (w *Worker) ref(j *job.Send, p *record.Part) ratelimit.Ref {
	app := w.cfg.Apps[j.Message.App]
	return ratelimit.Ref{App: j.Message.App, Tenant: corpOf(app, j.Message.Tenant), MessageID: j.ID, Recipients: partKeys(app, p)}
}

// errPartDone says readmitPart found the part needs no request: its recipients
// were all sent already, or none of them can be sent before the expiry.
var errPartDone = errors.New("part needs no request")

// readmitPart makes sure a part's users are admitted now before its request leaves:
// their charge may have gone stale (a deferral after admission), or an earlier
// attempt failed and the next one must be charged as a new arrival. The part's
// bytes are frozen, so the part goes as a whole: if some users are booked later,
// the run waits for the latest of their slots.
func (w *Worker) readmitPart(ctx context.Context, j *job.Send, p *record.Part) error {
	ref := w.ref(j, p)
	if len(ref.Recipients) == 0 {
		return nil
	}
	req := ratelimit.Request{App: ref.App, Tenant: ref.Tenant, MessageID: j.ID, Generation: p.Generation,
		Recipients: ref.Recipients, Urgent: j.Urgent, NotAfter: j.ExpiresAt}
	collapseRequest(&req, j)
	d, err := w.quota.Admit(ctx, req)
	if err != nil {
		return fmt.Errorf("message %s: quota: %w", j.ID, err)
	}
	if len(d.Superseded) > 0 { // never for a rendered part (see ratelimit: moved charges stay), but never send it
		if len(d.Superseded) == len(ref.Recipients) {
			p.State, p.Error = record.PartSuperseded, "superseded by "+d.Superseded[0].By
			return errPartDone
		}
		return fmt.Errorf("message %s: part %d: %d of its recipients were superseded after it was rendered", j.ID, p.Index, len(d.Superseded))
	}
	if len(d.Sending) > 0 { // an attempt left (or may have): the next one is a new arrival
		if _, err := w.quota.MarkFailed(ctx, ratelimit.Ref{App: ref.App, Tenant: ref.Tenant, MessageID: j.ID, Recipients: recipientsOf(d.Sending)}); err != nil {
			return fmt.Errorf("message %s: quota: %w", j.ID, err)
		}
		if d, err = w.quota.Admit(ctx, req); err != nil {
			return fmt.Errorf("message %s: quota: %w", j.ID, err)
		}
	}
	for _, b := range d.Booked {
		w.metrics.QuotaBooked(j.Message.App, b.At.Sub(d.Now))
	}
	w.metrics.QuotaLate(j.Message.App, len(d.Late))
	switch {
	case len(d.Sent) == len(ref.Recipients):
		p.State, p.Error = record.PartAccepted, "already sent by an earlier run (its answer was not recorded)"
		return errPartDone
	case len(d.Late) > 0:
		p.State, p.Error = record.PartExpired, fmt.Sprintf("%d recipients got no quota slot before the message expired", len(d.Late))
		return errPartDone
	case len(d.Booked) > 0:
		last := slices.MaxFunc(d.Booked, func(a, b ratelimit.Booking) int { return a.At.Compare(b.At) })
		return Defer(last.At.Sub(d.Now), fmt.Sprintf("quota: %d recipients of part %d booked until %s (%s)",
			len(d.Booked), p.Index, last.At.Format(time.RFC3339Nano), last.Why))
	}
	return nil
}

func recipientsOf(bs []ratelimit.Booking) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Recipient
	}
	return out
}

// settleLedger records a request's outcome in the quota ledger: sent; failed when
// it may have arrived (its charge stays, the next attempt is charged anew); or not
// sent when the provider certainly refused it before applying it (the charge is
// refunded, so an outage does not eat the recipients' windows).
func (w *Worker) settleLedger(ctx context.Context, j *job.Send, p *record.Part, sendErr error) error {
	ref := w.ref(j, p)
	if len(ref.Recipients) == 0 || !w.quotaOn(j.Message.App) {
		return nil
	}
	var err error
	switch {
	case sendErr == nil:
		_, err = w.quota.MarkSent(ctx, ref)
	case providers.ClassOf(sendErr) == providers.ClassUnknownOutcome:
		_, err = w.quota.MarkFailed(ctx, ref)
	default:
		_, err = w.quota.MarkNotSent(ctx, ref)
	}
	if err != nil {
		return fmt.Errorf("message %s: quota ledger: %w", j.ID, err)
	}
	return nil
}

// enqueueFollowUp enqueues the task that sends the recipients booked for the next
// generation, at the earliest of their slots. Its id is deterministic, so doing it
// again (a re-run) is harmless.
func (w *Worker) enqueueFollowUp(ctx context.Context, rec *record.Record, j *job.Send) error {
	next := j.Generation + 1
	fj := *j
	fj.Generation = next
	fj.Message.To = providers.Recipients{}
	var first time.Time
	for _, b := range rec.Booked {
		if b.Generation != next {
			continue
		}
		if first.IsZero() || b.At.Before(first) {
			first = b.At
		}
		if b.Recipient == ratelimit.GroupRecipient {
			to := j.Message.To
			fj.Message.To.Depts, fj.Message.To.Tags, fj.Message.To.Chats, fj.Message.To.All = to.Depts, to.Tags, to.Chats, to.All
			continue
		}
		fj.Message.To.Users = append(fj.Message.To.Users, b.Recipient)
	}
	if first.IsZero() {
		return nil
	}
	fj.NotBefore = first
	payload, err := fj.Marshal()
	if err != nil {
		return err
	}
	_, err = w.enqueuer.EnqueueContext(ctx, asynq.NewTask(job.TypeSend, payload), asynq.TaskID(fj.TaskID()), asynq.Queue(fj.Queue),
		asynq.MaxRetry(job.MaxRetry), asynq.Retention(job.Retention), asynq.ProcessAt(first))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("message %s: enqueue follow-up %d: %w", j.ID, next, err)
	}
	return nil
}

// MetricsKey is the Redis hash of an app's counters. Field "late_arrivals" counts
// requests whose answer came more than limits.margin after their admission: they
// may have reached the provider after the window the quota reserved for them (G1).
// It is an upper bound — the answer comes after the arrival.
func MetricsKey(app string) string { return "msgd:{" + app + "}:metrics" }

func (w *Worker) countLateArrival(ctx context.Context, app string, admitted time.Time) {
	margin := w.cfg.Apps[app].Limits.Margin
	if late := w.now().Sub(admitted); late > margin {
		w.metrics.LateArrival(app)
		if err := w.rdb.HIncrBy(context.WithoutCancel(ctx), MetricsKey(app), "late_arrivals", 1).Err(); err != nil {
			w.log.Warn("late arrival not counted", "app", app, "err", err)
		}
		w.log.Warn("a request may have reached the provider after its quota window", "app", app, "after", late, "margin", margin)
	}
}

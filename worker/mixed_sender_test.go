package worker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/quota"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// The mixed-sender run: msgdispatch sends mixedOwn messages to both users at
// once, while an outside sender — a cron job of the same app calling WeCom
// directly — sends mixedOutside messages to each, at the app's full legal
// rate on its own (3 every 1.4 s: the window and the margin). Every mixedReleaseEvery-th reservation is
// released instead of used.
const (
	mixedOwn          = 6
	mixedOutside      = 6
	mixedReleaseEvery = 4
)

var mixedUsers = []string{"zhangsan", "lisi"}

// mixedMargin is the app's margin in the mixed run.
const mixedMargin = 400 * time.Millisecond

// outsideSender is a sender outside msgdispatch: its own gettoken and
// message/send over HTTP to the simulator.
type outsideSender struct {
	b       *testBundle
	token   string
	sent    atomic.Int64 // messages it posted (one goroutine per user)
	release atomic.Int64 // reservations it released instead of using
	late    atomic.Int64 // reservations it gave back for missing their slot
}

func (o *outsideSender) getToken() {
	o.b.t.Helper()
	resp, err := http.Get(o.b.simURL + "/cgi-bin/gettoken?" + url.Values{"corpid": {testCorp}, "corpsecret": {testSecret}}.Encode())
	if err != nil {
		o.b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		ErrCode     int    `json:"errcode"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ErrCode != 0 || r.AccessToken == "" {
		o.b.t.Fatalf("outside sender: gettoken: %+v %v", r, err)
	}
	o.token = r.AccessToken
}

// post sends text to user with message/send; WeCom answers 0 even when it
// drops the message (the simulator records the drop).
func (o *outsideSender) post(user, text string) error {
	body, _ := json.Marshal(map[string]any{"touser": user, "msgtype": "text", "agentid": testAgent, "text": map[string]string{"content": text}})
	resp, err := http.Post(o.b.simURL+"/cgi-bin/message/send?access_token="+url.QueryEscape(o.token), "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("outside sender: send to %s: %w", user, err)
	}
	defer resp.Body.Close()
	var r struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ErrCode != 0 {
		return fmt.Errorf("outside sender: send to %s: %+v %v", user, r, err)
	}
	o.sent.Add(1)
	return nil
}

// run sends mixedOutside messages to user, k-th not before start + (k/3) ×
// 1.4 s (the app's rate on its own). With reserve, it asks producer.Reserve
// before each, sends at once or waits until the slot, and releases every
// mixedReleaseEvery-th reservation instead of using it. A reservation whose
// slot it missed by more than half the margin (a slow machine) it releases
// and asks again, as the worker moves such a charge: the window counted the
// charge at its slot, not when it went.
func (o *outsideSender) run(user string, start time.Time, reserve bool) error {
	for k := range mixedOutside {
		at := start.Add(time.Duration(k/3) * (time.Second + mixedMargin))
		time.Sleep(time.Until(at)) // the sender's own schedule, not synchronisation
		if !reserve {
			if err := o.post(user, fmt.Sprintf("outside %s %d", user, k)); err != nil {
				return err
			}
			continue
		}
		release := (k+1)%mixedReleaseEvery == 0
		for {
			asked := time.Now()
			r, err := o.b.producer.Reserve(o.b.ctx, testApp, "", []string{user}, at, false)
			if err != nil {
				return err
			}
			slot, ok := r.Slots[user]
			if !ok && len(r.Now) != 1 {
				return fmt.Errorf("outside sender: reservation %+v: neither now nor a slot", r)
			}
			if !ok {
				slot = asked
			}
			time.Sleep(time.Until(slot)) // the slot WeCom's window has room at
			late := time.Since(slot) > mixedMargin/2
			if release || late {
				if done, err := o.b.producer.Release(o.b.ctx, testApp, r.ID); err != nil || len(done) != 1 {
					return fmt.Errorf("outside sender: release %s: %v %v", r.ID, done, err)
				}
			}
			if release {
				o.release.Add(1)
				break
			}
			if late { // as the worker does: a slot missed by more than margin/2 is given back and asked again
				o.late.Add(1)
				continue
			}
			if err := o.post(user, fmt.Sprintf("outside %s %d", user, k)); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// simPeak is the most deliveries within any interval of length w (the
// simulator's receipt times).
func simPeak(ds []wecomsim.Delivery, w time.Duration) int {
	at := make([]time.Time, len(ds))
	for i, d := range ds {
		at[i] = d.At
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	best, lo := 0, 0
	for hi := range at {
		for at[hi].Sub(at[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// mixedRun runs msgdispatch's traffic and the outside sender's together and
// returns the bundle, the outside sender and when the run started.
func mixedRun(t *testing.T, reserve bool) (*testBundle, *outsideSender, time.Time) {
	b := setup(t, func(o *setupOpts) {
		withStormQuota(o)
		// a wider margin than the storm's: on a loaded test machine (the
		// whole suite, or -race) a request has been seen to reach the
		// simulator 600 ms after its slot, and the margin is what covers it
		o.appYAML = fmt.Sprintf("    limits: {per_recipient: [{count: 3, window: 1s}], margin: %s}", mixedMargin)
	})
	o := &outsideSender{b: b}
	o.getToken()
	start := time.Now()
	var ids []string
	for i := range mixedOwn {
		id, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: mixedUsers},
			Kind: providers.KindText, Text: fmt.Sprintf("msgdispatch %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(mixedUsers))
	for _, u := range mixedUsers {
		wg.Go(func() { errs <- o.run(u, start, reserve) })
	}
	recs := b.waitAllFinished(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for id, rec := range recs {
		if rec.State != "accepted" {
			t.Errorf("%s: state %s (%s)", id, rec.State, rec.Reason)
		}
	}
	return b, o, start
}

// msgdispatch traffic and an outside sender of the same app, both at full
// rate to the same users. With the outside sender reserving through the
// quota authority, WeCom's receipt-time audit finds no window exceeded and
// drops nothing, and `quota audit` reports the peaks and counts WeCom saw;
// without the reservations, the same traffic is dropped.
func TestMixedSenders(t *testing.T) {
	t.Parallel()
	t.Run("reserved", func(t *testing.T) {
		t.Parallel()
		b, o, start := mixedRun(t, true)
		end := time.Now().Add(time.Second)
		if d := b.sim.Drops(); len(d) != 0 {
			t.Errorf("WeCom dropped %d messages", len(d))
			b.dumpMixed(start)
		}
		rep, err := quota.Audit(b.ctx, b.rdb, b.cfg, testApp, start.Add(-time.Second), end, nil)
		if err != nil {
			t.Fatal(err)
		}
		byUser := map[string]int{}
		for i, r := range rep.Recipients {
			byUser[r.Recipient] = i
		}
		for _, u := range mixedUsers {
			ds := b.sim.Deliveries(u)
			if over := overLimit(ds, stormLimits); over != "" {
				t.Errorf("%s: %s", u, over)
			}
			want := mixedOwn + mixedOutside - mixedOutside/mixedReleaseEvery
			if len(ds) != want {
				t.Errorf("%s received %d, want %d", u, len(ds), want)
			}
			peak := simPeak(ds, time.Second)
			i, ok := byUser[u]
			if !ok {
				t.Errorf("quota audit: no %s in %+v", u, rep.Recipients)
				continue
			}
			r := rep.Recipients[i]
			if r.Arrivals != len(ds) || r.Peaks[0].Peak != peak || r.Exceeded {
				t.Errorf("quota audit of %s: %d arrivals, peak %d (exceeded %v); WeCom saw %d, peak %d",
					u, r.Arrivals, r.Peaks[0].Peak, r.Exceeded, len(ds), peak)
			}
			t.Logf("%s: WeCom received %d (peak %d per 1s), quota audit %d arrivals (peak %d, states %v)", u, len(ds), peak, r.Arrivals, r.Peaks[0].Peak, r.States)
		}
		t.Logf("reserved: outside sender posted %d, released %d, re-reserved %d late; msgdispatch %d to each of %d users; %s, 0 drops", o.sent.Load(), o.release.Load(), o.late.Load(), mixedOwn, len(mixedUsers), time.Since(start).Round(100*time.Millisecond))
	})
	t.Run("unreserved", func(t *testing.T) {
		t.Parallel()
		b, o, start := mixedRun(t, false)
		drops := b.sim.Drops()
		if len(drops) == 0 {
			t.Errorf("no drops: the outside sender and msgdispatch together stayed within WeCom's limit without reservations, so the reserved run proves nothing")
		}
		t.Logf("unreserved: outside sender posted %d; msgdispatch %d to each of %d users; WeCom dropped %d in %s", o.sent.Load(), mixedOwn, len(mixedUsers), len(drops), time.Since(start).Round(100*time.Millisecond))
	})
}

// dumpMixed logs the run's requests as WeCom received them and each user's
// charged slots, relative to start.
func (b *testBundle) dumpMixed(start time.Time) {
	b.t.Helper()
	l, err := ratelimit.New(b.rdb, ratelimit.Options{})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, rq := range b.sim.RequestsTo(wecomsim.EndpointSend) {
		b.t.Logf("request at +%s: %s", rq.At.Sub(start).Round(time.Millisecond), rq.Body)
	}
	for _, d := range b.sim.Drops() {
		b.t.Logf("drop at +%s: %s %s", d.At.Sub(start).Round(time.Millisecond), d.User, d.MsgID)
	}
	for _, u := range mixedUsers {
		at, err := l.Arrivals(b.ctx, testApp, testCorp, u)
		if err != nil {
			b.t.Fatal(err)
		}
		var rel []string
		for _, a := range at {
			rel = append(rel, "+"+a.Sub(start).Round(time.Millisecond).String())
		}
		b.t.Logf("%s: slots still in the window %v", u, rel)
	}
}

package httpapi_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCatalog: the catalog lists the token's apps with provider,
// capabilities and limits, and no secret.
func TestCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	r := b.must(b.do("GET", "/v1/apps", tokenAll, ""), 200)
	apps := r.json["apps"].([]any)
	if len(apps) != 2 {
		t.Fatalf("apps = %s", r.raw)
	}
	byName := map[string]map[string]any{}
	for _, a := range apps {
		byName[a.(map[string]any)["app"].(string)] = a.(map[string]any)
	}
	hr, wps := byName[wecomApp], byName[wpsApp]
	if hr["provider"] != "wecom" || wps["provider"] != "xiezuo" {
		t.Errorf("providers: %v, %v", hr["provider"], wps["provider"])
	}
	hc := hr["capabilities"].(map[string]any)
	if hc["update"] != true || hc["recall"] != true || hc["max_users_per_part"] != float64(1000) {
		t.Errorf("wecom capabilities = %v", hc)
	}
	if wc := wps["capabilities"].(map[string]any); wc["recall"] != false || wc["update"] != true {
		t.Errorf("xiezuo capabilities = %v", wc)
	}
	if l := hr["limits"].(map[string]any); l["daily"] != float64(4) || len(l["per_recipient"].([]any)) != 2 {
		t.Errorf("wecom limits = %v", l)
	}
	for _, s := range []string{wecomSecret, wpsSecret, tokenAll, wpsKey} {
		if strings.Contains(string(r.raw), s) {
			t.Errorf("catalog shows %q", s)
		}
	}
	sh := b.must(b.do("GET", "/v1/apps", tokenShare, ""), 200)
	share := sh.json["apps"].([]any)[0].(map[string]any)["token_daily_share"].(map[string]any)
	if share["percent"] != float64(50) || share["daily"] != float64(2) {
		t.Errorf("share = %v, want 50%% of 4 = 2", share)
	}
}

// TestPauseResume: a paused app's message waits (status says why and until
// when), nothing is archived or sent; resume runs it at once.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.must(b.do("POST", "/v1/apps/hr/pause", tokenAll, `{"for":"1h","reason":"maintenance window"}`), 200)
	if pz := p.json["paused"].(map[string]any); pz["reason"] != "maintenance window" {
		t.Errorf("pause = %s", p.raw)
	}
	cat := b.must(b.do("GET", "/v1/apps", tokenHR, ""), 200)
	if cat.json["apps"].([]any)[0].(map[string]any)["paused"] == nil {
		t.Errorf("catalog does not show the pause: %s", cat.raw)
	}
	id := b.must(b.do("POST", "/v1/messages", tokenAll, `{"app":"hr","to":{"users":["wangwu"]},"kind":"text","text":"later"}`), 202).json["id"].(string)
	// wait for the worker's "waiting" event, by long poll
	after := "0"
	for waiting := false; !waiting; {
		r := b.must(b.do("GET", "/v1/apps/hr/events?wait=5s&after="+after, tokenAll, ""), 200)
		for _, e := range r.json["events"].([]any) {
			ev := e.(map[string]any)
			waiting = waiting || (ev["message_id"] == id && ev["state"] == "waiting")
		}
		after = r.json["next"].(string)
		if b.ctx.Err() != nil {
			t.Fatal("never waiting")
		}
	}
	st := b.must(b.do("GET", "/v1/messages/"+id, tokenAll, ""), 200)
	wait, _ := st.json["wait"].(map[string]any)
	if st.json["state"] != "waiting" || !strings.Contains(wait["reason"].(string), "maintenance window") {
		t.Fatalf("status while paused = %s", trim(st.raw))
	}
	until, err := time.Parse(time.RFC3339Nano, wait["until"].(string))
	if err != nil || until.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("wait.until = %v (%v), want about an hour ahead", wait["until"], err)
	}
	if n := len(b.wecom.Deliveries("wangwu")); n != 0 {
		t.Fatalf("sent while paused: %d", n)
	}
	res := b.must(b.do("POST", "/v1/apps/hr/resume", tokenAll, ""), 200)
	if res.json["woken"] != float64(1) || res.json["paused"] != nil {
		t.Errorf("resume = %s, want woken 1", res.raw)
	}
	if st := b.waitEnd(tokenAll, wecomApp, id); st != "accepted" {
		t.Errorf("after resume: %s", st)
	}
}

// TestQuotaOfRecipient: after three messages to one user under 2 per
// minute, the quota shows 2 used, a booked slot, and the next free slot
// about a minute ahead; status shows the booked recipient.
func TestQuotaOfRecipient(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.hrLimits = "limits: {per_recipient: [{count: 2, window: 1m}], margin: 1s}" })
	var ids []string
	for range 3 {
		ids = append(ids, b.must(b.do("POST", "/v1/messages", tokenAll, `{"app":"hr","to":{"users":["ZhangSan"]},"kind":"text","text":"q"}`), 202).json["id"].(string))
	}
	// the worker admits them in any order: two are accepted, one is booked for later
	booked := b.waitState(tokenAll, wecomApp, "waiting", 1)[0]
	accepted := b.waitState(tokenAll, wecomApp, "accepted", 2)
	if slices.Contains(accepted, booked) || !slices.Contains(ids, booked) {
		t.Fatalf("booked %s, accepted %v, sent %v", booked, accepted, ids)
	}
	st := b.must(b.do("GET", "/v1/messages/"+booked, tokenAll, ""), 200)
	if !strings.Contains(string(st.raw), `"booked"`) || st.json["wait"] == nil {
		t.Errorf("waiting status without booked recipients or wait: %s", trim(st.raw))
	}
	q := b.must(b.do("GET", "/v1/apps/hr/quota/ZhangSan", tokenAll, ""), 200)
	u := q.json["usage"].(map[string]any)
	w := u["windows"].([]any)[0].(map[string]any)
	if q.json["key"] != "zhangsan" || w["used"] != float64(2) || w["count"] != float64(2) || w["window"] != "1m0s" {
		t.Errorf("quota = %s", q.raw)
	}
	if bk, _ := u["booked"].([]any); len(bk) != 1 {
		t.Errorf("booked = %v, want 1", u["booked"])
	}
	now, _ := time.Parse(time.RFC3339Nano, u["now"].(string))
	next, _ := time.Parse(time.RFC3339Nano, u["next_free"].(string))
	if d := next.Sub(now); d < 55*time.Second || d > 2*time.Minute {
		t.Errorf("next free %v after now, want about a minute", d)
	}
}

// TestDailyShare: a token with 50% of a daily cap of 4 may enqueue 2
// person-times a day; a retry with the same idempotency key is not charged
// again; the third is 429 naming "to" and writes no record.
func TestDailyShare(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	one := func(user, key string) reply {
		return b.do("POST", "/v1/messages", tokenShare, `{"app":"hr","to":{"users":["`+user+`"]},"kind":"text","text":"s"}`, "Idempotency-Key", key)
	}
	b.must(one("zhangsan", "k1"), 202)
	b.must(one("zhangsan", "k1"), 202) // replay: not charged
	b.must(one("lisi", "k2"), 202)
	before := b.keys()
	r := one("wangwu", "k3")
	if r.status != 429 || r.errField() != "to" || r.errCode() != "daily_share_used" {
		t.Errorf("third: HTTP %d %s, want 429 naming to", r.status, r.raw)
	}
	after := b.keys()
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("refused send wrote keys: %v → %v", before, after)
	}
	// another token is not bound by this share
	b.must(b.do("POST", "/v1/messages", tokenAll, `{"app":"hr","to":{"users":["wangwu"]},"kind":"text","text":"s"}`), 202)
}

// TestEventsLongPoll: wait=0s answers at once; after=next returns only
// newer events; a waiting poll returns as soon as an event arrives.
func TestEventsLongPoll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.must(b.do("GET", "/v1/apps/hr/events?wait=0s", tokenAll, ""), 200)
	if len(r.json["events"].([]any)) != 0 || r.json["next"] != "0" {
		t.Fatalf("empty stream: %s", r.raw)
	}
	id := b.must(b.do("POST", "/v1/messages", tokenAll, `{"app":"hr","to":{"users":["lisi"]},"kind":"text","text":"e"}`), 202).json["id"].(string)
	if st := b.waitEnd(tokenAll, wecomApp, id); st != "accepted" {
		t.Fatal(st)
	}
	all := b.must(b.do("GET", "/v1/apps/hr/events?wait=0s", tokenAll, ""), 200)
	evs := all.json["events"].([]any)
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	first := evs[0].(map[string]any)
	if first["id"] == nil || first["event_id"] == nil || first["message_id"] != id {
		t.Errorf("event = %v", first)
	}
	rest := b.must(b.do("GET", "/v1/apps/hr/events?wait=0s&after="+first["id"].(string), tokenAll, ""), 200)
	if len(rest.json["events"].([]any)) != len(evs)-1 {
		t.Errorf("after the first: %d events, want %d", len(rest.json["events"].([]any)), len(evs)-1)
	}
	lim := b.must(b.do("GET", "/v1/apps/hr/events?wait=0s&limit=1", tokenAll, ""), 200)
	if len(lim.json["events"].([]any)) != 1 {
		t.Errorf("limit=1: %s", lim.raw)
	}
}

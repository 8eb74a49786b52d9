package httpapi_test

import (
	"strings"
	"testing"
)

// TestPlainHTTPSendStatusUpdateCancel drives the API as a producer in another
// language would, with plain HTTP requests only: a card is sent, its status
// read until accepted, updated, and cancelled (recalled where the provider
// can), for a WeCom app (wecomsim) and a WPS 协作 app (xiezuosim).
func TestPlainHTTPSendStatusUpdateCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		desc, app, user, card, updated string
		recall                         bool
	}{
		{desc: "wecom", app: wecomApp, user: "zhangsan", card: wecomCard("审批 v1"), updated: wecomCard("审批 v2"), recall: true},
		{desc: "wps", app: wpsApp, user: "u1", card: wpsCard("请审批 v1"), updated: wpsCard("请审批 v2")},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			send := `{"app":"` + tc.app + `","to":{"users":["` + tc.user + `"]},"kind":"card","body":` + tc.card + `}`
			r := b.must(b.do("POST", "/v1/messages", tokenAll, send), 202)
			id, _ := r.json["id"].(string)
			if !strings.HasPrefix(id, tc.app+".") {
				t.Fatalf("id %q", id)
			}
			if st := b.waitEnd(tokenAll, tc.app, id); st != "accepted" {
				t.Fatalf("ended %s, want accepted", st)
			}
			st := b.must(b.do("GET", "/v1/messages/"+id, tokenAll, ""), 200)
			if st.json["state"] != "accepted" || st.json["id"] != id {
				t.Fatalf("status = %s", trim(st.raw))
			}
			parts, _ := st.json["parts"].([]any)
			if len(parts) != 1 {
				t.Fatalf("parts = %v", parts)
			}
			if strings.Contains(string(st.raw), wecomSecret) || strings.Contains(string(st.raw), wpsSecret) {
				t.Error("status shows a secret")
			}

			up := b.must(b.do("POST", "/v1/messages/"+id+"/updates", tokenAll, `{"kind":"card","body":`+tc.updated+`}`), 202)
			if up.json["seq"] != float64(1) {
				t.Errorf("update seq = %v, want 1", up.json["seq"])
			}
			// the update's event, by long poll
			after := "0"
			for found := false; !found; {
				r := b.must(b.do("GET", "/v1/apps/"+tc.app+"/events?wait=5s&after="+after, tokenAll, ""), 200)
				for _, e := range r.json["events"].([]any) {
					ev := e.(map[string]any)
					if ev["message_id"] == id && ev["type"] == "update" {
						found = true
						if !strings.Contains(ev["event_id"].(string), "/update/1") {
							t.Errorf("update event %v", ev)
						}
					}
				}
				after = r.json["next"].(string)
				if b.ctx.Err() != nil {
					t.Fatal("no update event")
				}
			}
			st = b.must(b.do("GET", "/v1/messages/"+id, tokenAll, ""), 200)
			if !strings.Contains(string(st.raw), `"updates"`) {
				t.Errorf("status after update has no updates: %s", trim(st.raw))
			}

			c := b.must(b.do("DELETE", "/v1/messages/"+id, tokenAll, ""), 200)
			cparts, _ := c.json["parts"].([]any)
			if len(cparts) != 1 {
				t.Fatalf("cancel outcome = %s", c.raw)
			}
			outcome := cparts[0].(map[string]any)["outcome"]
			if tc.recall && outcome != "recalled" {
				t.Errorf("cancel outcome %v, want recalled: %s", outcome, c.raw)
			}
			if !tc.recall && outcome != "sent" {
				t.Errorf("cancel outcome %v, want sent (no recall): %s", outcome, c.raw)
			}
			// cancelling again returns the same outcome; updating now is refused
			if again := b.must(b.do("DELETE", "/v1/messages/"+id, tokenAll, ""), 200); string(again.raw) != string(c.raw) {
				t.Errorf("second cancel = %s, want %s", again.raw, c.raw)
			}
		})
	}
	if n := len(b.wecom.Deliveries("zhangsan")); n != 1 {
		t.Errorf("wecomsim delivered %d messages to zhangsan, want 1", n)
	}
}

// TestIdempotencyKey: the same key and body give the same id and one
// delivery; another body under the key is 409 naming idempotency_key.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"app":"hr","to":{"users":["lisi"]},"kind":"text","text":"once"}`
	first := b.must(b.do("POST", "/v1/messages", tokenAll, body, "Idempotency-Key", "order-42"), 202)
	id := first.json["id"].(string)
	if st := b.waitEnd(tokenAll, wecomApp, id); st != "accepted" {
		t.Fatalf("ended %s", st)
	}
	again := b.must(b.do("POST", "/v1/messages", tokenAll, body, "Idempotency-Key", "order-42"), 202)
	if again.json["id"] != id {
		t.Errorf("same key and body: id %v, want %s", again.json["id"], id)
	}
	before := b.records()
	other := b.do("POST", "/v1/messages", tokenAll, strings.Replace(body, "once", "twice", 1), "Idempotency-Key", "order-42")
	if other.status != 409 || other.errField() != "idempotency_key" || !strings.Contains(string(other.raw), id) {
		t.Errorf("different body: HTTP %d %s, want 409 naming idempotency_key and %s", other.status, other.raw, id)
	}
	if after := b.records(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("the conflict wrote to Redis: %v → %v", before, after)
	}
	// nothing more was sent: lisi got exactly one message
	if d := b.wecom.Deliveries("lisi"); len(d) != 1 {
		t.Errorf("lisi got %d messages, want 1", len(d))
	}
}

package producer

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
)

func users(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	return ids
}

// A message naming more targets than limits.max_recipients (default 10000) is
// refused on "to", naming the count and the limit, and nothing is written; a
// message at the cap passes the check.
func TestSendRefusesRecipientsOverTheCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		desc string
		msg  providers.Message
		want string
	}{
		{desc: "default cap + 1", msg: textTo("x", users(config.DefaultMaxRecipients+1)...), want: "names 10001 recipients, more than limits.max_recipients (10000)"},
		{desc: "200000 users", msg: textTo("x", users(200000)...), want: "names 200000 recipients, more than limits.max_recipients (10000)"},
		{desc: "groups count too", msg: providers.Message{App: "hr", Kind: providers.KindText, Text: "x",
			To: providers.Recipients{Users: users(9999), Depts: []string{"1"}, Tags: []string{"2"}}}, want: "names 10001 recipients"},
	} {
		_, err := b.client.Send(b.ctx, tc.msg)
		var ve *providers.ValidationError
		if !errors.As(err, &ve) || ve.Field != "to" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Send = %.200v, want a ValidationError on to saying %q", tc.desc, err, tc.want)
		}
		if n := b.rdb.DBSize(b.ctx).Val(); n != 0 {
			t.Errorf("%s: %d keys written for a message over the cap, want 0", tc.desc, n)
		}
	}
	// At the cap, the cap does not refuse (WeCom's own rules may, on another field).
	if err := checkRecipientCap("hr", b.client.cfg.Apps["hr"], providers.Recipients{Users: users(config.DefaultMaxRecipients)}); err != nil {
		t.Errorf("10000 recipients: %v, want no refusal from the cap", err)
	}
}

// limits.max_recipients set per app is the cap the producer applies.
func TestSendRecipientCapFromConfig(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
    limits: {max_recipients: 3}
`, srv.Addr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client()
	c := New(cfg, rdb)
	over := providers.Message{App: "hr", Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: users(2), Depts: []string{"1", "2"}}}
	_, err = c.Send(t.Context(), over)
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "to" || !strings.Contains(err.Error(), "names 4 recipients, more than limits.max_recipients (3) of app hr") {
		t.Fatalf("Send of 4 targets = %v, want a refusal on to naming 4 and 3", err)
	}
	if n := rdb.DBSize(t.Context()).Val(); n != 0 {
		t.Fatalf("%d keys written, want 0", n)
	}
	if _, err := c.Send(t.Context(), textTo("x", users(3)...)); err != nil {
		t.Fatalf("Send of 3 users: %v, want it enqueued", err)
	}
}

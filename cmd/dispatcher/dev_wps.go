package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// The simulated WPS companies of dev mode: a WPS 协作 app (private deployment,
// WPS-4 signed, gateway prefix /o/woa) and a WPS 365 app.
const (
	devXiezuoKey      = "devak-xiezuo"
	devXiezuoCompany  = "c-dev"
	devXiezuoToken    = "/o/woa/oauthapi/v3/inner/company/token"
	devXiezuoUpdate   = "/o/woa/api/v2/developer/app/messages/update"
	devWPS365App      = "devapp-wps365"
	devWPS365Company  = "c-dev-365"
	devWPS365Chat     = "chat-dev"
	devWPSCallbackFmt = "%s/callbacks/%s/%s" // dashboard URL, provider, app
)

// devWPSConfig are the WPS apps of dev mode's config; %s are the WPS 协作
// simulator's URL, its secret, the WPS 365 simulator's URL and its secret.
const devWPSConfig = `  wps:
    provider: xiezuo
    xiezuo:
      base_url: %q
      app_key: ` + devXiezuoKey + `
      app_secret: %q
      signature: wps4
      company_token_path: ` + devXiezuoToken + `
      update_path: ` + devXiezuoUpdate + `   # set from your deployment's documentation
      company_id: ` + devXiezuoCompany + `
      company_uid: bot
  wps365:
    provider: wps365
    wps365: {base_url: %q, app_id: ` + devWPS365App + `, app_secret: %q, company_id: ` + devWPS365Company + `}
`

// devWPS are dev mode's WPS simulators.
type devWPS struct {
	xz                  *xiezuosim.Sim
	xzURL, xzSecret     string
	w365                *wps365sim.Sim
	w365URL, w365Secret string
}

// startDevWPS starts the WPS 协作 and WPS 365 simulators with dev mode's
// users; callbacks are fired at the dashboard listener (callbackBase).
func startDevWPS(callbackBase string) (*devWPS, error) {
	d := &devWPS{xz: xiezuosim.New(xiezuosim.Options{}), xzSecret: randomHex(16), w365: wps365sim.New(wps365sim.Options{}), w365Secret: randomHex(16)}
	var err error
	if d.xzURL, err = d.xz.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("dev: wps 协作 simulator: %w", err)
	}
	if err := d.xz.AddApp(xiezuosim.App{Key: devXiezuoKey, Secret: d.xzSecret, Signature: "wps4", UnsignedPrefix: "/o/woa",
		CompanyID: devXiezuoCompany, CallbackURL: fmt.Sprintf(devWPSCallbackFmt, callbackBase, "xiezuo", "wps")}); err != nil {
		d.close()
		return nil, fmt.Errorf("dev: wps 协作 simulator: %w", err)
	}
	d.xz.AddUsers(devXiezuoCompany, devUsers...)
	if d.w365URL, err = d.w365.Start("127.0.0.1:0"); err != nil {
		d.close()
		return nil, fmt.Errorf("dev: wps 365 simulator: %w", err)
	}
	d.w365.AddApp(devWPS365App, d.w365Secret, devWPS365Company)
	d.w365.AddUsers(devUsers...)
	d.w365.AddChat(devWPS365Chat, true, devUsers...)
	return d, nil
}

func (d *devWPS) close() {
	if d.xz != nil {
		_ = d.xz.Close()
	}
	if d.w365 != nil {
		_ = d.w365.Close()
	}
}

// config is the WPS apps' part of dev mode's config.
func (d *devWPS) config() string {
	return fmt.Sprintf(devWPSConfig, d.xzURL, d.xzSecret, d.w365URL, d.w365Secret)
}

// devXiezuoCard is a WPS 协作 card (msg_type 23) with a title, a line of
// markdown and a button.
func devXiezuoCard(line string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"header":{"title":{"tag":"text","content":{"type":"plainText","text":"报销审批"}}},`+
		`"elements":[{"tag":"text","content":{"type":"markdown","text":%q}},`+
		`{"tag":"action","actions":[{"tag":"button","content":{"type":"plainText","text":"同意"},"key":"approve","style":"primary"}]}]}`, line))
}

// devWPS365Card is a WPS 365 card with a title and a line of markdown.
func devWPS365Card(title string) json.RawMessage {
	return json.RawMessage(`{"i18n_items":[{"key":"zh-CN","value":{"header":{"title":{"tag":"text","text":{"type":"plain","content":"` + title +
		`"}}},"elements":[{"text":{"tag":"text","text":{"type":"markdown","content":"**出差申请** 3 天"}}}]}}]}`)
}

// runWPSDemo shows both WPS providers: a WPS 协作 card sent, clicked (a
// signed callback from the simulator, published to the events stream with
// the message it concerns) and updated; a WPS 365 card sent and updated,
// and a reply in a chat.
func runWPSDemo(ctx context.Context, c *producer.Client, events *record.Store, d *devWPS, stdout io.Writer) error {
	deadline := time.Now().Add(30 * time.Second)

	// WPS 协作: card → click → update.
	id, err := c.Send(ctx, providers.Message{App: "wps", To: providers.Recipients{Users: []string{"zhangsan", "lisi"}},
		Kind: providers.KindCard, Body: devXiezuoCard("请审批 **差旅报销** ¥1,280")})
	if err != nil {
		return fmt.Errorf("dev: wps 协作 demo: %w", err)
	}
	st, err := waitTerminal(ctx, c, id, deadline)
	if err != nil {
		return fmt.Errorf("dev: wps 协作 demo: %w", err)
	}
	if len(st.Parts) == 0 || st.Parts[0].Ref == "" {
		return fmt.Errorf("dev: wps 协作 demo: the card ended %s with no ctx_id", st.State)
	}
	ctxID := st.Parts[0].Ref
	code, _, err := d.xz.FireClick(ctx, xiezuosim.Click{AppKey: devXiezuoKey, CtxID: ctxID, User: "zhangsan", Action: "approve"})
	if err != nil || code != 200 {
		return fmt.Errorf("dev: wps 协作 demo: card click answered %d: %v", code, err)
	}
	click, err := waitProviderEvent(ctx, events, "wps", "xiezuo.card_click", deadline)
	if err != nil {
		return fmt.Errorf("dev: wps 协作 demo: %w", err)
	}
	seq, err := c.Update(ctx, id, producer.Content{Kind: providers.KindCard, Body: devXiezuoCard("**差旅报销** ¥1,280 — 已同意 ✅")})
	if err != nil {
		return fmt.Errorf("dev: wps 协作 demo: update: %w", err)
	}
	upd, err := waitUpdate(ctx, c, id, seq, deadline)
	if err != nil {
		return fmt.Errorf("dev: wps 协作 demo: %w", err)
	}
	fmt.Fprintf(stdout, "\nWPS 协作: card %s (ctx_id %s) sent to zhangsan, lisi (%s)\n", id, ctxID, st.State)
	fmt.Fprintf(stdout, "  click    %s pressed %q → event %s for message %s\n", click.Data["user"], click.Data["action"], click.ID, click.MessageID)
	fmt.Fprintf(stdout, "  update   %d %s: each user now sees the new card\n", seq, upd)

	// WPS 365: card → update, and a reply in a chat.
	id365, err := c.Send(ctx, providers.Message{App: "wps365", To: providers.Recipients{Users: []string{"wangwu"}},
		Kind: providers.KindCard, Body: devWPS365Card("出差审批：待处理")})
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: %w", err)
	}
	st365, err := waitTerminal(ctx, c, id365, deadline)
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: %w", err)
	}
	seq365, err := c.Update(ctx, id365, producer.Content{Kind: providers.KindCard, Body: devWPS365Card("出差审批：已通过")})
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: update: %w", err)
	}
	upd365, err := waitUpdate(ctx, c, id365, seq365, deadline)
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: %w", err)
	}
	question, err := d.w365.PostUserMessage(devWPS365Chat, "zhaoliu", "今天的发布什么时候开始？")
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: %w", err)
	}
	reply, err := c.Send(ctx, providers.Message{App: "wps365", Kind: providers.KindText, Text: "15:00 开始，预计 30 分钟",
		ReplyTo: &providers.ReplyTo{Chat: devWPS365Chat, MessageID: question}})
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: reply: %w", err)
	}
	stReply, err := waitTerminal(ctx, c, reply, deadline)
	if err != nil {
		return fmt.Errorf("dev: wps 365 demo: reply: %w", err)
	}
	fmt.Fprintf(stdout, "\nWPS 365: card %s sent to wangwu (%s), update %d %s\n", id365, st365.State, seq365, upd365)
	fmt.Fprintf(stdout, "  reply    %s answers zhaoliu's message %s in %s (%s)\n", reply, question, devWPS365Chat, stReply.State)
	return nil
}

// waitUpdate polls message id until update seq is no longer pending and
// returns its state.
func waitUpdate(ctx context.Context, c *producer.Client, id string, seq int64, deadline time.Time) (string, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.Status(ctx, id)
		if err != nil {
			return "", err
		}
		if u := st.Updates; u != nil && len(u.History) > 0 {
			if last := u.History[len(u.History)-1]; last.Seq == seq && last.State != record.UpdatePending {
				return string(last.State), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("update %d of %s did not finish in 30s", seq, id)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
		}
	}
}

// waitProviderEvent polls app's events stream for the newest event of typ.
func waitProviderEvent(ctx context.Context, events *record.Store, app, typ string, deadline time.Time) (*providers.Event, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		evs, err := events.Events(ctx, app, 100)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.Type == typ {
				return &providers.Event{ID: e.ID, Type: e.Type, MessageID: e.MessageID, Tenant: e.Tenant, Data: e.Data}, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no " + typ + " event in 30s")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

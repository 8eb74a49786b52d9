package config_test

import (
	"fmt"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// env is a fake environment for the examples.
func env(name string) (string, bool) {
	v, ok := map[string]string{"HR_SECRET": "s3cret"}[name]
	return v, ok
}

func ExampleParse() {
	c, err := config.Parse([]byte(`
apps:
  hr-bot:
    provider: wecom
    wecom:
      base_url: https://qyapi.weixin.qq.com
      corp_id: ww1
      agent_id: 1000002
      secret: ${HR_SECRET}
`), env)
	if err != nil {
		fmt.Println(err)
		return
	}
	app, err := c.App("hr-bot")
	if err != nil {
		fmt.Println(err)
		return
	}
	w := app.Block.(*wecom.Config)
	fmt.Println(app.Provider, w.AgentID, w.Secret == "s3cret")
	fmt.Println("limits:", app.Limits.PerRecipient, "on_unknown:", app.OnUnknown)
	fmt.Println("concurrency:", c.Worker.Concurrency, "peak on:", c.Peak.On(), c.Peak.Minutes)
	// Output:
	// wecom 1000002 true
	// limits: [{30 1m0s} {1000 1h0m0s}] on_unknown: resend
	// concurrency: 50 peak on: true [0 30]
}

func ExampleParse_errors() {
	_, err := config.Parse([]byte(`
worker: {concurrency: lots}
apps:
  hr-bot:
    provider: wecom
    wecom:
      base_url: https://qyapi.weixin.qq.com
      corp_idd: ww1
      agent_id: 1000002
      secret: ${OTHER_SECRET}
`), env)
	fmt.Println(err)
	// Output:
	// apps.hr-bot.wecom.corp_id: required
	// apps.hr-bot.wecom.corp_idd: unknown key
	// apps.hr-bot.wecom.secret: environment variable OTHER_SECRET is not set
	// worker.concurrency: want an integer, got "lots"
}

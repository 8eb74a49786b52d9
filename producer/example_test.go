package producer_test

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/devredis"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

func ExampleClient_Send() {
	ctx := context.Background()
	emb, _ := devredis.Start("") // an embedded Redis; use your own in production
	defer emb.Close()
	rdb := redis.NewClient(&redis.Options{Addr: emb.Addr()})
	defer rdb.Close()
	cfg, err := config.Parse([]byte(`
redis: {addr: "`+emb.Addr()+`"}
apps:
  hr-bot:
    provider: wecom
    wecom: {base_url: "https://qyapi.weixin.qq.com", corp_id: ww1, agent_id: 1000002, secret: "${HR_SECRET}"}
`), func(string) (string, bool) { return "not-a-real-secret", true })
	if err != nil {
		panic(err)
	}
	c := producer.New(cfg, rdb)

	// Validation by WeCom's rules, before anything is written.
	_, err = c.Send(ctx, providers.Message{App: "hr-bot", Kind: providers.KindText, Text: "hi"})
	fmt.Println(err)

	id, err := c.Send(ctx, providers.Message{
		App:  "hr-bot",
		To:   providers.Recipients{Users: []string{"zhangsan"}},
		Kind: providers.KindText,
		Text: "审批已通过",
	}, producer.IdempotencyKey("leave-4711"))
	if err != nil {
		panic(err)
	}
	st, _ := c.Status(ctx, id)
	fmt.Println(st.State, st.Enqueued)
	// Output:
	// producer: send: to: no recipients: name users, depts, tags or all
	// queued true
}

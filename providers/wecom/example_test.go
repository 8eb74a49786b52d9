package wecom_test

import (
	"context"
	"fmt"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// Prepare renders each part's message/send body once: fixed field order, no
// HTML escaping, the duplicate check on (default interval 4h = 14400 s).
func ExampleClient_Prepare() {
	// Prepare needs no credentials; a real client gets a TokenStore for Send.
	c := wecom.New(wecom.Config{CorpID: "ww1234567890", AgentID: 1000002}, nil, nil)
	parts, err := c.Prepare(context.Background(), &providers.Message{
		App:  "hr-bot",
		To:   providers.Recipients{Users: []string{"zhangsan", "lisi"}, Depts: []string{"2"}},
		Kind: providers.KindText,
		Text: `Your payslip is ready: <a href="https://hr.example.com/p?id=7&lang=zh">open</a>`,
	}, providers.PrepareOptions{MessageID: "msg-1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range parts {
		fmt.Printf("part %d: %s\n", p.Index, p.Body)
	}
	// Output:
	// part 0: {"touser":"zhangsan|lisi","toparty":"2","msgtype":"text","agentid":1000002,"text":{"content":"Your payslip is ready: <a href=\"https://hr.example.com/p?id=7&lang=zh\">open</a>"},"enable_duplicate_check":1,"duplicate_check_interval":14400}
}

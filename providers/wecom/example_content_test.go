package wecom_test

import (
	"context"
	"fmt"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// A typed template card becomes a message with NewMessage; Validate checks it
// field by field, and Prepare renders it with a task_id derived from the
// message id, since the card has none.
func ExampleNewMessage() {
	msg, err := wecom.NewMessage("hr-bot", providers.Recipients{Users: []string{"zhangsan"}}, wecom.TemplateCard{
		CardType:  wecom.CardButtonInteraction,
		MainTitle: &wecom.CardMainTitle{Title: "请假审批", Desc: "张三 · 2 天"},
		ButtonList: []wecom.CardButton{
			{Text: "批准", Style: 1, Key: "approve"},
			{Text: "驳回", Style: 2, Key: "reject"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := wecom.Validate(&msg); err != nil {
		fmt.Println(err)
		return
	}
	c := wecom.New(wecom.Config{CorpID: "ww1234567890", AgentID: 1000002}, nil, nil)
	parts, err := c.Prepare(context.Background(), &msg, providers.PrepareOptions{MessageID: "leave-4711"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", parts[0].Body)

	// A broken rule is reported with the path of the field.
	msg.Body = []byte(`{"card_type":"button_interaction","main_title":{"title":"请假审批"},"button_list":[{"text":"批准","key":"approve"},{"text":"驳回","key":"approve"}]}`)
	fmt.Println(wecom.Validate(&msg))
	// Output:
	// {"touser":"zhangsan","msgtype":"template_card","agentid":1000002,"template_card":{"card_type":"button_interaction","main_title":{"title":"请假审批","desc":"张三 · 2 天"},"button_list":[{"text":"批准","style":1,"key":"approve"},{"text":"驳回","style":2,"key":"reject"}],"task_id":"md_leave-4711_g0_p0"},"enable_duplicate_check":1,"duplicate_check_interval":14400}
	// body.button_list[1].key: "approve" is also the key of item 0: button_list keys must be unique (errcode 42039)
}

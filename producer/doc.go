// Package producer is the Go API other services import to hand messages to
// msgdispatch: build and validate a message by its provider's rules, enqueue it
// into Redis through asynq, and read its delivery status.
//
//	c := producer.New(cfg, rdb)
//	id, err := c.Send(ctx, providers.Message{App: "hr-bot", To: providers.Recipients{Users: []string{"zhangsan"}},
//		Kind: providers.KindText, Text: "审批已通过"}, producer.IdempotencyKey("leave-4711"))
//
// Send with an idempotency key is safe to retry after any failure: the retry
// completes the enqueue and never doubles it (G6 of docs/architecture.md).
package producer

package dashboard

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/hibiken/asynqmon"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/webhook"
)

// PayloadFormatter shows a task's payload on the dashboard without its
// content: for a send, the message id, app, kind and number of recipients
// (never the text, body or recipients themselves); for an update or cancel,
// the message id and app; for a webhook delivery, the event, app and the
// receiver's host; for anything else (a provider's background task, whose
// payload may hold a sealed permanent or auth code) only the type and size.
var PayloadFormatter = asynqmon.PayloadFormatterFunc(formatPayload)

// ResultFormatter shows the size of a task's result only.
var ResultFormatter = asynqmon.ResultFormatterFunc(func(_ string, result []byte) string {
	return fmt.Sprintf("(%d bytes, not shown)", len(result))
})

func formatPayload(taskType string, payload []byte) string {
	switch taskType {
	case job.TypeSend:
		var j job.Send
		if err := json.Unmarshal(payload, &j); err != nil {
			return "undecodable send payload"
		}
		s := fmt.Sprintf("message %s · app %s · kind %s · %d recipients", j.ID, j.Message.App, j.Message.Kind, j.Message.To.Count())
		if j.Message.Tenant != "" {
			s += " · tenant " + j.Message.Tenant
		}
		if j.Generation > 0 {
			s += fmt.Sprintf(" · follow-up %d", j.Generation)
		}
		return s
	case job.TypeUpdate, job.TypeCancel:
		var r job.Ref
		if err := json.Unmarshal(payload, &r); err != nil {
			return "undecodable payload"
		}
		return fmt.Sprintf("message %s · app %s", r.ID, r.App)
	case webhook.TypeDeliver:
		var d struct {
			EventID string `json:"event_id"`
			App     string `json:"app"`
			URL     string `json:"url"`
		}
		if err := json.Unmarshal(payload, &d); err != nil {
			return "undecodable webhook payload"
		}
		host := "?"
		if u, err := url.Parse(d.URL); err == nil {
			host = u.Host
		}
		return fmt.Sprintf("event %s · app %s · to %s", d.EventID, d.App, host)
	}
	return fmt.Sprintf("%s payload (%d bytes, not shown)", taskType, len(payload))
}

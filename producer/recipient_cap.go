package producer

import (
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/providers"
)

// checkRecipientCap refuses a message naming more targets (users plus groups)
// than its app's limits.max_recipients, before anything else looks at the list.
// An app built without the config loader (0) gets the default cap.
func checkRecipientCap(name string, app config.App, to providers.Recipients) error {
	limit := app.Limits.MaxRecipients
	if limit <= 0 {
		limit = config.DefaultMaxRecipients
	}
	if n := to.Count(); n > limit {
		return providers.Invalid("to", "names %d recipients, more than limits.max_recipients (%d) of app %s: split the list into several messages",
			n, limit, name)
	}
	return nil
}

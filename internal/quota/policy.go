// Package quota turns an app's config into its ratelimit policy, so that the
// worker and the producer's quota authority (producer.Reserve) enforce the
// same windows.
package quota

import (
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// Policy is the ratelimit policy of app: its per-recipient windows (none
// unless configured), margin (the config's 0 means none), urgent headroom,
// daily cap and the peak rule; the ledger outlives every re-run of a message.
func Policy(app config.App, pk config.Peak, messageTTL time.Duration) ratelimit.Policy {
	p := ratelimit.Policy{Margin: app.Limits.Margin, UrgentHeadroom: app.Limits.UrgentHeadroom, Daily: app.Limits.Daily,
		LedgerTTL: max(ratelimit.DefaultLedgerTTL, 2*messageTTL)}
	if p.Margin == 0 {
		p.Margin = -1
	}
	p.Windows = []ratelimit.Window{}
	for _, w := range app.Limits.PerRecipient {
		p.Windows = append(p.Windows, ratelimit.Window{Count: w.Count, Window: w.Window})
	}
	if pk.On() {
		p.Peak = ratelimit.PeakRule{Minutes: pk.Minutes, Guard: pk.Guard, Spread: pk.Spread}
	}
	return p
}

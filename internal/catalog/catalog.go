// Package catalog turns a configured app into its provider: the one place that
// knows which provider package serves which provider name. The producer uses it to
// validate messages by the provider's own rules (no credentials needed); the worker
// to build the provider clients that send.
package catalog

import (
	"fmt"
	"net/http"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// Validate checks msg by the rules of app's provider, without credentials or I/O.
func Validate(app config.App, msg *providers.Message) error {
	switch app.Provider {
	case "wecom":
		return wecom.Validate(msg)
	default:
		return fmt.Errorf("catalog: provider %q is not supported", app.Provider)
	}
}

// New builds the provider client of app.
func New(app config.App, tokens providers.TokenStore, hc *http.Client) (providers.Provider, error) {
	switch app.Provider {
	case "wecom":
		if app.WeCom == nil {
			return nil, fmt.Errorf("catalog: provider wecom without a wecom block")
		}
		return wecom.New(*app.WeCom, tokens, hc), nil
	default:
		return nil, fmt.Errorf("catalog: provider %q is not supported", app.Provider)
	}
}

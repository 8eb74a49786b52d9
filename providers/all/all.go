// Package all registers every provider msgdispatch ships: import it for its
// side effect. Adding a provider is its folder plus one line here.
package all

import (
	_ "github.com/msgdispatch/msgdispatch/providers/wecom"
	_ "github.com/msgdispatch/msgdispatch/providers/wps365"
	_ "github.com/msgdispatch/msgdispatch/providers/xiezuo"
)

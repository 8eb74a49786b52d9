package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

const hexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func selfBuilt() config.App {
	return config.App{Provider: "wecom", Block: &wecom.Config{Mode: wecom.ModeSelfBuilt, BaseURL: "http://x", CorpID: "ww1", AgentID: 1, Secret: "s"}}
}

func thirdParty() config.App {
	return config.App{Provider: "wecom", TenantKey: hexKey, Block: &wecom.Config{Mode: wecom.ModeThirdParty, BaseURL: "http://x", SuiteID: "ww1",
		SuiteSecret: "s", CallbackToken: "QDG6eK", EncodingAESKey: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}}
}

func TestValidateNeedsTheTenantOfAMultiTenantApp(t *testing.T) {
	t.Parallel()
	msg := &providers.Message{App: "crm", To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindText, Text: "hi"}
	var ve *providers.ValidationError
	if err := catalog.Validate(thirdParty(), msg); !errors.As(err, &ve) || ve.Field != "tenant" {
		t.Errorf("Validate without tenant = %v", err)
	}
	msg.Tenant = "wpT"
	if err := catalog.Validate(thirdParty(), msg); err != nil {
		t.Errorf("Validate with tenant = %v", err)
	}
	if err := catalog.Validate(selfBuilt(), msg); !errors.As(err, &ve) || ve.Field != "tenant" {
		t.Errorf("Validate of a self-built app with a tenant = %v", err)
	}
}

func TestNewAndCallbackHandler(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	if _, err := catalog.New("crm", thirdParty(), catalog.Deps{}); err == nil || !strings.Contains(err.Error(), "Redis is required") {
		t.Errorf("New without Redis = %v", err)
	}
	p, err := catalog.New("crm", thirdParty(), catalog.Deps{Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.(*wecom.Client); !ok || c.Config().Mode != wecom.ModeThirdParty {
		t.Errorf("New = %T", p)
	}
	if h, err := catalog.CallbackHandler("hr", selfBuilt(), catalog.Deps{Redis: rdb}); h != nil || err != nil {
		t.Errorf("CallbackHandler of an app without callbacks = %v, %v", h, err)
	}
	if _, err := catalog.CallbackHandler("crm", thirdParty(), catalog.Deps{Redis: rdb}); err == nil || !strings.Contains(err.Error(), "task queue") {
		t.Errorf("CallbackHandler of a multi-tenant app without asynq = %v", err)
	}
	if _, err := catalog.Tenants(rdb, "hr", selfBuilt()); err == nil {
		t.Error("Tenants of a self-built app")
	}
}

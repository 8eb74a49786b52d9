package xiezuosim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Click is a user acting on a card.
type Click struct {
	// AppKey is the app whose card was clicked; its CallbackURL receives it.
	AppKey string
	// CtxID is the card's ctx_id; User the user; Action the action key.
	CtxID  string
	User   string
	Action string
	// Values are form inputs, sent inside content next to action.
	Values map[string]string
	// HeaderStyle overrides the app's WPS-4 header pair ("wps_docs", "plain").
	HeaderStyle string
}

// ClickRequest builds the signed callback request of c, as WPS sends it: a
// POST of {"callback_name":"xz_card","app_id","data":{"company_id",
// "app_ctx_id","company_uid","content":{"action":…,…}}} (the v2 schema is not
// documented: this is the v7 shape plus the user) signed WPS-4 over the
// callback URL's path and query, dated by the simulator's clock. Tests may
// alter it before sending.
func (s *Sim) ClickRequest(ctx context.Context, c Click) (*http.Request, []byte, error) {
	s.mu.Lock()
	a := s.apps[c.AppKey]
	now := s.clock()
	s.mu.Unlock()
	if a == nil || a.CallbackURL == "" {
		return nil, nil, fmt.Errorf("xiezuosim: app %q unknown or without CallbackURL", c.AppKey)
	}
	content := map[string]string{"action": c.Action}
	for k, v := range c.Values {
		content[k] = v
	}
	body, err := json.Marshal(map[string]any{
		"callback_name": "xz_card",
		"app_id":        a.Key,
		"data":          map[string]any{"company_id": a.CompanyID, "app_ctx_id": c.CtxID, "company_uid": c.User, "content": content},
	})
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	style := c.HeaderStyle
	if style == "" {
		style = a.HeaderStyle
	}
	signWPS4(req, body, a, style, now)
	return req, body, nil
}

// FireClick sends c's signed callback and returns the answer's status and body.
func (s *Sim) FireClick(ctx context.Context, c Click) (int, string, error) {
	req, _, err := s.ClickRequest(ctx, c)
	if err != nil {
		return 0, "", err
	}
	resp, err := s.opts.CallbackClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b), err
}

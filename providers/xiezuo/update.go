package xiezuo

import (
	"context"
	"encoding/json"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Update replaces the card of a sent message, found by its ctx_id
// (req.ProviderMessageID, as Send returned it), for every recipient.
//
// No document we hold gives the v2 update endpoint (specs/wps.md §3.3, §8.1):
// the client sends update_method (default POST) to update_path with
// ?company_token=… and this body, modelled on the send body — app_key,
// ctx_id, company_id, company_uid, msg_type 23 and content {"type":23,
// "content": card} — and reads result/msg like a send. Set the path (and
// method) from the deployment's documentation; without update_path Update
// returns a ClassPermanent error and Capabilities.Update is false.
//
// req.Kind must be card (a whole new v2 card in Body, checked like Send's) or
// raw (a {"msg_type":23,"content":{…}} body). The token is refreshed once like
// Send; errors are classified like Send's.
func (c *Client) Update(ctx context.Context, req *providers.UpdateRequest) (*providers.Result, error) {
	if c.cfg.UpdatePath == "" {
		return nil, &providers.Error{Provider: ProviderName, Op: opUpdate, Class: providers.ClassPermanent, Message: "update_path not configured: set it from the deployment's documentation"}
	}
	if req == nil || req.ProviderMessageID == "" {
		return nil, providers.Invalid("provider_message_id", "required: the ctx_id of the card to update")
	}
	if len(req.ProviderMessageID) > MaxCtxIDLen {
		return nil, providers.Invalid("provider_message_id", "ctx_id longer than %d", MaxCtxIDLen)
	}
	var ct *content
	var err error
	switch req.Kind {
	case providers.KindCard, providers.KindRaw:
		ct, err = messageContent(&providers.Message{Kind: req.Kind, Text: req.Text, Body: req.Body})
		if err != nil {
			return nil, err
		}
		if !ct.card {
			return nil, providers.Invalid("body.msg_type", "only a card (msg_type %d) can be updated", MsgTypeCard)
		}
	default:
		return nil, providers.Invalid("kind", "WPS 协作 updates only cards: kind card or raw, not %q", req.Kind)
	}
	body, err := encodeJSON(updateRequest{
		AppKey: c.cfg.AppKey, CtxID: req.ProviderMessageID, CompanyID: c.cfg.CompanyID, CompanyUID: c.cfg.CompanyUID,
		MsgType: MsgTypeCard, Content: json.RawMessage(ct.body),
	})
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	if _, err := c.call(ctx, opUpdate, c.cfg.UpdateMethod, c.cfg.UpdatePath, body); err != nil {
		return nil, err
	}
	return &providers.Result{ProviderMessageID: req.ProviderMessageID}, nil
}

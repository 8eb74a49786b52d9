package xiezuo

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Reasons a user is unreachable by an update.
const (
	reasonNoEndpoint = "the update endpoint is not configured (update_path is empty): no document gives the WPS 协作 v2 " +
		"update endpoint, set it from the deployment's documentation"
	reasonNotCard = "not an updatable card: WPS 协作 updates only cards sent with utype 1 (kind card or a raw msg_type 23 card)"
	reasonNoRef   = "the part has no ctx_id: WPS 协作 updates a card only by its ctx_id"
)

// receiverWords: a refused update's msg blames a recipient, so trying the
// users one by one tells which.
var receiverWords = []string{"receiver", "recipient", "user", "company_uid"}

// Update gives req.Users of an accepted part a new card (providers.Provider).
//
// No document we hold gives the v2 update endpoint (the WPS open-platform documentation):
// the client sends update_method (default POST) to update_path with
// ?company_token=… and this body, modelled on the send body — to_users
// {company_id, company_uids: req.Users}, app_key, ctx_id (req.Part.Ref),
// company_id, company_uid, msg_type 23 and content {"type":23,"content":
// card} — and reads result/msg like a send. The token is refreshed once like
// Send's, and failures are classified like Send's.
//
// req.Content.Kind must be card (a whole new v2 card in Body, checked like a
// send's) or raw (a {"msg_type":23,"content":{…}} body); anything else is a
// *providers.ValidationError. Every user is unreachable, with the reason and
// no request, when update_path is not configured, or when the part is not an
// updatable card (Part.NotUpdatable, utype 0, no ctx_id). When WPS refuses
// the update for good (ClassPermanent) and its msg blames a recipient, the
// users are tried one by one, so that one user who never received the card
// does not keep the others from being updated; a user WPS still refuses is
// unreachable with WPS's answer. Any other failure is returned (the update
// consumes nothing and may simply be repeated), with the outcomes so far.
func (c *Client) Update(ctx context.Context, req *providers.UpdateRequest) (*providers.UpdateResult, error) {
	if req == nil || req.Part == nil {
		return nil, providers.Invalid("part", "required")
	}
	out := &providers.UpdateResult{}
	if len(req.Users) == 0 {
		return out, nil
	}
	card, err := updateContent(&req.Content)
	if err != nil {
		return nil, err
	}
	ref, updatable := bodyRef(req.Part.Body)
	if req.Part.Ref != "" {
		ref = req.Part.Ref
	}
	reason := ""
	switch {
	case c.cfg.UpdatePath == "":
		reason = reasonNoEndpoint
	case req.Part.NotUpdatable || !updatable:
		reason = reasonNotCard
	case ref == "" || len(ref) > MaxCtxIDLen:
		reason = reasonNoRef
	}
	if reason != "" {
		for _, u := range req.Users {
			out.Unreach(u, reason)
		}
		return out, nil
	}
	err = c.updateCard(ctx, ref, card, req.Users)
	switch {
	case err == nil:
		out.Updated = append(out.Updated, req.Users...)
		return out, nil
	case providers.ClassOf(err) != providers.ClassPermanent:
		return out, err
	case len(req.Users) == 1 || !refusedForRecipient(err):
		for _, u := range req.Users {
			out.Unreach(u, "WPS refused the update: "+err.Error())
		}
		return out, nil
	}
	for _, u := range req.Users {
		err := c.updateCard(ctx, ref, card, []string{u})
		switch {
		case err == nil:
			out.Updated = append(out.Updated, u)
		case providers.ClassOf(err) == providers.ClassPermanent:
			out.Unreach(u, "WPS refused the update for this user: "+err.Error())
		default:
			return out, err
		}
	}
	return out, nil
}

// updateContent checks new content and returns the content object of a card
// ({"type":23,"content":{…}}).
func updateContent(ct *providers.Content) (json.RawMessage, error) {
	switch ct.Kind {
	case providers.KindCard, providers.KindRaw:
	default:
		return nil, providers.Invalid("kind", "WPS 协作 updates only cards: kind card or raw (msg_type %d), not %q", MsgTypeCard, ct.Kind)
	}
	rendered, err := messageContent(&providers.Message{Kind: ct.Kind, Text: ct.Text, Body: ct.Body})
	if err != nil {
		return nil, err
	}
	if !rendered.card {
		return nil, providers.Invalid("body.msg_type", "only a card (msg_type %d) can be updated", MsgTypeCard)
	}
	return rendered.body, nil
}

// updateCard sends one update of the card ctxID for users.
func (c *Client) updateCard(ctx context.Context, ctxID string, card json.RawMessage, users []string) error {
	body, err := encodeJSON(updateRequest{
		ToUsers: &usersTarget{CompanyID: c.cfg.CompanyID, CompanyUIDs: users},
		AppKey:  c.cfg.AppKey, CtxID: ctxID, CompanyID: c.cfg.CompanyID, CompanyUID: c.cfg.CompanyUID,
		MsgType: MsgTypeCard, Content: card,
	})
	if err != nil {
		return providers.Invalid("body", "%v", err)
	}
	_, err = c.call(ctx, opUpdate, c.cfg.UpdateMethod, c.cfg.UpdatePath, body)
	return err
}

// refusedForRecipient reports whether err is WPS's answer blaming a recipient.
func refusedForRecipient(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && msgMeans(pe.Message, receiverWords)
}

package wps365

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/msgdispatch/msgdispatch/providers"
)

// createData is data of a messages/create answer (only message_id is
// relied on; the WPS open-platform documentation).
type createData struct {
	MessageID string `json:"message_id"`
}

// batchData is data of a messages/batch_create answer (§4.2).
type batchData struct {
	MessageID        string          `json:"message_id"`
	InvalidReceivers []batchReceiver `json:"invalid_receivers"`
}

// Send POSTs part.Body, byte for byte and KSO-1 signed, to
// /v7/messages/create (a body with "receiver") or /v7/messages/batch_create
// (a body with "receivers"); a reply part (Part.Target set to
// "{chat_id}/{message_id}" by Prepare) goes to
// /v7/chats/{chat_id}/messages/{message_id}/reply. Every call carries the app's bearer token; on HTTP 401
// the token is invalidated (compare-and-delete), refreshed, and the same
// bytes sent once more.
//
// On code 0 the Result's ProviderMessageID is data.message_id; a batch's
// data.invalid_receivers come back in Result.Invalid (partner users as
// "partner:{partner_id}:{user_id}"). Failures are *providers.Error
// (Provider "wps365", Op "messages/create", "messages/batch_create",
// "messages/reply" or "oauth2/token") classified as the unexported classify
// says; a request that may have been applied (timeout, reset, undecodable
// answer) is ClassUnknownOutcome, which this provider cannot re-send safely
// (no dedupe window).
func (c *Client) Send(ctx context.Context, part *providers.Part) (*providers.Result, error) {
	if part == nil || len(part.Body) == 0 {
		return nil, &providers.Error{Provider: ProviderName, Op: opCreate, Class: providers.ClassPermanent, Message: "empty part: nothing to send"}
	}
	op, path := opCreate, pathCreate
	switch {
	case part.Target != "":
		rpath, ok := replyPath(part.Target)
		if !ok {
			return nil, &providers.Error{Provider: ProviderName, Op: opReply, Class: providers.ClassPermanent,
				Message: fmt.Sprintf("part target %q is not {chat_id}/{message_id}", part.Target)}
		}
		op, path = opReply, rpath
	case isBatch(part.Body):
		op, path = opBatchCreate, pathBatchCreate
	}
	data, err := c.call(ctx, op, path, part.Body)
	if err != nil {
		return nil, err
	}
	if op != opBatchCreate {
		var d createData
		_ = json.Unmarshal(data, &d) // code 0: accepted whatever the data's shape
		return &providers.Result{ProviderMessageID: d.MessageID}, nil
	}
	var d batchData
	_ = json.Unmarshal(data, &d)
	res := &providers.Result{ProviderMessageID: d.MessageID}
	for _, r := range d.InvalidReceivers {
		switch r.Type {
		case ReceiverUser:
			res.Invalid.Users = append(res.Invalid.Users, r.ReceiverIDs...)
		case ReceiverPartnerUser:
			for _, id := range r.ReceiverIDs {
				res.Invalid.Users = append(res.Invalid.Users, PartnerUserPrefix+r.PartnerID+":"+id)
			}
		case ReceiverDept:
			res.Invalid.Depts = append(res.Invalid.Depts, r.ReceiverIDs...)
		case ReceiverCompany:
			res.Invalid.All = true
		}
	}
	return res, nil
}

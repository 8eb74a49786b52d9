package wecom

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// errAllInvalid is errcode 81013: every recipient of the request is invalid or
// outside the app's visibility ("如果全部接收人无权限或不存在，则本次调用返回失败，errcode为81013").
const errAllInvalid = 81013

// sendResponse is the answer of message/send (WeCom's API documentation).
type sendResponse struct {
	InvalidUser    IDList `json:"invaliduser"`
	InvalidParty   IDList `json:"invalidparty"`
	InvalidTag     IDList `json:"invalidtag"`
	UnlicensedUser IDList `json:"unlicenseduser"`
	MsgID          string `json:"msgid"`
	ResponseCode   string `json:"response_code"`
}

// Send POSTs part.Body, byte for byte, to {base}/cgi-bin/message/send with the
// app's access token (for a multi-tenant app: the token of part.Tenant,
// obtained through the suite token chain; see [Client.ProcessAuth] for how
// tenants are added). If WeCom says the token is invalid or expired (40014,
// 42001, or 40001), Send invalidates that token (compare-and-delete), fetches a
// new one and re-sends the same bytes once; a second failure is classified like
// any other.
//
// On errcode 0 it returns the Result: msgid, response_code and the recipients
// WeCom refused (invaliduser, invalidparty, invalidtag — member ids spelled as in
// part.To, since WeCom lower-cases them) and unlicenseduser; the rest were
// accepted, and the error is nil.
//
// On errcode 81013 (every recipient invalid) Send returns BOTH a Result, with
// Invalid (and msgid, if any) filled from the response, AND a ClassPermanent
// *providers.Error, so the worker can record per-recipient reasons while failing
// the part.
//
// Every other failure returns a nil Result and a *providers.Error with Provider
// "wecom", Op "message/send" (or the token call that failed: "gettoken",
// "service/get_suite_token", "service/get_corp_token"), Tenant set when the
// failure concerns only part.Tenant of a multi-tenant app (authorisation
// cancelled: 40084, 48004, 301007, 2000002, …; see the unexported scope),
// Code (errcode), HTTPStatus, Message (errmsg) and a Class from errcodeTable or
// the transport rules of the unexported do: a request that may have been
// applied (timeout, reset, 5xx, undecodable answer) is ClassUnknownOutcome.
func (c *Client) Send(ctx context.Context, part *providers.Part) (*providers.Result, error) {
	if part == nil || len(part.Body) == 0 {
		return nil, &providers.Error{Provider: ProviderName, Op: opSend, Class: providers.ClassPermanent, Message: "empty part: nothing to send"}
	}
	data, st, err := c.call(ctx, part.Tenant, opSend, pathSend, part.Body)
	if err != nil {
		return nil, err
	}
	code := st.code()
	if code != 0 && code != errAllInvalid {
		return nil, c.scope(part.Tenant, codeError(opSend, code, st.ErrMsg))
	}
	res := sendResult(decodeSendResponse(data), part.To)
	if code == errAllInvalid {
		return res, codeError(opSend, code, st.ErrMsg)
	}
	return res, nil
}

// decodeSendResponse decodes each field on its own, so that one field in an
// unexpected shape cannot turn an accepted message (errcode 0) into a failure; a
// field that does not decode is left empty.
func decodeSendResponse(data []byte) sendResponse {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(data, &fields) // the errcode was decoded from data already
	var r sendResponse
	for key, dst := range map[string]any{
		"invaliduser":    &r.InvalidUser,
		"invalidparty":   &r.InvalidParty,
		"invalidtag":     &r.InvalidTag,
		"unlicenseduser": &r.UnlicensedUser,
		"msgid":          &r.MsgID,
		"response_code":  &r.ResponseCode,
	} {
		if v, ok := fields[key]; ok {
			_ = json.Unmarshal(v, dst)
		}
	}
	return r
}

func sendResult(r sendResponse, to providers.Recipients) *providers.Result {
	return &providers.Result{
		ProviderMessageID: r.MsgID,
		State:             codeState(r.ResponseCode),
		Invalid: providers.Recipients{
			Users: originalCase(r.InvalidUser, to.Users),
			Depts: []string(r.InvalidParty),
			Tags:  []string(r.InvalidTag),
		},
		Unlicensed: originalCase(r.UnlicensedUser, to.Users),
	}
}

// originalCase maps each id WeCom returned to the id of sent with the same
// letters ignoring case ("不区分大小写，统一转为小写"), so the worker can match it
// to its recipients; ids not in sent are kept as returned.
func originalCase(ids IDList, sent []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		for _, s := range sent {
			if strings.EqualFold(s, id) {
				out[i] = s
				break
			}
		}
	}
	return out
}

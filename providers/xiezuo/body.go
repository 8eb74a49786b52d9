package xiezuo

import (
	"bytes"
	"encoding/json"
)

// textContent is the content of msg_type 1.
type textContent struct {
	Type  int    `json:"type"`
	Body  string `json:"body"`
	Style string `json:"style,omitempty"`
}

// cardContent is the content of msg_type 23.
type cardContent struct {
	Type    int             `json:"type"`
	Content json.RawMessage `json:"content"`
}

// usersTarget is to_users.
type usersTarget struct {
	CompanyID   string   `json:"company_id"`
	CompanyUIDs []string `json:"company_uids"`
}

// deptsTarget is to_depts.
type deptsTarget struct {
	CompanyID string   `json:"company_id"`
	DeptIDs   []string `json:"dept_ids"`
}

// sendRequest is the body of POST …/app/messages, fields in the order of the
// documented example.
type sendRequest struct {
	ToUsers     *usersTarget    `json:"to_users,omitempty"`
	ToDepts     *deptsTarget    `json:"to_depts,omitempty"`
	ToChats     []string        `json:"to_chats,omitempty"`
	ToCompanies []string        `json:"to_companies,omitempty"`
	AppKey      string          `json:"app_key"`
	BizType     string          `json:"biz_type,omitempty"`
	CtxID       string          `json:"ctx_id"`
	CompanyID   string          `json:"company_id"`
	CompanyUID  string          `json:"company_uid"`
	UType       int             `json:"utype"`
	MsgType     int             `json:"msg_type"`
	Content     json.RawMessage `json:"content"`
}

// updateRequest is the body of the (undocumented, configured) update call: the
// send body's identification and content, with the users whose card it
// replaces.
type updateRequest struct {
	ToUsers    *usersTarget    `json:"to_users"`
	AppKey     string          `json:"app_key"`
	CtxID      string          `json:"ctx_id"`
	CompanyID  string          `json:"company_id"`
	CompanyUID string          `json:"company_uid"`
	MsgType    int             `json:"msg_type"`
	Content    json.RawMessage `json:"content"`
}

// encodeJSON is compact JSON without HTML escaping and without a newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// compact is raw as compact JSON, key order, escapes and literals kept as written.
func compact(raw json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

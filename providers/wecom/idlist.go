package wecom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// IDList is a list of ids in a WeCom response (invaliduser, invalidparty,
// invalidtag, unlicenseduser). WeCom sends these either as one "|"-separated
// string ("a|b") or as a JSON array (["a","b"], sometimes [2,3] for departments
// and tags); both decode to the same list. An empty string, an empty array and
// null decode to an empty (nil) list. Empty items are dropped.
type IDList []string

// UnmarshalJSON decodes either shape of an id list.
func (l *IDList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*l = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*l = splitIDs(s)
		return nil
	case len(data) > 0 && data[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return err
		}
		var out IDList
		for _, item := range items {
			id, err := idItem(item)
			if err != nil {
				return err
			}
			if id != "" {
				out = append(out, id)
			}
		}
		*l = out
		return nil
	default:
		return fmt.Errorf("wecom: id list: want a string or an array, got %.20q", data)
	}
}

// idItem decodes one array item: a string or a number.
func idItem(item json.RawMessage) (string, error) {
	if len(item) > 0 && item[0] == '"' {
		var s string
		err := json.Unmarshal(item, &s)
		return strings.TrimSpace(s), err
	}
	var n json.Number
	if err := json.Unmarshal(item, &n); err != nil {
		return "", fmt.Errorf("wecom: id list item: want a string or a number, got %.20q", item)
	}
	return n.String(), nil
}

// splitIDs splits a "|"-separated id string, trimming spaces around ids (WeCom's
// own examples write "PartyID1 | PartyID2") and dropping empty ones.
func splitIDs(s string) IDList {
	var out IDList
	for id := range strings.SplitSeq(s, "|") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

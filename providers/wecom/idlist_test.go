package wecom

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestIDListUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		in      string
		want    IDList
		wantErr bool
	}{
		{desc: "pipe-separated string", in: `"a|b"`, want: IDList{"a", "b"}},
		{desc: "single id", in: `"a"`, want: IDList{"a"}},
		{desc: "empty string", in: `""`, want: nil},
		{desc: "spaces around pipes", in: `"PartyID1 | PartyID2"`, want: IDList{"PartyID1", "PartyID2"}},
		{desc: "empty items dropped", in: `"a||b|"`, want: IDList{"a", "b"}},
		{desc: "array of strings", in: `["a","b"]`, want: IDList{"a", "b"}},
		{desc: "array of numbers", in: `[2, 3]`, want: IDList{"2", "3"}},
		{desc: "empty array", in: `[]`, want: nil},
		{desc: "null", in: `null`, want: nil},
		{desc: "object", in: `{"a":1}`, wantErr: true},
		{desc: "number", in: `5`, wantErr: true},
		{desc: "array of objects", in: `[{}]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var got struct {
				L IDList `json:"l"`
			}
			err := json.Unmarshal([]byte(`{"l":`+tt.in+`}`), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got.L, tt.want) {
				t.Errorf("got %#v, want %#v", got.L, tt.want)
			}
		})
	}
}

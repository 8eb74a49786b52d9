package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/internal/httpapi"
)

// TestRoutesAgreeWithOpenAPI: every route of the router is an operation of
// the checked-in document and every operation is a route; the document is
// served at /v1/openapi.json without a token.
func TestRoutesAgreeWithOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	var inDoc, inRouter []string
	for path, ops := range doc.Paths {
		for method := range ops {
			inDoc = append(inDoc, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range b.api.Routes() {
		inRouter = append(inRouter, r.Method+" "+r.Path)
	}
	slices.Sort(inDoc)
	slices.Sort(inRouter)
	if !slices.Equal(inDoc, inRouter) {
		t.Errorf("routes and document differ:\nrouter:   %v\ndocument: %v", inRouter, inDoc)
	}
	r := b.must(b.do("GET", "/v1/openapi.json", "", ""), 200)
	if string(r.raw) != string(httpapi.OpenAPI()) {
		t.Error("/v1/openapi.json is not the embedded document")
	}
}

package acme

import (
	"encoding/json"
	"testing"
)

// exactMembers must compare member names as encoding/json matches them,
// which folds U+017F (long s) to "s" and U+212A (Kelvin) to "k": a body
// naming "signature" twice, once with U+017F, passed, and encoding/json
// read the second while go-jose verified the first.
func TestExactMembersFoldsAsEncodingJSONDoes(t *testing.T) {
	body := []byte("{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AAAA\",\"\u017fignature\":\"BBBB\"}")
	if err := exactMembers(body); err == nil {
		var f flattened
		_ = json.Unmarshal(body, &f)
		t.Fatalf("a body naming signature twice (once with U+017F) passed; encoding/json read %+v", f)
	}
}

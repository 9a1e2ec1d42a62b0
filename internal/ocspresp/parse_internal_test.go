package ocspresp

import (
	"bytes"
	"testing"
)

// FuzzReadResponseMeta makes sure the handler's partial parser of Source
// responses never panics, and that whatever it accepts as successful has a
// serial and a thisUpdate.
func FuzzReadResponseMeta(f *testing.F) {
	f.Add(respUnauthorized)
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x00})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 8))
	f.Fuzz(func(t *testing.T, der []byte) {
		m, err := readResponseMeta(der)
		if err == nil && m.status == statusSuccessful && (m.serial == nil || m.thisUpdate.IsZero()) {
			t.Fatalf("accepted %x without serial or thisUpdate", der)
		}
	})
}

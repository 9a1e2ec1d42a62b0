package ocspresp

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"math/big"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// FuzzParseCertID holds the allocation-free CertID reader to the full
// request parser: whatever ParseCertID accepts, parseRequest accepts, with
// the same hash algorithm, issuer hashes and serial. (The converse need
// not hold: ParseCertID declines the unusual shapes, which then take the
// full path.)
func FuzzParseCertID(f *testing.F) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384} {
		r := ocsp.Request{HashAlgorithm: h, IssuerNameHash: make([]byte, h.Size()), IssuerKeyHash: bytes.Repeat([]byte{1}, h.Size()), SerialNumber: big.NewInt(0x7001)}
		der, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		id, ok := ParseCertID(der)
		if !ok {
			return
		}
		r, err := parseRequest(der)
		if err != nil {
			t.Fatalf("%x: ParseCertID read %+v, parseRequest refuses: %v", der, id, err)
		}
		if r.HashAlgorithm != id.Hash || !bytes.Equal(r.IssuerNameHash, id.NameHash) || !bytes.Equal(r.IssuerKeyHash, id.KeyHash) ||
			r.SerialNumber.Cmp(new(big.Int).SetBytes(id.Serial)) != 0 || r.SerialNumber.Sign() <= 0 {
			t.Fatalf("%x: ParseCertID read %+v, parseRequest %+v", der, id, r)
		}
	})
}

// FuzzDecodeGETInto holds the stack-buffer GET decoder to decodeGET: what
// it decodes (given the percent-decoded path, as the server hands it), the
// full decoder decodes from the escaped path to the same bytes.
func FuzzDecodeGETInto(f *testing.F) {
	f.Add("MEMwQTA/MD0wOzAJBgUrDgMCGgUABBQ=")
	f.Add("MEMwQTA_MD0wOzAJBgUrDgMCGgUABBQ")
	f.Add("a b+c-d_e")
	f.Add("MEMw\nQTA=")
	f.Fuzz(func(t *testing.T, path string) {
		var buf [maxFastGET]byte
		der, ok := decodeGETInto(&buf, path)
		if !ok {
			return
		}
		want, err := decodeGET(pathEscape(path))
		if err != nil || !bytes.Equal(der, want) {
			t.Fatalf("%q: decodeGETInto %x, decodeGET %x, %v", path, der, want, err)
		}
	})
}

// pathEscape escapes every octet but the unreserved ones, as a client
// might: what decodeGET then unescapes is path again.
func pathEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return string(b)
}

// TestDecodeGETIntoAllocatesNothing: the hit path decodes a request into a
// pooled buffer and reads its CertID in place.
func TestDecodeGETIntoAllocatesNothing(t *testing.T) {
	r := ocsp.Request{HashAlgorithm: crypto.SHA1, IssuerNameHash: make([]byte, 20), IssuerKeyHash: make([]byte, 20), SerialNumber: big.NewInt(0x10ffeeddccbbaa)}
	der, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := base64.StdEncoding.EncodeToString(der)
	buf := new([maxFastGET]byte)
	allocs := testing.AllocsPerRun(100, func() {
		d, ok := decodeGETInto(buf, path)
		if !ok {
			t.Fatal("not decoded")
		}
		if _, ok := ParseCertID(d); !ok {
			t.Fatal("not parsed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}

package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// FuzzParsePKCS8PEM: key files are read from disk, where anyone with
// write access to the configuration may have put anything. Whatever
// parsePKCS8PEM accepts is a key the BR allows for a CA (BR §6.1.5), signs
// verifiably, and parses back to the same public key from its re-encoding.
func FuzzParsePKCS8PEM(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		f.Fatal(err)
	}
	good := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good...))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parsePKCS8PEM(data)
		if err != nil {
			if s != nil {
				t.Fatalf("refused with a key: %v", err)
			}
			return
		}
		if err := checkKey(s.Public()); err != nil {
			t.Fatalf("accepted a key the BR does not allow: %v", err)
		}
		digest := sha256.Sum256(data)
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("accepted a key that cannot sign: %v", err)
		}
		switch pub := s.Public().(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				t.Fatal("ECDSA signature does not verify")
			}
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				t.Fatalf("RSA signature does not verify: %v", err)
			}
		}
		der, err := x509.MarshalPKCS8PrivateKey(s)
		if err != nil {
			t.Fatalf("accepted key does not re-encode: %v", err)
		}
		back, err := parsePKCS8PEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if err != nil {
			t.Fatalf("re-encoded key refused: %v", err)
		}
		if eq, ok := back.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(s.Public()) {
			t.Fatal("re-encoded key has another public key")
		}
	})
}

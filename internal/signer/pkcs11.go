package signer

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// pkcs11Signer is a key pair on a PKCS#11 token.
type pkcs11Signer struct {
	crypto11.Signer
	ctx *crypto11.Context
	uri string
}

func (s *pkcs11Signer) URI() string { return s.uri }

func (s *pkcs11Signer) Close() error {
	if err := s.ctx.Close(); err != nil {
		return fmt.Errorf("signer: closing PKCS#11 context: %w", err)
	}
	return nil
}

func configure(u *PKCS11URI, cfg Config) (*crypto11.Context, error) {
	module, pin, err := u.resolve(cfg)
	if err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:        module,
		TokenLabel:  u.Token,
		TokenSerial: u.Serial,
		SlotNumber:  u.SlotID,
		Pin:         pin,
	})
	if err != nil {
		return nil, fmt.Errorf("signer: opening PKCS#11 token %s with module %s: %w", tokenName(u), module, err)
	}
	return ctx, nil
}

func tokenName(u *PKCS11URI) string {
	switch {
	case u.Token != "":
		return fmt.Sprintf("token=%q", u.Token)
	case u.Serial != "":
		return fmt.Sprintf("serial=%q", u.Serial)
	case u.SlotID != nil:
		return fmt.Sprintf("slot-id=%d", *u.SlotID)
	}
	return "(none)"
}

func optional(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// OpenPKCS11 opens the key pair named by an RFC 7512 URI (see
// ParsePKCS11URI) through crypto11. The module path and PIN come from the
// URI or from cfg (see Config). Exactly one key pair must match the URI's
// object and id.
//
// PKCS#11 logins belong to the application, not the session: while another
// Signer of this process holds the same token open, crypto11 accepts
// CKR_USER_ALREADY_LOGGED_IN and a wrong PIN is not noticed. The PIN is
// only checked when the token is first opened.
func OpenPKCS11(uri string, cfg Config) (Signer, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, err
	}
	ctx, err := configure(u, cfg)
	if err != nil {
		return nil, err
	}
	keys, err := ctx.FindKeyPairs(optional(u.ID), optional([]byte(u.Object)))
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("signer: finding key %s: %w", u, err)
	}
	if len(keys) != 1 {
		ctx.Close()
		if len(keys) == 0 {
			return nil, fmt.Errorf("%w %s on the token", ErrNoKey, u)
		}
		return nil, fmt.Errorf("signer: %d key pairs on the token match %s; add an id to choose one", len(keys), u)
	}
	if err := checkKey(keys[0].Public()); err != nil {
		ctx.Close()
		return nil, err
	}
	return &pkcs11Signer{Signer: keys[0], ctx: ctx, uri: u.String()}, nil
}

// GeneratePKCS11 creates a key pair of algorithm alg on the token named by
// uri, labelled with the URI's object (required) and identified by its id,
// or by a random 16-byte id when the URI has none. The private key is
// sensitive and not extractable. It refuses when a key pair with that label
// or id already exists on the token. The returned Signer's URI includes the
// id.
func GeneratePKCS11(uri string, cfg Config, alg Algorithm) (Signer, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, err
	}
	if u.Object == "" {
		return nil, errors.New("signer: generating a PKCS#11 key needs an object (label) in the URI")
	}
	if alg.curve() == nil && alg.rsaBits() == 0 {
		return nil, fmt.Errorf("signer: unsupported key algorithm %q", alg)
	}
	if len(u.ID) == 0 {
		u.ID = make([]byte, 16)
		if _, err := rand.Read(u.ID); err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
	}
	ctx, err := configure(u, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Signer, error) {
		ctx.Close()
		return nil, err
	}
	for _, q := range []struct{ id, label []byte }{{nil, []byte(u.Object)}, {u.ID, nil}} {
		existing, err := ctx.FindKeyPairs(q.id, q.label)
		if err != nil {
			return fail(fmt.Errorf("signer: looking for existing keys: %w", err))
		}
		if len(existing) > 0 {
			return fail(fmt.Errorf("signer: a key pair with label %q or id %X already exists on %s; refusing to create another",
				u.Object, u.ID, tokenName(u)))
		}
	}
	var k crypto11.Signer
	if c := alg.curve(); c != nil {
		k, err = ctx.GenerateECDSAKeyPairWithLabel(u.ID, []byte(u.Object), c)
	} else {
		k, err = ctx.GenerateRSAKeyPairWithLabel(u.ID, []byte(u.Object), alg.rsaBits())
	}
	if err != nil {
		return fail(fmt.Errorf("signer: generating %s key on %s: %w", alg, tokenName(u), err))
	}
	return &pkcs11Signer{Signer: k, ctx: ctx, uri: u.String()}, nil
}

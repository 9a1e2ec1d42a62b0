package signer

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PKCS11URI is the part of an RFC 7512 PKCS#11 URI vetca uses.
type PKCS11URI struct {
	// Token selection (RFC 7512 §2.3 "token", "serial", "slot-id"); the
	// token is found by exactly one of them.
	Token  string
	Serial string
	SlotID *int
	// Key selection: CKA_LABEL ("object") and/or CKA_ID ("id").
	Object string
	ID     []byte
	// Type, if set, must be "private" (the private key of the pair).
	Type string
	// Query attributes (RFC 7512 §2.3).
	ModulePath string
	PINValue   string
	PINSource  string
}

// ParsePKCS11URI parses an RFC 7512 URI such as
//
//	pkcs11:token=vetca;object=issuer-2026;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/vetca/pin
//
// Values are percent-decoded. An attribute that appears twice, an unknown
// attribute, and the attributes vetca does not implement (manufacturer,
// model, library-*, slot-description, slot-manufacturer, module-name) are
// refused rather than ignored, so a URI can never select something other
// than what it says. Vendor attributes ("x-…") are refused too.
func ParsePKCS11URI(s string) (*PKCS11URI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return nil, fmt.Errorf("signer: %q is not a pkcs11: URI", s)
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &PKCS11URI{}
	seen := map[string]bool{}
	parse := func(part, sep string, inQuery bool) error {
		if part == "" {
			return nil
		}
		for _, attr := range strings.Split(part, sep) {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return fmt.Errorf("signer: pkcs11 URI attribute %q has no value", attr)
			}
			if seen[name] {
				return fmt.Errorf("signer: pkcs11 URI attribute %q appears twice", name)
			}
			seen[name] = true
			v, err := unescape(name, raw)
			if err != nil {
				return err
			}
			if err := u.set(name, v, inQuery); err != nil {
				return err
			}
		}
		return nil
	}
	if err := parse(path, ";", false); err != nil {
		return nil, err
	}
	if err := parse(query, "&", true); err != nil {
		return nil, err
	}
	if u.Type != "" && u.Type != "private" {
		return nil, fmt.Errorf("signer: pkcs11 URI type=%s; a signing key is type=private", u.Type)
	}
	if u.PINValue != "" && u.PINSource != "" {
		return nil, fmt.Errorf("signer: pkcs11 URI has both pin-value and pin-source")
	}
	n := 0
	for _, set := range []bool{u.Token != "", u.Serial != "", u.SlotID != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("signer: pkcs11 URI must select the token by exactly one of token, serial or slot-id")
	}
	if u.Object == "" && len(u.ID) == 0 {
		return nil, fmt.Errorf("signer: pkcs11 URI must name the key by object (label) and/or id")
	}
	return u, nil
}

// unescape percent-decodes an attribute's value. A pin-value that does not
// decode is refused without the escape error, which quotes part of it.
func unescape(name, raw string) (string, error) {
	v, err := url.PathUnescape(raw)
	if err != nil && name == "pin-value" {
		return "", errors.New("signer: pkcs11 URI attribute \"pin-value\" is not validly percent-encoded")
	}
	if err != nil {
		return "", fmt.Errorf("signer: pkcs11 URI attribute %q: %w", name, err)
	}
	return v, nil
}

func (u *PKCS11URI) set(name, v string, inQuery bool) error {
	if !inQuery {
		switch name {
		case "token":
			u.Token = v
		case "serial":
			u.Serial = v
		case "slot-id":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("signer: pkcs11 URI slot-id %q is not a slot number", v)
			}
			u.SlotID = &n
		case "object":
			u.Object = v
		case "id":
			u.ID = []byte(v)
		case "type":
			u.Type = v
		default:
			return fmt.Errorf("signer: pkcs11 URI path attribute %q is not supported", name)
		}
		return nil
	}
	switch name {
	case "module-path":
		if !filepath.IsAbs(v) {
			return fmt.Errorf("signer: pkcs11 URI module-path %q is not absolute", v)
		}
		u.ModulePath = v
	case "pin-value":
		u.PINValue = v
	case "pin-source":
		u.PINSource = v
	default:
		return fmt.Errorf("signer: pkcs11 URI query attribute %q is not supported", name)
	}
	return nil
}

// String returns the URI in a canonical form without pin-value, so it can
// be stored and logged.
func (u *PKCS11URI) String() string {
	var path []string
	add := func(name, v string) {
		if v != "" {
			path = append(path, name+"="+escape(v, false))
		}
	}
	add("token", u.Token)
	add("serial", u.Serial)
	if u.SlotID != nil {
		path = append(path, "slot-id="+strconv.Itoa(*u.SlotID))
	}
	add("object", u.Object)
	if len(u.ID) > 0 {
		var b strings.Builder
		for _, c := range u.ID {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		path = append(path, "id="+b.String())
	}
	add("type", u.Type)
	s := "pkcs11:" + strings.Join(path, ";")
	var q []string
	if u.ModulePath != "" {
		q = append(q, "module-path="+escape(u.ModulePath, true))
	}
	if u.PINSource != "" {
		q = append(q, "pin-source="+escape(u.PINSource, true))
	}
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

// escape percent-encodes everything but RFC 3986 unreserved characters
// (and "/" and ":" in query values, where RFC 7512 allows them).
func escape(v string, query bool) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case query && (c == '/' || c == ':'):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// resolve returns the module path and PIN to use: from the URI, else from
// cfg. A value given in both that differs is an error, so configuration
// can never silently point a stored URI at another module or PIN.
func (u *PKCS11URI) resolve(cfg Config) (module, pin string, err error) {
	module = u.ModulePath
	if module == "" {
		module = cfg.ModulePath
	} else if cfg.ModulePath != "" && cfg.ModulePath != module {
		return "", "", fmt.Errorf("signer: module-path %s in the URI differs from the configured %s", module, cfg.ModulePath)
	}
	if module == "" {
		return "", "", fmt.Errorf("signer: no PKCS#11 module: set module-path in the URI, or --pkcs11-module (VETCA_PKCS11_MODULE)")
	}
	switch {
	case u.PINValue != "":
		pin = u.PINValue
	case u.PINSource != "":
		pin, err = readPINSource(u.PINSource)
		if err != nil {
			return "", "", err
		}
	}
	if pin == "" {
		pin = cfg.PIN
	} else if cfg.PIN != "" && cfg.PIN != pin {
		return "", "", fmt.Errorf("signer: the PIN in the URI differs from the configured PIN")
	}
	if pin == "" {
		return "", "", fmt.Errorf("signer: no PIN: set pin-source in the URI, or VETCA_PKCS11_PIN (or --pkcs11-pin)")
	}
	return module, pin, nil
}

// readSecretFile reads a pin-source file: a regular file that no one but
// its owner may read or write, since the PIN lets anyone on the host sign
// with the CA key.
func readSecretFile(path string) ([]byte, error) {
	return readPrivateFile(path, "pin-source", func(perm os.FileMode) error {
		if perm&0o077 != 0 {
			return fmt.Errorf("has mode %#o; others may read it: chmod 600 it", perm)
		}
		return nil
	})
}

// readPINSource reads a PIN from a file named by an absolute path or a
// file: URI; one trailing newline is dropped. Command sources ("|cmd") are
// refused.
func readPINSource(src string) (string, error) {
	path := src
	if strings.HasPrefix(src, "file:") {
		p, err := filePath(src)
		if err != nil {
			return "", err
		}
		path = p
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("signer: pin-source %q must be an absolute path or a file: URI", src)
	}
	b, err := readSecretFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return s, nil
}

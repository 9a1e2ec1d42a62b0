// Package mpictest creates a throwaway PKI for mutual TLS between vetca and
// its remote perspectives in tests: a CA, a server certificate for
// 127.0.0.1 / ::1 / localhost (or given hosts) and a client certificate,
// all ECDSA P-256, as Go values and as PEM files.
//
// It is for tests only; nothing here is fit for production keys.
package mpictest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/mpic"
)

// PKI is a test CA with one server and one client certificate.
type PKI struct {
	CA     *x509.Certificate
	CAKey  *ecdsa.PrivateKey
	CAPEM  []byte
	Pool   *x509.CertPool // holds CA only
	Server tls.Certificate
	Client tls.Certificate

	ServerCertPEM, ServerKeyPEM []byte
	ClientCertPEM, ClientKeyPEM []byte

	now time.Time
}

// Files names the PEM files written by WriteFiles.
type Files struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// New creates a PKI valid from an hour before clk.Now() for a day. The
// server certificate names hosts (default 127.0.0.1, ::1 and localhost).
func New(clk clock.Clock, hosts ...string) (*PKI, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	p := &PKI{now: clk.Now()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "vetca test perspective CA"},
		NotBefore:             p.now.Add(-time.Hour),
		NotAfter:              p.now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	p.CA, _ = x509.ParseCertificate(der)
	p.CAKey = key
	p.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p.Pool = x509.NewCertPool()
	p.Pool.AddCert(p.CA)

	p.Server, p.ServerCertPEM, p.ServerKeyPEM, err = p.issue("perspective server", hosts, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	p.Client, p.ClientCertPEM, p.ClientKeyPEM, err = p.issue("vetca primary", nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// NewClientCert issues another client certificate from the CA.
func (p *PKI) NewClientCert(cn string) (tls.Certificate, error) {
	c, _, _, err := p.issue(cn, nil, x509.ExtKeyUsageClientAuth)
	return c, err
}

// ServerTLSConfig is mpic.ServerTLSConfig with this PKI.
func (p *PKI) ServerTLSConfig() *tls.Config { return mpic.ServerTLSConfig(p.Server, p.Pool) }

// ClientTLSConfig is mpic.ClientTLSConfig with this PKI.
func (p *PKI) ClientTLSConfig() *tls.Config { return mpic.ClientTLSConfig(p.Client, p.Pool) }

// WriteFiles writes the CA and both key pairs as PEM into dir.
func (p *PKI) WriteFiles(dir string) (Files, error) {
	f := Files{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	for name, data := range map[string][]byte{
		f.CA: p.CAPEM, f.ServerCert: p.ServerCertPEM, f.ServerKey: p.ServerKeyPEM,
		f.ClientCert: p.ClientCertPEM, f.ClientKey: p.ClientKeyPEM,
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return Files{}, fmt.Errorf("mpictest: %w", err)
		}
	}
	return f, nil
}

func (p *PKI) issue(cn string, hosts []string, eku x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    p.now.Add(-time.Hour),
		NotAfter:     p.now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.CAKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	return c, certPEM, keyPEM, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

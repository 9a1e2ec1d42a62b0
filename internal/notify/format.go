package notify

import (
	"crypto/tls"
	"encoding/base64"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}

package profile

import "crypto/x509"

// TamperTemplate lets tests change a Prepared's template after linting, as
// a bug or an attacker between lint and sign would.
func TamperTemplate(p *Prepared, f func(*x509.Certificate)) { f(p.template) }

// TamperTBS lets tests change the recorded linted TBS.
func TamperTBS(p *Prepared, f func([]byte) []byte) { p.tbs = f(p.tbs) }

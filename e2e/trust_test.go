package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/audit"
)

// The seed-2 insider, with the real server running: they can write the
// database and run vetca's own binary, but hold only a key directory of
// their own. `vetca user add` with it is refused, and so it is when they
// also set the trail's first event's key id to their key's: a writer
// checks that event's signature, not its key id. Nothing is written either
// time, and `audit verify` with the installation's keys names the edited
// event.
func TestUserAddedWithAnotherKeyCannotAct(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		in.Serve()
		populate(t, in)

		// The forger's own installation, for its key directory.
		evilDir := t.TempDir()
		out, errOut, code := in.CLIEnv([]string{"VETCA_DB=sqlite:" + filepath.Join(evilDir, "evil.db"), "VETCA_KEY_DIR=" + filepath.Join(evilDir, "keys")}, "init", "--json")
		if code != 0 {
			t.Fatalf("forger's init: %d %s %s", code, out, errOut)
		}
		var evil struct{ AuditKeyID string }
		if err := json.Unmarshal([]byte(out), &evil); err != nil || evil.AuditKeyID == "" {
			t.Fatalf("init --json: %q %v", out, err)
		}
		addMallory := func() (string, string, int) {
			return in.CLI("user", "add", "mallory", "--role", "compliance", "--role", "verifier", "--json", "--key-dir", filepath.Join(evilDir, "keys"))
		}
		users := in.SQL("SELECT COUNT(*) FROM users")
		if _, errOut, code := addMallory(); code != 1 || !strings.Contains(errOut, "another installation") {
			t.Fatalf("user add with another key directory: exit %d %s", code, errOut)
		}
		if n := in.SQL("SELECT COUNT(*) FROM users"); n != users {
			t.Fatalf("the refused user add wrote users: %s -> %s", users, n)
		}

		// Make the trail's first event name the forger's key.
		in.SQL("UPDATE audit_events SET key_id = '" + evil.AuditKeyID + "' WHERE seq = 1")
		if _, errOut, code := addMallory(); code != 1 || !strings.Contains(errOut, "does not verify") {
			t.Fatalf("user add after the patch: exit %d %s", code, errOut)
		}
		if n := in.SQL("SELECT COUNT(*) FROM users WHERE name = 'mallory'"); n != "0" {
			t.Fatalf("the refused user add wrote the user (%s rows)", n)
		}
		v, _, code := verify(t, in)
		if code != 1 || !has(v, "audit_events", "1", "") {
			t.Fatalf("audit verify with the real keys: exit %d %+v", code, v.Findings)
		}
	})
}

// serve signs the chain head into the checkpoint directory and the
// database and publishes it; a chain truncated after that checkpoint is
// reported by `audit verify`, even when the database's copies are gone.
func TestServeCheckpointsCatchTruncation(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		in.Serve("--checkpoint-burst", "1")
		populate(t, in)
		head := in.SQL("SELECT MAX(seq) FROM audit_events")
		cp := waitCheckpoint(t, in, head)

		// Published for auditors, with the public key to check it.
		resp, err := http.Get(in.URL + "/audit/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		var pub audit.Checkpoint
		err = json.NewDecoder(resp.Body).Decode(&pub)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || pub.Seq < cp.Seq || pub.Signature == "" {
			t.Fatalf("GET /audit/checkpoint: %d %+v %v (file checkpoint %d from %s)", resp.StatusCode, pub, err, cp.Seq, cp.Source)
		}
		resp, err = http.Get(in.URL + "/audit/public-key")
		if err != nil {
			t.Fatal(err)
		}
		pk, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /audit/public-key: %d %v", resp.StatusCode, err)
		}
		key, err := audit.ParsePublicKey(pk)
		if err != nil || pub.Verify(key) != nil {
			t.Fatalf("the published checkpoint does not verify under the published key: %v", err)
		}
		in.Stop()

		if v, _, code := verify(t, in); code != 0 || v.OK != true {
			t.Fatalf("intact trail: exit %d %+v", code, v.Findings)
		}
		// Truncate after the checkpoint: drop its last events, the
		// database's checkpoints, and make the head agree.
		in.SQL("DELETE FROM audit_events WHERE seq > " + itoa(cp.Seq-2))
		in.SQL("DELETE FROM audit_checkpoints")
		in.SQL("UPDATE audit_head SET seq = " + itoa(cp.Seq-2) + ", head_hash = (SELECT hash FROM audit_events WHERE seq = " + itoa(cp.Seq-2) + ")")
		v, text, code := verify(t, in)
		if code != 1 || !has(v, "audit_events", itoa(cp.Seq), "") || !strings.Contains(strings.Join(text, "\n"), "truncated") {
			t.Fatalf("truncation not reported: exit %d\n%s", code, strings.Join(text, "\n"))
		}
		// serve refuses to sign over it, and says so.
		in.Serve("--checkpoint-burst", "1")
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(in.Logs(), "audit checkpoint not written") {
			if time.Now().After(deadline) {
				t.Fatalf("serve did not report the truncated chain:\n%s", in.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// A checkpoint signed by another installation's key is refused by name.
func TestVerifyRefusesForeignCheckpoint(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := New(t, backend)
			other := New(t, "sqlite")
			file := filepath.Join(other.Dir, "other-checkpoint.json")
			if out, errOut, code := other.CLI("audit", "checkpoint", "--out", file); code != 0 {
				t.Fatalf("checkpoint of the other installation: %d %s %s", code, out, errOut)
			}
			_, errOut, code := in.CLI("audit", "verify", "--checkpoint", file)
			if code != 1 || !strings.Contains(errOut, "signed by key") || !strings.Contains(errOut, "not the installation's audit key") {
				t.Fatalf("foreign checkpoint: exit %d %s", code, errOut)
			}
			// The same file dropped into the checkpoint directory is a finding.
			dir := filepath.Join(in.Dir, "keys", "checkpoints")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "checkpoint-00000000000000000099.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			v, _, code := verify(t, in)
			if code != 1 || !has(v, "checkpoint", "", "signature") {
				t.Fatalf("foreign checkpoint in the directory: exit %d %+v", code, v.Findings)
			}
		})
	}
}

// Every command that writes needs the audit key and writes nothing without
// it; reading and verifying need only the pinned public key.
func TestWritingCommandsNeedTheAuditKey(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := New(t, backend)
			keyPath := filepath.Join(in.Dir, "keys", "audit.key")
			if err := os.Rename(keyPath, keyPath+".away"); err != nil {
				t.Fatal(err)
			}
			before := in.SQL("SELECT COUNT(*) FROM audit_events")
			for _, args := range [][]string{
				{"user", "add", "eve", "--role", "verifier"},
				{"user", "token", "admin"},
				{"audit", "checkpoint"},
				{"crl", "publish"},
				{"ceremony", "intermediate"},
				{"serve", "--listen", "127.0.0.1:0", "--public-url", "http://pki.vetca-test.com", "--no-perspectives"},
			} {
				_, errOut, code := in.CLI(args...)
				if code != 1 || !strings.Contains(errOut, "audit key") {
					t.Errorf("vetca %v without the audit key: exit %d %s", args, code, errOut)
				}
			}
			if after := in.SQL("SELECT COUNT(*) FROM audit_events"); after != before {
				t.Fatalf("commands without the key wrote events: %s -> %s", before, after)
			}
			if out, errOut, code := in.CLI("audit", "verify"); code != 0 {
				t.Fatalf("audit verify with only the public key: %d %s %s", code, out, errOut)
			}
		})
	}
}

// waitCheckpoint waits for serve to write a checkpoint covering event seq
// into the checkpoint directory.
func waitCheckpoint(t *testing.T, in *Instance, seq string) *audit.Checkpoint {
	t.Helper()
	want, err := strconv.ParseInt(seq, 10, 64)
	if err != nil {
		t.Fatalf("sequence number %q: %v", seq, err)
	}
	key, err2 := audit.LoadPublicKey(filepath.Join(in.Dir, "keys", "audit.pub"))
	if err2 != nil {
		t.Fatal(err2)
	}
	dir := filepath.Join(in.Dir, "keys", "checkpoints")
	deadline := time.Now().Add(60 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) { // the directory appears with the first checkpoint
			t.Fatal(err)
		}
		for i := len(entries) - 1; i >= 0; i-- {
			// Only a checkpoint's own name: the checkpointer writes
			// each first into a temporary file beside it, whole, and
			// serve does not publish that one.
			if n := entries[i].Name(); !strings.HasPrefix(n, "checkpoint-") || !strings.HasSuffix(n, ".json") {
				continue
			}
			cp, err := audit.ReadCheckpoint(filepath.Join(dir, entries[i].Name()), key)
			if err == nil && cp.Seq >= want {
				return cp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of event %s in %s:\n%s", seq, dir, in.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package main

import (
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshdfu/meshdfu/web"
)

// TestKeyFiles_OwnerOnly: the files that hold keys are written for their
// owner only (docs/security.md): the network file of `network new` (every
// key of the network) 0600, and a distributor's data directory 0700 with
// its node.json (DevKey, NetKeys, AppKeys) 0600, even when a node.json
// readable by others was there before. The signing key (`firmware
// keygen`) and the self-signed TLS key have their own tests
// (TestFirmware_KeygenPackInspect, TestUpdateServer_SelfSigned).
func TestKeyFiles_OwnerOnly(t *testing.T) {
	dir := t.TempDir()
	netFile := filepath.Join(dir, "net.json")
	if _, _, err := runCmd(t, "network", "new", "--nodes", "2", "--out", netFile); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "dist")
	f := &nodeFlags{cdbPath: netFile, addr: "0x0002", dataDir: dataDir, bearer: "udp:127.0.0.1:0", ivIndex: "0"}
	for run := range 2 {
		d, err := startDistributor(t.Context(), f, distributorOptions{maxImageSize: 1 << 12, maxImages: 1}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		for path, want := range map[string]fs.FileMode{
			netFile:                               0o600,
			dataDir:                               0o700,
			filepath.Join(dataDir, "node.json"):   0o600,
			filepath.Join(dataDir, distImagesDir): 0o700,
		} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("run %d: %s: mode %v, want %v", run, path, st.Mode().Perm(), want)
			}
		}
		// A node.json left readable by others is rewritten owner-only.
		if err := os.Chmod(filepath.Join(dataDir, "node.json"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDistributor_HTTPLoopbackByDefault: the distributor's HTTP API
// listens on a loopback address unless told otherwise, where it needs no
// token; any other address without --token is refused at start
// (TestDaemonsAndDist_BadFlags: "distributor open http"), and with a token
// every /api call needs it (web TestAPI_Token).
func TestDistributor_HTTPLoopbackByDefault(t *testing.T) {
	fl := newDistributorCmd().Flags().Lookup("http")
	if fl == nil {
		t.Fatal("no --http flag")
	}
	host, _, err := net.SplitHostPort(fl.DefValue)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("--http defaults to %q, want a loopback address", fl.DefValue)
	}
	if err := web.CheckListen(fl.DefValue, ""); err != nil {
		t.Fatalf("the default address needs a token: %v", err)
	}
	if fl := newDistributorCmd().Flags().Lookup("token"); fl == nil || fl.DefValue != "" {
		t.Fatalf("--token flag %+v", fl)
	}
}

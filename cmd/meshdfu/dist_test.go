package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/web"
)

// Mistakes in flags and arguments exit 2 with a message that says what
// to give, before any node starts.
func TestDaemonsAndDist_BadFlags(t *testing.T) {
	dir := t.TempDir()
	node := []string{"--cdb", filepath.Join(dir, "none.json"), "--node", "0x0001", "--data-dir", filepath.Join(dir, "d")}
	dist := append([]string{"dist"}, node...)
	withDist := append(append([]string{}, dist...), "--distributor", "0x0002")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", withDist, "name a subcommand"},
		{"no distributor", append(append([]string{}, dist...), "caps"), "distributor"},
		{"bad distributor", append(append([]string{}, dist...), "--distributor", "zz", "caps"), "16-bit hex"},
		{"group distributor", append(append([]string{}, dist...), "--distributor", "0xC000", "caps"), "unicast"},
		{"no node", []string{"dist", "--distributor", "2", "caps"}, "required"},
		{"receivers without action", append(append([]string{}, withDist...), "receivers"), "add, list or clear"},
		{"receivers add nothing", append(append([]string{}, withDist...), "receivers", "add"), "requires at least 1 arg"},
		{"receivers add group", append(append([]string{}, withDist...), "receivers", "add", "0xC000"), "not a unicast"},
		{"receivers add bad index", append(append([]string{}, withDist...), "receivers", "add", "0x0003:x"), "image index"},
		{"firmware delete word", append(append([]string{}, withDist...), "firmware", "delete", "first"), "want an image index"},
		{"upload-oob not a URI", append(append([]string{}, withDist...), "upload-oob", "example.com", "590001000100"), "absolute URI"},
		{"upload-oob bad FWID", append(append([]string{}, withDist...), "upload-oob", "https://example.com", "zz"), "not hex"},
		{"upload missing file", append(append([]string{}, withDist...), "upload", filepath.Join(dir, "none.mdfu")), "no such file"},
		{"start bad policy", append(append([]string{}, withDist...), "start", "--policy", "later"), "want verify or apply"},
		{"start unicast group", append(append([]string{}, withDist...), "start", "--group", "0x0003"), "want a group address"},
		{"start bad ttl", append(append([]string{}, withDist...), "start", "--ttl", "300"), "ttl 300"},
		{"start bad mode", append(append([]string{}, withDist...), "start", "--mode", "fast"), "push, pull or auto"},
		{"status bad interval", append(append([]string{}, withDist...), "--interval", "0s", "status"), "--interval"},
		{"distributor open http", append(append([]string{"distributor"}, node...), "--http", "0.0.0.0:0"), "token"},
		{"distributor bad http", append(append([]string{"distributor"}, node...), "--http", "8080"), "HOST:PORT"},
		{"target reboot delay", append(append([]string{"target"}, node...), "--reboot-delay", "-1s"), "--reboot-delay"},
		{"target pubkey", append(append([]string{"target"}, node...), "--pubkey", filepath.Join(dir, "none.pub")), "--pubkey"},
		{"target subscribe", append(append([]string{"target"}, node...), "--subscribe", "0x0003"), "not a group"},
	} {
		_, stderr, err := runCmd(t, c.args...)
		if code := exitCode(err); code != 2 {
			t.Errorf("%s: exit %d (%v), want 2", c.name, code, err)
			continue
		}
		if msg := err.Error() + stderr; !strings.Contains(msg, c.want) {
			t.Errorf("%s: %q does not say %q", c.name, msg, c.want)
		}
	}
}

// The distributor's web.Backend in-process: every API call goes through
// the node's own Distribution Client to its server (over the node's
// loopback), and the state survives a restart.
func TestDistributor_Backend(t *testing.T) {
	dir := t.TempDir()
	netFile := filepath.Join(dir, "net.json")
	if _, _, err := runCmd(t, "network", "new", "--nodes", "2", "--out", netFile); err != nil {
		t.Fatal(err)
	}
	f := &nodeFlags{cdbPath: netFile, addr: "0x0002", dataDir: filepath.Join(dir, "dist"), bearer: "udp:127.0.0.1:0", ivIndex: "0"}
	opts := distributorOptions{maxImageSize: 1 << 16, maxImages: 2}
	d, err := startDistributor(t.Context(), f, opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{Backend: d})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body []byte, want int, contains string) string {
		t.Helper()
		req := httptest.NewRequest(method, "http://127.0.0.1"+path, bytes.NewReader(body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != want || !strings.Contains(w.Body.String(), contains) {
			t.Fatalf("%s %s: %d %s, want %d with %q", method, path, w.Code, w.Body, want, contains)
		}
		return w.Body.String()
	}
	call("POST", "/api/receivers", []byte(`{"receivers":[{"address":"0x0003"},{"address":"0x0004","image_index":1}]}`), 200, `"address": "0x0004"`)
	image := func(fwid []byte, content string) []byte {
		_, priv, _ := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
		m, _ := fw.NewMetadata("1.2.3", []byte(content), 0)
		m.Sign(priv, fwid)
		meta, _ := m.Marshal()
		var b bytes.Buffer
		if err := fw.WriteImageFile(&b, &fw.ImageFile{FirmwareID: fwid, Metadata: meta, Image: []byte(content)}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	fwid := []byte{0x59, 0, 1, 0, 2, 0}
	call("POST", "/api/images", image(fwid, "new firmware"), 201, `"version": "1.2.3"`)
	call("POST", "/api/images", image(fwid, "new firmware"), 201, `"index": 0`)
	call("POST", "/api/images", image(fwid, "other firmware"), 409, "other content")
	call("POST", "/api/images", image([]byte{0x59, 0, 1, 0, 3, 0}, "second"), 201, `"index": 1`)
	call("POST", "/api/images", image([]byte{0x59, 0, 1, 0, 4, 0}, "third"), 409, "full")
	call("DELETE", "/api/images/5", nil, 404, "no image at index 5")
	call("DELETE", "/api/images/1", nil, 200, "")
	call("POST", "/api/start", []byte(`{"image_index":3}`), 409, `"status": "Firmware Not Found"`)
	call("POST", "/api/start", []byte(`{"app_key_index":1}`), 409, `"status": "Invalid AppKey Index"`)
	call("POST", "/api/resume", nil, 409, "nothing to resume")
	call("POST", "/api/apply", nil, 409, `"status": "Wrong Phase"`)
	call("POST", "/api/suspend", nil, 409, "")
	body := call("GET", "/api/status", nil, 200, `"phase": "Idle"`)
	var st web.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Node != "0x0002" || len(st.Receivers) != 2 || len(st.Images) != 1 || st.Images[0].FirmwareID != "590001000200" {
		t.Fatalf("status %+v", st)
	}
	d.Close()

	// Restarted from its data directory: the same receivers and images.
	d, err = startDistributor(t.Context(), f, opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, _ = web.New(web.Config{Backend: d})
	call("GET", "/api/status", nil, 200, `"firmware_id": "590001000200"`)
	call("GET", "/api/receivers", nil, 200, `"address": "0x0004"`)
	call("DELETE", "/api/receivers", nil, 200, `"receivers": []`)
	call("DELETE", "/api/images", nil, 200, `"images": []`)
	if _, err := os.Stat(filepath.Join(dir, "dist", distStateFile)); err != nil {
		t.Fatalf("state file: %v", err)
	}
}

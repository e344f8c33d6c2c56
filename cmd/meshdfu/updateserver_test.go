package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	fwhttps "github.com/meshdfu/meshdfu/fw/https"
)

// lockedBuffer collects a command's standard error across goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startUpdateServer runs "meshdfu updateserver" with args until the test
// ends and returns what it printed up to "listening on", by line.
func startUpdateServer(t *testing.T, args ...string) (map[string]string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	root := newRootCmd()
	root.SetArgs(append([]string{"updateserver"}, args...))
	root.SetOut(pw)
	root.SetErr(stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("updateserver: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("updateserver did not stop")
		}
	})
	out := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok {
			out[k] = v
		}
		if rest, ok := strings.CutPrefix(line, "listening on "); ok {
			out["url"] = rest
			go io.Copy(io.Discard, pr)
			return out, stderr
		}
	}
	t.Fatalf("updateserver ended before listening; stderr:\n%s", stderr.String())
	return nil, nil
}

func TestUpdateServer_SelfSigned(t *testing.T) {
	dir := t.TempDir()
	cur := []byte{0xf1, 0x05, 0x01, 0x00, 0x00}
	next := []byte{0xf1, 0x05, 0x02, 0x00, 0x00}
	img := bytes.Repeat([]byte("firmware"), 1000)
	meta, err := fw.NewMetadata("2.0.0", img, 0)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := meta.Marshal()
	var file bytes.Buffer
	if err := fw.WriteImageFile(&file, &fw.ImageFile{FirmwareID: next, Metadata: mb, Image: img}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app-2.0.0.mdfu"), file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	out, stderr := startUpdateServer(t, "--dir", dir, "--listen", "127.0.0.1:0", "--self-signed")
	certPath := out["certificate"]
	if certPath != filepath.Join(dir, ".tls", "cert.pem") || !strings.HasPrefix(out["url"], "https://127.0.0.1:") {
		t.Fatalf("printed %q", out)
	}
	// The printed fingerprint is the certificate's; the key is private.
	pemBytes, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if got := fwhttps.Fingerprint(block.Bytes); got != out["sha256 fingerprint"] {
		t.Fatalf("fingerprint %s, printed %s", got, out["sha256 fingerprint"])
	}
	if st, err := os.Stat(filepath.Join(dir, ".tls", "key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st.Mode(), err)
	}

	c, err := fwhttps.NewClient(fwhttps.Config{CAFile: certPath})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	res, err := c.Check(t.Context(), out["url"], cur)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.FirmwareID, next) || res.Size != int64(len(img)) {
		t.Fatalf("check: %+v", res)
	}
	var got bytes.Buffer
	f, err := c.Retrieve(t.Context(), out["url"]+"/updates", cur, res, 1<<20, &got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), img) || !bytes.Equal(f.Metadata, mb) {
		t.Fatal("retrieved image or metadata differs")
	}
	if _, err := c.Check(t.Context(), out["url"], next); err == nil {
		t.Fatal("check from the newest firmware: no error")
	}
	// A client that does not trust the certificate is refused.
	untrusting, _ := fwhttps.NewClient(fwhttps.Config{RootCAs: x509.NewCertPool()})
	if _, err := untrusting.Check(t.Context(), out["url"], cur); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	if !strings.Contains(stderr.String(), "status=200") || !strings.Contains(stderr.String(), "path=/updates/get") {
		t.Errorf("request log:\n%s", stderr.String())
	}

	// A second start reuses the certificate.
	again, _ := startUpdateServer(t, "--dir", dir, "--listen", "127.0.0.1:0", "--self-signed")
	if again["sha256 fingerprint"] != out["sha256 fingerprint"] {
		t.Fatalf("new certificate on restart: %s, was %s", again["sha256 fingerprint"], out["sha256 fingerprint"])
	}
}

func TestUpdateServer_Flags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"--dir", filepath.Join(dir, "missing"), "--self-signed"},
		{"--dir", dir},
		{"--dir", dir, "--cert", "c.pem"},
		{"--dir", dir, "--self-signed", "--cert", "c.pem", "--key", "k.pem"},
		{"--dir", dir, "--self-signed", "--product-octets", "-1"},
		{"--dir", dir, "--cert", filepath.Join(dir, "none.pem"), "--key", filepath.Join(dir, "none.key"), "--listen", "127.0.0.1:0"},
	} {
		root := newRootCmd()
		root.SetArgs(append([]string{"updateserver"}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		if err := root.Execute(); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

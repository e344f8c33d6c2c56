package fw

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestKeys_FilesRoundTrip(t *testing.T) {
	pub, priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.key")
	if err := WriteKeyFiles(path, priv, false); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, path + ".pub": 0o644} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", p, st.Mode().Perm(), mode, err)
		}
	}
	gotPriv, err := ReadPrivateKeyFile(path)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("private: %v", err)
	}
	gotPub, err := ReadPublicKeyFile(path + ".pub")
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("public: %v", err)
	}
	if fromPriv, err := ReadPublicKeyFile(path); err != nil || !fromPriv.Equal(pub) {
		t.Fatalf("public from private file: %v", err)
	}
	if err := WriteKeyFiles(path, priv, false); !errors.Is(err, os.ErrExist) {
		t.Errorf("overwrite refused: %v", err)
	}
	if err := WriteKeyFiles(path, priv, true); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if _, err := ReadPrivateKeyFile(path + ".pub"); !errors.Is(err, ErrKeyFormat) {
		t.Errorf("public file as private: %v", err)
	}
	if _, err := ReadPrivateKeyFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestKeys_Deterministic(t *testing.T) {
	seed := bytes.Repeat([]byte{1}, 32)
	a, _, _ := GenerateKey(bytes.NewReader(seed))
	b, _, _ := GenerateKey(bytes.NewReader(seed))
	if !a.Equal(b) {
		t.Fatal("same random source, different keys")
	}
	if _, _, err := GenerateKey(bytes.NewReader(nil)); err == nil {
		t.Fatal("empty random source accepted")
	}
	if _, _, err := GenerateKey(nil); err == nil {
		t.Fatal("nil random source accepted")
	}
}

func TestKeys_ParseRejects(t *testing.T) {
	_, priv, _ := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	good, _ := MarshalPrivateKey(priv)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	for name, p := range map[string][]byte{
		"empty":          nil,
		"not PEM":        []byte("hello"),
		"two blocks":     append(bytes.Clone(good), good...),
		"wrong type":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"garbage DER":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"ECDSA private":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"ECDSA public":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER}),
		"garbage public": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	} {
		_, err1 := ParsePrivateKey(p)
		_, err2 := ParsePublicKey(p)
		if !errors.Is(err1, ErrKeyFormat) || !errors.Is(err2, ErrKeyFormat) {
			t.Errorf("%s: %v / %v", name, err1, err2)
		}
	}
	if _, err := MarshalPrivateKey(priv[:5]); !errors.Is(err, ErrKeyFormat) {
		t.Error("short private key marshalled")
	}
	if _, err := MarshalPublicKey(nil); !errors.Is(err, ErrKeyFormat) {
		t.Error("nil public key marshalled")
	}
}

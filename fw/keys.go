package fw

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// PEM block types of key files: PKCS #8 for the private key and PKIX
// (SubjectPublicKeyInfo) for the public key, as OpenSSL writes them.
const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// PublicKeySuffix is appended to a private key file's name to name its
// public key file.
const PublicKeySuffix = ".pub"

// GenerateKey returns a new Ed25519 signing key pair drawn from rand
// (crypto/rand.Reader in production; a fixed reader in tests).
func GenerateKey(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	if rand == nil {
		return nil, nil, errors.New("fw: generate key: nil random source")
	}
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("fw: generate key: %w", err)
	}
	return pub, priv, nil
}

// MarshalPrivateKey returns priv as a PEM "PRIVATE KEY" block (PKCS #8).
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has %d octets", ErrKeyFormat, len(priv))
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("fw: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// MarshalPublicKey returns pub as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key has %d octets", ErrKeyFormat, len(pub))
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("fw: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

func onePEM(p []byte) (*pem.Block, error) {
	b, rest := pem.Decode(p)
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKeyFormat)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrKeyFormat)
	}
	return b, nil
}

// ParsePrivateKey decodes a PEM "PRIVATE KEY" block holding an Ed25519 key.
func ParsePrivateKey(p []byte) (ed25519.PrivateKey, error) {
	b, err := onePEM(p)
	if err != nil {
		return nil, err
	}
	if b.Type != pemPrivate {
		return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrKeyFormat, b.Type, pemPrivate)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not an Ed25519 key", ErrKeyFormat, k)
	}
	return priv, nil
}

// ParsePublicKey decodes a PEM "PUBLIC KEY" block holding an Ed25519 key.
// Given a "PRIVATE KEY" block instead, it returns that key's public half.
func ParsePublicKey(p []byte) (ed25519.PublicKey, error) {
	b, err := onePEM(p)
	if err != nil {
		return nil, err
	}
	switch b.Type {
	case pemPrivate:
		priv, err := ParsePrivateKey(p)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	case pemPublic:
	default:
		return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrKeyFormat, b.Type, pemPublic)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not an Ed25519 key", ErrKeyFormat, k)
	}
	return pub, nil
}

// WriteKeyFiles writes priv to path (mode 0600) and its public key to
// path+".pub" (mode 0644). Unless overwrite is set it refuses to replace an
// existing file, so a signing key is not lost by accident.
func WriteKeyFiles(path string, priv ed25519.PrivateKey, overwrite bool) error {
	privPEM, err := MarshalPrivateKey(priv)
	if err != nil {
		return err
	}
	pubPEM, err := MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if err := writeNew(path, privPEM, 0o600, overwrite); err != nil {
		return err
	}
	return writeNew(path+PublicKeySuffix, pubPEM, 0o644, overwrite)
}

func writeNew(path string, data []byte, mode os.FileMode, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return fmt.Errorf("fw: write key: %w", err)
	}
	if err := f.Chmod(mode); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return fmt.Errorf("fw: write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("fw: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fw: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fw: write key: %w", err)
	}
	return nil
}

// ReadPrivateKeyFile reads a private key file written by WriteKeyFiles.
func ReadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	p, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fw: read key: %w", err)
	}
	k, err := ParsePrivateKey(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ReadPublicKeyFile reads a public key file (or the public half of a
// private key file).
func ReadPublicKeyFile(path string) (ed25519.PublicKey, error) {
	p, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fw: read key: %w", err)
	}
	k, err := ParsePublicKey(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

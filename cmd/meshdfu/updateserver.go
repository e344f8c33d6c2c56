package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	fwhttps "github.com/meshdfu/meshdfu/fw/https"
)

// updateServerOptions are the flags of "meshdfu updateserver".
type updateServerOptions struct {
	dir, listen      string
	certFile, key    string
	selfSigned       bool
	productOctets    int
	shutdownDeadline time.Duration
}

func newUpdateServerCmd() *cobra.Command {
	o := updateServerOptions{shutdownDeadline: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "updateserver --dir DIR [--listen :8443] [--cert FILE --key FILE | --self-signed]",
		Short: "Serve firmware for Firmware Check and Retrieval over HTTPS",
		Long: `updateserver serves the image files in DIR (made by "meshdfu firmware pack",
*.mdfu) to Bluetooth Mesh DFU Initiators and Distributors over HTTPS
(docs/https.md):

  GET /check?cfwid=HEX   the newest image for the current Firmware ID HEX, as a JSON manifest; 404 if none
  GET /get?cfwid=HEX     that image as a firmware archive (tar.gz: manifest.json, metadata.bin, firmware.bin)

Any path ending in /check or /get is served, so the Update or Upload URI is
https://HOST:PORT or https://HOST:PORT/any/path. An image updates a device
when its Firmware ID has the same length, Company ID and first
--product-octets octets of version information, and greater version
information (compared octet by octet, most significant first); the greatest
wins. DIR is reread on every request, so images can be added while it runs.

TLS needs a certificate: --cert and --key, or --self-signed, which makes an
ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1 (or reuses the one
in DIR/.tls), writes it to DIR/.tls/cert.pem (key: DIR/.tls/key.pem, mode
0600) and prints its path and SHA-256 fingerprint: give that file to clients
as their CA file.

It prints "listening on https://HOST:PORT" when ready, logs each request to
standard error, and stops on SIGINT or SIGTERM.`,
		Example: `  meshdfu firmware pack --image app.bin --fwid f10502000000 --version 2.0.0 \
      --key signing.key --out images/app-2.0.0.mdfu
  meshdfu updateserver --dir images --self-signed
  meshdfu updateserver --dir images --listen 127.0.0.1:8443 --cert server.pem --key server.key
  curl --cacert images/.tls/cert.pem 'https://localhost:8443/check?cfwid=F10501000000'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := o.validate(); err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if err := runUpdateServer(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "directory of image files (*.mdfu) to serve (required)")
	f.StringVar(&o.listen, "listen", ":8443", "address to listen on, HOST:PORT (port 0: any free port)")
	f.StringVar(&o.certFile, "cert", "", "TLS certificate chain, PEM (with --key)")
	f.StringVar(&o.key, "key", "", "TLS private key, PEM (with --cert)")
	f.BoolVar(&o.selfSigned, "self-signed", false, "use a self-signed certificate for localhost kept in DIR/.tls (made on first use)")
	f.IntVar(&o.productOctets, "product-octets", 0, "octets of version information, after the Company ID, that name the product and must match")
	return cmd
}

func (o *updateServerOptions) validate() error {
	if o.dir == "" {
		return errors.New("updateserver: --dir is required")
	}
	if st, err := os.Stat(o.dir); err != nil || !st.IsDir() {
		return fmt.Errorf("updateserver: --dir %s: not a directory", o.dir)
	}
	switch {
	case o.selfSigned && (o.certFile != "" || o.key != ""):
		return errors.New("updateserver: give --cert and --key, or --self-signed, not both")
	case !o.selfSigned && (o.certFile == "" || o.key == ""):
		return errors.New("updateserver: a certificate is needed: --cert FILE --key FILE, or --self-signed")
	case o.productOctets < 0 || o.productOctets > 106:
		return fmt.Errorf("updateserver: --product-octets %d, want 0..106", o.productOctets)
	}
	return nil
}

// runUpdateServer serves until ctx ends.
func runUpdateServer(ctx context.Context, o updateServerOptions, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var cert tls.Certificate
	var err error
	if o.selfSigned {
		var certPath string
		cert, certPath, err = selfSignedCert(o.dir, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "certificate: %s\n", certPath)
		fmt.Fprintf(stdout, "sha256 fingerprint: %s\n", fwhttps.Fingerprint(cert.Certificate[0]))
	} else if cert, err = tls.LoadX509KeyPair(o.certFile, o.key); err != nil {
		return fmt.Errorf("updateserver: certificate: %w", err)
	}
	src := fwhttps.NewDirSource(o.dir, logger)
	images, err := src.List()
	if err != nil {
		return fmt.Errorf("updateserver: %w", err)
	}
	fmt.Fprintf(stdout, "serving %d image(s) from %s\n", len(images), o.dir)
	for _, im := range images {
		fmt.Fprintf(stdout, "  %s  %d octets\n", fwhttps.FormatFWID(im.FirmwareID), im.Size)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("updateserver: %w", err)
	}
	srv := &http.Server{
		Handler:           fwhttps.NewHandler(src, fwhttps.HandlerConfig{ProductOctets: o.productOctets, Logger: logger}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(stdout, "listening on https://%s\n", displayAddr(ln.Addr()))
	select {
	case err := <-done:
		return fmt.Errorf("updateserver: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownDeadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// displayAddr names a listening address as a client would dial it.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// selfSignedCert returns the certificate kept in dir/.tls, making a new one
// when there is none, it is unreadable, or it expires within a day.
func selfSignedCert(dir string, now time.Time) (tls.Certificate, string, error) {
	tdir := filepath.Join(dir, ".tls")
	certPath, keyPath := filepath.Join(tdir, "cert.pem"), filepath.Join(tdir, "key.pem")
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		if x, err := x509.ParseCertificate(c.Certificate[0]); err == nil && now.Add(24*time.Hour).Before(x.NotAfter) && x.VerifyHostname("localhost") == nil {
			return c, certPath, nil
		}
	}
	certPEM, keyPEM, err := fwhttps.SelfSigned(now, []string{"localhost", "127.0.0.1", "::1"})
	if err != nil {
		return tls.Certificate{}, "", err
	}
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("updateserver: %w", err)
	}
	// The key first, private from its creation; then the certificate.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, "", err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, "", err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("updateserver: %w", err)
	}
	return c, certPath, nil
}

// writeFileAtomic writes path through a temporary file created with perm.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("updateserver: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("updateserver: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("updateserver: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("updateserver: %w", err)
	}
	return nil
}

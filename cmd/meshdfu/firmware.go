package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/fw"
)

func newFirmwareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "firmware",
		Short: "Create signing keys, pack firmware images with signed metadata, inspect them",
		Long: `firmware prepares images for a mesh update. An image file (.mdfu) holds the
Firmware ID, meshdfu's metadata (version, size, SHA-256, flags, Ed25519
signature; see docs/metadata.md) and the image itself. Targets configured
with the public key reject an image whose hash or signature does not verify.`,
	}
	cmd.AddCommand(newFirmwareKeygenCmd(), newFirmwarePackCmd(), newFirmwareInspectCmd())
	return cmd
}

func newFirmwareKeygenCmd() *cobra.Command {
	var (
		out   string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "keygen --out KEYFILE",
		Short: "Generate an Ed25519 signing key pair",
		Long: `keygen writes a new Ed25519 private key to KEYFILE (PEM, PKCS #8, mode 0600)
and its public key to KEYFILE.pub (PEM, mode 0644). Keep the private key
secret; give the public key to targets and to "firmware inspect --pub". It
refuses to replace existing files unless --force is given.`,
		Example: `  meshdfu firmware keygen --out signing.key
  # signing.key (private) and signing.key.pub (public)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &exitError{code: 2, msg: "--out is required"}
			}
			pub, priv, err := fw.GenerateKey(rand.Reader)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if err := fw.WriteKeyFiles(out, priv, force); err != nil {
				if errors.Is(err, os.ErrExist) {
					return &exitError{code: 1, msg: fmt.Sprintf("%v (use --force to replace it)", err)}
				}
				return &exitError{code: 1, msg: err.Error()}
			}
			id := fw.KeyID(pub)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (private, keep secret) and %s%s (public)\nkey ID %x\n", out, out, fw.PublicKeySuffix, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "private key file to write; the public key goes to FILE.pub (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing key files")
	return cmd
}

func newFirmwarePackCmd() *cobra.Command {
	var (
		image, fwidHex, version, keyFile, out string
		composition, rpr, unprovision, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "pack --image FILE --fwid HEX --version V --key KEYFILE",
		Short: "Pack an image with its Firmware ID and signed metadata into one file",
		Long: `pack reads the raw image, builds meshdfu metadata (version, image size,
SHA-256, flags), signs it with the private key together with the Firmware ID,
and writes an image file (default: the image's name plus .mdfu). It prints a
summary.

The Firmware ID is the 2-octet Company ID (little-endian, e.g. f105 for
0x05F1) followed by up to 106 octets of version information, in hex. The
version is 1..64 printable ASCII characters without spaces.

The flags say what applying the image does to a node; targets report them in
the Metadata Check as Additional Information: --composition-change (0x1),
with --remote-provisioning (0x2), or --unprovision (0x3).`,
		Example: `  meshdfu firmware keygen --out signing.key
  meshdfu firmware pack --image app.bin --fwid f10501000200 --version 1.2.0 --key signing.key
  meshdfu firmware pack --image app.bin --fwid f10502000000 --version 2.0.0 --key signing.key \
      --composition-change --out app-2.0.0.mdfu`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fwid, err := parseFWID(fwidHex)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			var flags fw.Flags
			if composition {
				flags |= fw.FlagCompositionChange
			}
			if rpr {
				if !composition {
					return &exitError{code: 2, msg: "--remote-provisioning needs --composition-change"}
				}
				flags |= fw.FlagRemoteProvisioning
			}
			if unprovision {
				flags |= fw.FlagUnprovision
			}
			if err := fw.CheckVersion(version); err != nil {
				return &exitError{code: 2, msg: "--version: " + err.Error()}
			}
			priv, err := fw.ReadPrivateKeyFile(keyFile)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			img, err := os.ReadFile(image)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			meta, err := fw.NewMetadata(version, img, flags)
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", image, err)}
			}
			if err := meta.Sign(priv, fwid); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			mb, err := meta.Marshal()
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if out == "" {
				out = image + ".mdfu"
			}
			var buf bytes.Buffer
			if err := fw.WriteImageFile(&buf, &fw.ImageFile{FirmwareID: fwid, Metadata: mb, Image: img}); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if err := writeFileSync(out, buf.Bytes()); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			pub := priv.Public().(ed25519.PublicKey)
			sum := describeImage(out, fwid, mb, img, pub)
			return printSummary(cmd.OutOrStdout(), sum, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&image, "image", "", "raw firmware image to pack (required)")
	f.StringVar(&fwidHex, "fwid", "", "Firmware ID of the image, hex: Company ID (2 octets, little-endian) + version information (required)")
	f.StringVar(&version, "version", "", "firmware version string, e.g. 1.2.0 (required)")
	f.StringVar(&keyFile, "key", "", "private key file from \"firmware keygen\" (required)")
	f.StringVar(&out, "out", "", "image file to write (default IMAGE.mdfu)")
	f.BoolVar(&composition, "composition-change", false, "applying the image changes the node's Composition Data")
	f.BoolVar(&rpr, "remote-provisioning", false, "with --composition-change: the node supports Remote Provisioning")
	f.BoolVar(&unprovision, "unprovision", false, "the node becomes unprovisioned after applying the image")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	for _, name := range []string{"image", "fwid", "version", "key"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newFirmwareInspectCmd() *cobra.Command {
	var (
		pubFile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Print an image file's Firmware ID, metadata and verification result",
		Long: `inspect reads an image file written by "firmware pack" and prints its
Firmware ID, version, size, SHA-256, flags and key ID. It always checks the
image against the size and hash in the metadata; with --pub it also checks the
signature, which is then "valid" or "invalid" (otherwise "not checked").

Exit status: 0 when everything checked is good, 1 when the file is not a
valid image file or the image or signature fails verification, 2 for bad
flags.`,
		Example: `  meshdfu firmware inspect app.bin.mdfu
  meshdfu firmware inspect app.bin.mdfu --pub signing.key.pub --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pub ed25519.PublicKey
			if pubFile != "" {
				k, err := fw.ReadPublicKeyFile(pubFile)
				if err != nil {
					return &exitError{code: 2, msg: "--pub: " + err.Error()}
				}
				pub = k
			}
			file, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			f, err := fw.ReadImageFile(file)
			file.Close()
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", args[0], err)}
			}
			sum := describeImage(args[0], f.FirmwareID, f.Metadata, f.Image, pub)
			if err := printSummary(cmd.OutOrStdout(), sum, asJSON); err != nil {
				return err
			}
			if sum.failed() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pubFile, "pub", "", "public key file to check the signature with")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// imageSummary is what pack and inspect print.
type imageSummary struct {
	File           string   `json:"file"`
	FirmwareID     string   `json:"firmware_id"`
	CompanyID      string   `json:"company_id"`
	MetadataFormat string   `json:"metadata_format"` // "meshdfu" or the parse error
	Metadata       string   `json:"metadata"`
	Version        string   `json:"version,omitempty"`
	Size           int      `json:"size"`
	SHA256         string   `json:"sha256"`
	Flags          []string `json:"flags"`
	AdditionalInfo *uint8   `json:"additional_information,omitempty"`
	KeyID          string   `json:"key_id,omitempty"`
	Image          string   `json:"image"`     // "ok" or why it fails
	Signature      string   `json:"signature"` // valid, invalid, not checked
	SignatureError string   `json:"signature_error,omitempty"`
}

func (s *imageSummary) failed() bool {
	return s.MetadataFormat != "meshdfu" || s.Image != "ok" || s.Signature == "invalid"
}

// describeImage checks img against its metadata (and the signature when
// pub is given) and collects what to print.
func describeImage(file string, fwid, metadata, img []byte, pub ed25519.PublicKey) *imageSummary {
	s := &imageSummary{
		File: file, FirmwareID: hex.EncodeToString(fwid), CompanyID: fmt.Sprintf("0x%04x", binary.LittleEndian.Uint16(fwid)),
		Metadata: hex.EncodeToString(metadata), Size: len(img), Flags: []string{}, Signature: "not checked",
	}
	hash := sha256.Sum256(img)
	s.SHA256 = hex.EncodeToString(hash[:])
	m, err := fw.ParseMetadata(metadata)
	if err != nil {
		s.MetadataFormat, s.Image = err.Error(), "not checked"
		return s
	}
	s.MetadataFormat, s.Version = "meshdfu", m.Version
	ai := m.AdditionalInformation()
	s.AdditionalInfo = &ai
	for _, fl := range []struct {
		bit  fw.Flags
		name string
	}{{fw.FlagCompositionChange, "composition-change"}, {fw.FlagRemoteProvisioning, "remote-provisioning"}, {fw.FlagUnprovision, "unprovision"}} {
		if m.Flags&fl.bit != 0 {
			s.Flags = append(s.Flags, fl.name)
		}
	}
	if m.KeyID != nil {
		s.KeyID = hex.EncodeToString(m.KeyID)
	}
	s.Image = "ok"
	if err := fw.VerifyImage(bytes.NewReader(img), m, fwid, nil); err != nil {
		s.Image = err.Error()
	}
	if pub != nil {
		s.Signature = "valid"
		if err := m.VerifySignature(pub, fwid); err != nil {
			s.Signature, s.SignatureError = "invalid", err.Error()
		}
	}
	return s
}

func printSummary(w io.Writer, s *imageSummary, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-16s %s\n", k+":", v) }
	row("file", s.File)
	row("firmware id", s.FirmwareID+" (company "+s.CompanyID+")")
	if s.MetadataFormat != "meshdfu" {
		row("metadata", s.Metadata)
		row("metadata format", s.MetadataFormat)
	} else {
		row("version", s.Version)
	}
	row("size", fmt.Sprintf("%d octets", s.Size))
	row("sha256", s.SHA256)
	if s.AdditionalInfo != nil {
		flags := strings.Join(s.Flags, ", ")
		if flags == "" {
			flags = "none"
		}
		row("flags", fmt.Sprintf("%s (additional information 0x%x)", flags, *s.AdditionalInfo))
	}
	if s.KeyID != "" {
		row("key id", s.KeyID)
	}
	row("image", s.Image)
	sig := s.Signature
	if s.SignatureError != "" {
		sig += ": " + s.SignatureError
	}
	row("signature", sig)
	_, err := io.WriteString(w, b.String())
	return err
}

// parseFWID decodes a Firmware ID given in hex (optionally 0x-prefixed,
// spaces and colons ignored).
func parseFWID(s string) ([]byte, error) {
	clean := strings.NewReplacer(" ", "", ":", "").Replace(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("--fwid %q: not hex", s)
	}
	if err := fw.CheckFirmwareID(b); err != nil {
		return nil, fmt.Errorf("--fwid %q: %v", s, err)
	}
	return b, nil
}

// writeFileSync writes data to path through a temporary file, fsync and
// rename, so a crash never leaves a half-written image file.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

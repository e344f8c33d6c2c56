package https

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/meshdfu/meshdfu/fw"
)

// Firmware archive members and framing (docs/https.md).
const (
	// ArchiveContentType is the media type of a firmware archive.
	ArchiveContentType = "application/gzip"
	// ArchiveOverhead bounds what an archive holds besides its image: tar
	// headers and padding, manifest.json, the metadata file and members the
	// reader skips. A body may exceed the image by at most this much
	// (plus the compressor's framing).
	ArchiveOverhead = 1 << 20

	archiveManifestName = "manifest.json"
	archiveImageName    = "firmware.bin"
	archiveMetadataName = "metadata.bin"
)

// Firmware describes one firmware image: its Firmware ID, its metadata (at
// most 255 octets, opaque here) and the image size in octets.
type Firmware struct {
	FirmwareID []byte
	Metadata   []byte
	Size       int64
}

// WriteArchive writes the firmware archive for f to w: a gzip-compressed
// ustar archive holding manifest.json (firmware_image_file,
// metadata_file when f has metadata, firmware_id), metadata.bin (the raw
// metadata octets) and firmware.bin (exactly f.Size octets read from
// image), in that order, so a reader can stream the image. It is the
// layout of Silicon Labs' archive tool (dfu.md §9.2).
func WriteArchive(w io.Writer, f Firmware, image io.Reader) error {
	if err := fw.CheckFirmwareID(f.FirmwareID); err != nil {
		return fmt.Errorf("https: archive: %w", err)
	}
	if len(f.Metadata) > fw.MaxMetadataLen || f.Size < 1 || f.Size > MaxImageSize {
		return fmt.Errorf("https: archive: metadata %d octets, image %d octets: out of range", len(f.Metadata), f.Size)
	}
	type firmware struct {
		ImageFile    string `json:"firmware_image_file"`
		MetadataFile string `json:"metadata_file,omitempty"`
		FirmwareID   string `json:"firmware_id"`
	}
	type manifest struct {
		Firmware firmware `json:"firmware"`
	}
	m := firmware{ImageFile: archiveImageName, FirmwareID: FormatFWID(f.FirmwareID)}
	if len(f.Metadata) > 0 {
		m.MetadataFile = archiveMetadataName
	}
	mj, err := json.Marshal(struct {
		Manifest manifest `json:"manifest"`
	}{manifest{m}})
	if err != nil {
		return fmt.Errorf("https: archive: %w", err)
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	put := func(name string, size int64, r io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.CopyN(tw, r, size)
		if err != nil {
			return fmt.Errorf("%s: %d of %d octets: %w", name, n, size, err)
		}
		return nil
	}
	if err := put(archiveManifestName, int64(len(mj)), bytes.NewReader(mj)); err != nil {
		return fmt.Errorf("https: archive: %w", err)
	}
	if len(f.Metadata) > 0 {
		if err := put(archiveMetadataName, int64(len(f.Metadata)), bytes.NewReader(f.Metadata)); err != nil {
			return fmt.Errorf("https: archive: %w", err)
		}
	}
	if err := put(archiveImageName, f.Size, image); err != nil {
		return fmt.Errorf("https: archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("https: archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("https: archive: %w", err)
	}
	return nil
}

// ReadArchive reads a firmware archive from r (a tar, gzip-compressed or
// not; dfu.md §9.2) and streams its image into the writer that open returns.
// open is called once, with the Firmware ID and metadata from the archive
// and the image size, before the first image octet; a fw.SlotWriter fits
// as io.NewOffsetWriter(sw, 0).
//
// want is what the check announced: when want.FirmwareID is set the
// archive's firmware_id must equal it, and when want.Size is set the image
// must have exactly that size. The image may not exceed limit nor
// want.Size (ErrTooLarge, detected from the tar header before any image
// octet is read), and the decompressed archive may not exceed that bound
// plus ArchiveOverhead (ErrTooLarge: a never-ending archive is cut off).
//
// Members may come in any order: the image streams when manifest.json and
// the metadata precede it (as WriteArchive writes them) and is held in
// memory, at most limit octets, otherwise. Members other than the three
// named are skipped; directories and links are ignored. The archive is read
// to its end, so a damaged gzip trailer still fails. On error, discard
// whatever was written.
//
// Format errors wrap ErrManifest; errors of r pass through unchanged
// (the client's body reader already wraps ErrURIUnreachable or
// ErrTooLarge); errors from open or the writer are returned wrapped with
// their context, so errors.Is still finds them.
func ReadArchive(r io.Reader, want CheckResult, limit int64, open func(Firmware) (io.Writer, error)) (Firmware, error) {
	if want.Size > 0 && want.Size < limit {
		limit = want.Size
	}
	if limit < 1 {
		return Firmware{}, fmt.Errorf("%w: no room for an image (limit %d)", ErrTooLarge, limit)
	}
	ar := archiveReader{want: want, limit: limit, open: open, pending: map[string][]byte{}, seen: map[string]bool{}}
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil {
		return Firmware{}, ar.readErr("archive", err)
	}
	var src io.Reader = br
	var zr *gzip.Reader
	if magic[0] == 0x1f && magic[1] == 0x8b {
		if zr, err = gzip.NewReader(br); err != nil {
			return Firmware{}, ar.readErr("gzip", err)
		}
		zr.Multistream(false)
		src = zr
	}
	body := &boundReader{r: src, left: limit + ArchiveOverhead}
	if err := ar.read(tar.NewReader(body)); err != nil {
		return Firmware{}, err
	}
	// Read to the end: the gzip trailer holds the checksum of everything.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return Firmware{}, ar.readErr("archive end", err)
	}
	if zr != nil {
		if _, err := io.Copy(io.Discard, &boundReader{r: br, left: ArchiveOverhead}); err != nil {
			return Firmware{}, ar.readErr("after archive", err)
		}
	}
	return ar.out, nil
}

// archiveReader is the state of one ReadArchive.
type archiveReader struct {
	want  CheckResult
	limit int64
	open  func(Firmware) (io.Writer, error)

	man      *archiveManifest
	pending  map[string][]byte // members seen before manifest.json
	seen     map[string]bool
	meta     []byte
	haveMeta bool
	image    []byte // the image, when it came before its metadata
	haveImg  bool
	done     bool
	out      Firmware
}

func (a *archiveReader) read(tr *tar.Reader) error {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.readErr("tar", err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00' {
			continue
		}
		name, err := memberName(hdr.Name)
		if err != nil {
			return fmt.Errorf("%w: archive: %w", ErrManifest, err)
		}
		if a.seen[name] {
			return fmt.Errorf("%w: archive: member %q appears twice", ErrManifest, name)
		}
		a.seen[name] = true
		if err := a.member(tr, name, hdr.Size); err != nil {
			return err
		}
		if err := a.flush(); err != nil {
			return err
		}
	}
	switch {
	case a.man == nil:
		return fmt.Errorf("%w: archive: no %s", ErrManifest, archiveManifestName)
	case a.man.MetadataFile != "" && !a.haveMeta:
		return fmt.Errorf("%w: archive: no metadata member %q", ErrManifest, a.man.MetadataFile)
	case !a.done:
		return fmt.Errorf("%w: archive: no image member %q", ErrManifest, a.man.ImageFile)
	}
	return nil
}

// member handles one regular file of size octets.
func (a *archiveReader) member(tr *tar.Reader, name string, size int64) error {
	switch {
	case name == archiveManifestName:
		b, err := a.readSmall(tr, name, size, MaxManifestSize)
		if err != nil {
			return err
		}
		m, err := parseArchiveManifest(b)
		if err != nil {
			return err
		}
		if a.want.FirmwareID != nil && !bytes.Equal(m.FirmwareID, a.want.FirmwareID) {
			return fmt.Errorf("%w: archive firmware_id %s, the check announced %s", ErrManifest, FormatFWID(m.FirmwareID), FormatFWID(a.want.FirmwareID))
		}
		a.man = &m
		if p, ok := a.pending[m.MetadataFile]; ok && m.MetadataFile != "" {
			if len(p) > fw.MaxMetadataLen {
				return fmt.Errorf("%w: archive: metadata has %d octets, at most %d", ErrManifest, len(p), fw.MaxMetadataLen)
			}
			a.meta, a.haveMeta = p, true
		}
		if p, ok := a.pending[m.ImageFile]; ok {
			if err := a.checkImageSize(int64(len(p))); err != nil {
				return err
			}
			a.image, a.haveImg = p, true
		}
		a.pending = nil
	case a.man == nil:
		if size > a.limit {
			return fmt.Errorf("%w: archive member %q has %d octets, limit %d", ErrTooLarge, name, size, a.limit)
		}
		b, err := a.readSmall(tr, name, size, a.limit)
		if err != nil {
			return err
		}
		a.pending[name] = b
	case name == a.man.MetadataFile:
		b, err := a.readSmall(tr, name, size, fw.MaxMetadataLen)
		if err != nil {
			return err
		}
		a.meta, a.haveMeta = b, true
	case name == a.man.ImageFile:
		if err := a.checkImageSize(size); err != nil {
			return err
		}
		if a.man.MetadataFile != "" && !a.haveMeta {
			b, err := a.readSmall(tr, name, size, a.limit)
			if err != nil {
				return err
			}
			a.image, a.haveImg = b, true
			return nil
		}
		return a.writeImage(tr, size)
	}
	return nil // another member: tar skips it on Next, within the bound
}

// flush writes an image held in memory once its metadata is known.
func (a *archiveReader) flush() error {
	if a.done || !a.haveImg || a.man == nil || (a.man.MetadataFile != "" && !a.haveMeta) {
		return nil
	}
	img := a.image
	a.image, a.haveImg = nil, false
	return a.writeImage(bytes.NewReader(img), int64(len(img)))
}

// checkImageSize applies the bounds before any image octet is read.
func (a *archiveReader) checkImageSize(size int64) error {
	switch {
	case size < 1:
		return fmt.Errorf("%w: archive: empty image", ErrManifest)
	case size > a.limit:
		return fmt.Errorf("%w: image has %d octets, limit %d", ErrTooLarge, size, a.limit)
	case a.want.Size > 0 && size != a.want.Size:
		return fmt.Errorf("%w: image has %d octets, the check announced %d", ErrManifest, size, a.want.Size)
	}
	return nil
}

func (a *archiveReader) writeImage(r io.Reader, size int64) error {
	a.out = Firmware{FirmwareID: a.man.FirmwareID, Metadata: bytes.Clone(a.meta), Size: size}
	if a.out.Metadata == nil {
		a.out.Metadata = []byte{}
	}
	w, err := a.open(a.out)
	if err != nil {
		return fmt.Errorf("https: open image %s: %w", FormatFWID(a.out.FirmwareID), err)
	}
	n, err := io.CopyN(writerOnly{w}, r, size)
	if err != nil {
		var we writeError
		if errors.As(err, &we) {
			return fmt.Errorf("https: write image at offset %d: %w", n, we.err)
		}
		return a.readErr("image", err)
	}
	a.done = true
	return nil
}

// readSmall reads a whole member of at most max octets.
func (a *archiveReader) readSmall(r io.Reader, name string, size, max int64) ([]byte, error) {
	if size > max {
		return nil, fmt.Errorf("%w: archive member %q has %d octets, at most %d", ErrManifest, name, size, max)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, a.readErr(name, err)
	}
	return b, nil
}

// readErr classifies an error met while reading: errors of the body reader
// (unreachable, too large) pass through, anything else is a format error.
func (a *archiveReader) readErr(what string, err error) error {
	if errors.Is(err, ErrURIUnreachable) || errors.Is(err, ErrTooLarge) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s: %w", ErrManifest, what, err)
}

// writeError marks an error of the caller's writer.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// writerOnly tags the writer's errors, and hides any ReadFrom so io.CopyN
// cannot mix the reader's errors with the writer's.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, writeError{err}
	}
	return n, nil
}

// boundReader passes at most left octets through; reading more fails with
// ErrTooLarge. It asks r for one octet past the bound, so a source that
// ends exactly at the bound is not an error.
type boundReader struct {
	r    io.Reader
	left int64
}

func (b *boundReader) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%w: body runs past its bound", ErrTooLarge)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, fmt.Errorf("%w: body runs past its bound", ErrTooLarge)
	}
	b.left -= int64(n)
	return n, err
}

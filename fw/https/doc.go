// Package https implements Firmware Check and Firmware Retrieval over HTTPS,
// the out-of-band way a Bluetooth Mesh DFU Initiator or Distributor learns
// of and fetches new firmware (MshDFU; shared/spec/dfu.md §9): the client
// that a Firmware Distribution Server's Upload OOB procedure (Check Firmware
// OOB, Store Firmware OOB) calls, and the handler behind "meshdfu
// updateserver".
//
// # Protocol
//
// Given an Update or Upload URI and a device's current Firmware ID:
//
//	GET {URI}/check?cfwid={HEX}   200 + JSON manifest: the new firmware's ID and size; 404: none
//	GET {URI}/get?cfwid={HEX}     200 + firmware archive: manifest.json, metadata, image
//
// HEX is the current Firmware ID in upper-case hex. The manifest is
// CheckResult (ParseManifest); the archive is a gzip-compressed tar
// (WriteArchive, ReadArchive). docs/https.md gives the formats, the sources
// that confirm them and what stays unconfirmed.
//
// # Client
//
// Client.Check and Client.Retrieve (RetrieveTo when the destination needs
// the Firmware ID and metadata first, as fw.Store's BeginWrite does) speak
// https only: an http URI, or a redirect to one, fails with ErrScheme
// before any request leaves. TLS is always verified, against the system's
// roots or Config.RootCAs and Config.CAFile. The image may not exceed the
// announced size nor the caller's limit (the free upload space), and the
// body is cut off at that bound plus ArchiveOverhead, so an endless or
// lying server costs bounded memory, disk and time. Every error wraps one
// sentinel (ErrScheme, ErrURITooLong, ErrURIMalformed, ErrURIUnreachable,
// ErrNewFirmwareNotAvailable, ErrTooLarge, ErrManifest) that a Distribution
// Server maps to a Firmware Distribution status code or to the Transfer
// Error upload phase; docs/https.md has the table.
//
// # Server
//
// NewHandler serves the images of a Source: NewDirSource for a directory of
// image files made by "meshdfu firmware pack", StoreSource for a fw.Store.
// For a current Firmware ID it offers the newest image of the same company
// and product (Newest documents the rule).
//
// # Execution
//
// This is network code at the edge, not protocol code: it uses net/http,
// the goroutines net/http starts, and the wall clock for HTTP timeouts. A
// Distribution Server must call the client off its node's executor and post
// the result back to it. Client and the handler are safe for concurrent
// use.
package https

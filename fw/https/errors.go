package https

import "errors"

// Sentinel errors. Every error the client returns wraps exactly one of them
// (or the caller's context error, or the error of the caller's writer), so a
// Distribution Server can map it to a Firmware Distribution status code or
// to the Transfer Error upload phase (docs/https.md has the table). Branch
// with errors.Is; the wrapped cause (a DNS, connect or certificate error, an
// HTTP status) stays reachable with errors.As.
var (
	// ErrScheme reports a URI, or a redirect, whose scheme is not https.
	// The client never sends a request over plain HTTP.
	ErrScheme = errors.New("https: URI scheme is not https")
	// ErrURITooLong reports a URI longer than MaxURILen octets, the most
	// the 1-octet Upload URI Length of Upload OOB Start can announce.
	ErrURITooLong = errors.New("https: URI too long")
	// ErrURIMalformed reports a URI that does not parse, has no host, or
	// carries user information, a query or a fragment (the request path
	// and query are appended to it).
	ErrURIMalformed = errors.New("https: URI malformed")
	// ErrURIUnreachable reports a server that could not be reached or did
	// not answer usefully: DNS failure, refused or timed-out connection, a
	// TLS failure (bad or untrusted certificate, wrong host name), a
	// connection lost mid-body, too many redirects, or an HTTP status other
	// than 200 and 404.
	ErrURIUnreachable = errors.New("https: URI unreachable")
	// ErrNewFirmwareNotAvailable reports that the server has no newer
	// firmware for the current Firmware ID: HTTP 404, or a check answer
	// naming the current Firmware ID itself.
	ErrNewFirmwareNotAvailable = errors.New("https: new firmware not available")
	// ErrTooLarge reports firmware bigger than the space it may take: the
	// announced size exceeds the caller's limit, the archive holds a bigger
	// image than announced, or the body runs past its bound (an endless
	// body is cut off there).
	ErrTooLarge = errors.New("https: firmware too large")
	// ErrManifest reports a check answer or firmware archive that is
	// malformed or contradicts itself or the check: bad JSON, a missing or
	// mistyped field, a wrong content type, an archive that is not a
	// (gzip-compressed) tar, a missing image, an image smaller than
	// announced, or a Firmware ID other than the check named.
	ErrManifest = errors.New("https: bad manifest or archive")
)

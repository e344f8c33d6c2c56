// Package web is the distributor's HTTP face: a JSON API over a Firmware
// Distribution Server, a server-sent-events stream of its progress, an
// embedded dashboard page, and Prometheus metrics.
//
// A Server is an http.Handler built on a Backend, the distributor it
// drives: cmd/meshdfu's distributor implements Backend with a
// models/dfd Server on a runtime.Loop (each call runs on the node's
// executor), tests with a fake. Routes (docs/distributor.md has the
// reference with curl examples):
//
//	GET    /api/status            the whole state (Status)
//	GET    /api/receivers         the Distribution Receivers List
//	POST   /api/receivers         add receivers: {"receivers":[{"address":"0x0003","image_index":0}]}
//	DELETE /api/receivers         empty the list
//	GET    /api/images            the Firmware Images List
//	POST   /api/images            store an image file (meshdfu firmware pack) sent as the body
//	DELETE /api/images[/{index}]  delete one image, or all
//	POST   /api/start             start a distribution (StartBody)
//	POST   /api/suspend, /api/resume, /api/cancel, /api/apply
//	GET    /api/events            server-sent events: status, phase, receiver(s), upload, images, counters
//	GET    /metrics               Prometheus metrics
//	GET    /                      the dashboard (static/ in Assets)
//
// Phases and statuses travel in words, as the specification names them
// ("Transfer Active", "Verification Failed"), next to their codes. Errors
// are JSON {"error": "...", "status": "..."}: 400 for bad input with the
// reason, 401 without the token, 409 when the Distribution Server refused
// (status names its answer, e.g. "Busy With Distribution").
//
// Security: with Config.Token every /api and /metrics request needs
// "Authorization: Bearer TOKEN" (the dashboard asks for it and sends it
// with fetch, the event stream included). Without a token only loopback
// Host names are answered, which defeats DNS rebinding; CheckListen
// refuses a non-loopback listen address without a token. Requests that
// change state from another Origin are refused, and the pages carry a
// strict Content-Security-Policy.
//
// Concurrency: handlers run on net/http's goroutines and Run on its own;
// the Backend serializes its calls onto the node's executor. Nothing here
// is protocol code.
package web

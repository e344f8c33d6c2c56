package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
)

var newFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x02, 0x00}

func newTestServer(t *testing.T, f *fakeDist, token string) *Server {
	t.Helper()
	s, err := New(Config{Backend: f, Token: token, PollInterval: 20 * time.Millisecond, MaxImageSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends a request to s and returns the status code and body.
func call(t *testing.T, s http.Handler, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func wantCode(t *testing.T, what string, code int, body string, want int, contains string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: %d %s, want %d", what, code, body, want)
	}
	if contains != "" && !strings.Contains(body, contains) {
		t.Fatalf("%s: body %s, want it to contain %q", what, body, contains)
	}
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return v
}

func TestAPI_Status(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f, "")
	code, body := call(t, s, "GET", "/api/status", "")
	wantCode(t, "status", code, body, 200, "")
	st := decode[Status](t, body)
	if st.Node != "0x0002" || st.Phase != "Idle" || st.Running || st.Upload.Phase != "Idle" || st.Receivers == nil || st.Images == nil {
		t.Fatalf("status %+v", st)
	}
	f.snapErr = context.DeadlineExceeded
	code, body = call(t, s, "GET", "/api/status", "")
	wantCode(t, "status, distributor silent", code, body, 504, "did not answer")
}

func TestAPI_Token(t *testing.T) {
	s := newTestServer(t, newFake(), "s3cret")
	for _, p := range []string{"/api/status", "/api/receivers", "/api/images", "/api/events", "/metrics"} {
		code, body := call(t, s, "GET", p, "")
		wantCode(t, p+" without token", code, body, 401, "Authorization: Bearer")
		code, body = call(t, s, "GET", p, "", "Authorization", "Bearer wrong")
		wantCode(t, p+" wrong token", code, body, 401, "")
	}
	for _, p := range []string{"/api/start", "/api/cancel", "/api/receivers"} {
		code, body := call(t, s, "POST", p, "{}")
		wantCode(t, p+" without token", code, body, 401, "")
	}
	code, body := call(t, s, "GET", "/api/status", "", "Authorization", "Bearer s3cret")
	wantCode(t, "with token", code, body, 200, `"phase": "Idle"`)
	code, body = call(t, s, "GET", "/metrics", "", "Authorization", "Bearer s3cret")
	wantCode(t, "metrics with token", code, body, 200, "meshdfu_distribution_phase")
	// The dashboard page holds no data: it loads without the token and
	// asks for it.
	code, body = call(t, s, "GET", "/", "")
	wantCode(t, "dashboard", code, body, 200, "token")
	// With a token, other Host names are fine (behind a proxy, on a LAN).
	req := httptest.NewRequest("GET", "http://dist.example.com/api/status", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	wantCode(t, "other host with token", w.Code, w.Body.String(), 200, "")
}

func TestAPI_LoopbackHostOnlyWithoutToken(t *testing.T) {
	s := newTestServer(t, newFake(), "")
	for host, want := range map[string]int{
		"127.0.0.1:8080": 200, "localhost:8080": 200, "[::1]:8080": 200, "LOCALHOST": 200,
		"evil.example.com:8080": 403, "192.168.1.2:8080": 403, "127.0.0.1.evil.com": 403,
	} {
		for _, p := range []string{"/api/status", "/", "/metrics"} {
			req := httptest.NewRequest("GET", "http://"+host+p, nil)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != want {
				t.Errorf("Host %s %s: %d, want %d", host, p, w.Code, want)
			}
		}
	}
}

func TestAPI_CrossOriginRefused(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f, "")
	code, body := call(t, s, "POST", "/api/receivers", `{"receivers":[{"address":"0x0003"}]}`, "Origin", "http://evil.example.com")
	wantCode(t, "cross-origin", code, body, 403, "cross-origin")
	if f.calls["add"] != 0 {
		t.Fatal("the backend was called")
	}
	code, body = call(t, s, "POST", "/api/receivers", `{"receivers":[{"address":"0x0003"}]}`, "Origin", "http://127.0.0.1:8080")
	wantCode(t, "same origin", code, body, 200, "0x0003")
}

func TestAPI_Receivers(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f, "")
	code, body := call(t, s, "POST", "/api/receivers", `{"receivers":[{"address":"0x0003"},{"address":"4","image_index":1}]}`)
	wantCode(t, "add", code, body, 200, "")
	st := decode[Status](t, body)
	if len(st.Receivers) != 2 || st.Receivers[0].Address != "0x0003" || st.Receivers[1].Address != "0x0004" ||
		st.Receivers[1].ImageIndex != 1 || st.Receivers[0].Phase != "Unknown" {
		t.Fatalf("receivers %+v", st.Receivers)
	}
	code, body = call(t, s, "GET", "/api/receivers", "")
	wantCode(t, "list", code, body, 200, `"address": "0x0004"`)

	for _, c := range []struct{ name, body, want string }{
		{"no body", "", "JSON body is required"},
		{"not JSON", "0x0003", "bad JSON"},
		{"unknown field", `{"receivers":[],"extra":1}`, "unknown field"},
		{"two values", `{"receivers":[{"address":"0x0003"}]} {}`, "more than one"},
		{"empty list", `{"receivers":[]}`, "no receivers"},
		{"bad address", `{"receivers":[{"address":"zz"}]}`, "want 16-bit hex"},
		{"group address", `{"receivers":[{"address":"0xC000"}]}`, "not a unicast address"},
		{"unassigned", `{"receivers":[{"address":"0"}]}`, "not a unicast address"},
		{"image index", `{"receivers":[{"address":"0x0003","image_index":300}]}`, "image_index 300"},
	} {
		code, body := call(t, s, "POST", "/api/receivers", c.body)
		wantCode(t, c.name, code, body, 400, c.want)
	}
	code, body = call(t, s, "DELETE", "/api/receivers", "")
	wantCode(t, "delete", code, body, 200, "")
	if st := decode[Status](t, body); len(st.Receivers) != 0 {
		t.Fatalf("after delete: %+v", st.Receivers)
	}
	// Busy: the distributor's refusal comes back as 409 with its status.
	f.phase = dfd.PhaseTransferActive
	code, body = call(t, s, "DELETE", "/api/receivers", "")
	wantCode(t, "delete while busy", code, body, 409, `"status": "Busy With Distribution"`)
}

func TestAPI_Images(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f, "")
	_, packed := testImage(t, newFWID, 3000)
	code, body := call(t, s, "POST", "/api/images", string(packed), "Content-Type", "application/octet-stream")
	wantCode(t, "upload", code, body, 201, "")
	im := decode[Image](t, body)
	if im.Index != 0 || im.FirmwareID != "590001000200" || im.Version != "2.0.0" || im.Size != 3000 || !im.Signed {
		t.Fatalf("image %+v", im)
	}
	// The same image again is the same entry.
	code, body = call(t, s, "POST", "/api/images", string(packed))
	wantCode(t, "upload again", code, body, 201, `"index": 0`)

	// As a multipart form (curl -F file=@app.mdfu).
	_, packed2 := testImage(t, []byte{0x59, 0, 1, 0, 3, 0}, 100)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("comment", "x")
	fw, _ := mw.CreateFormFile("file", "app.mdfu")
	fw.Write(packed2)
	mw.Close()
	code, body = call(t, s, "POST", "/api/images", mp.String(), "Content-Type", mw.FormDataContentType())
	wantCode(t, "multipart", code, body, 201, `"firmware_id": "590001000300"`)

	code, body = call(t, s, "GET", "/api/images", "")
	wantCode(t, "list", code, body, 200, "590001000300")
	if l := decode[map[string][]Image](t, body)["images"]; len(l) != 2 {
		t.Fatalf("images %+v", l)
	}

	for _, c := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"garbage", "hello, world", 400, "not a meshdfu image file"},
		{"truncated", string(packed[:len(packed)-10]), 400, "not a meshdfu image file"},
		{"too large", string(mustPackSize(t, []byte{0x59, 0, 1, 0, 9, 0}, 70<<10)), 413, "larger than"},
		{"list full", string(mustPack(t, []byte{0x59, 0, 1, 0, 4, 0})), 409, "full"},
	} {
		code, body := call(t, s, "POST", "/api/images", c.body)
		wantCode(t, c.name, code, body, c.code, c.want)
	}
	code, body = call(t, s, "POST", "/api/images", "--x\r\n\r\n--x--\r\n", "Content-Type", "multipart/form-data; boundary=x")
	wantCode(t, "multipart without file", code, body, 400, "without a file part")

	code, body = call(t, s, "DELETE", "/api/images/9", "")
	wantCode(t, "delete missing", code, body, 404, "")
	code, body = call(t, s, "DELETE", "/api/images/x", "")
	wantCode(t, "delete bad index", code, body, 400, "want a number")
	code, body = call(t, s, "DELETE", "/api/images/0", "")
	wantCode(t, "delete 0", code, body, 200, "590001000300")
	code, body = call(t, s, "DELETE", "/api/images", "")
	wantCode(t, "delete all", code, body, 200, `"images": []`)
}

func mustPack(t *testing.T, fwid []byte) []byte { return mustPackSize(t, fwid, 10) }

func mustPackSize(t *testing.T, fwid []byte, size int) []byte {
	_, b := testImage(t, fwid, size)
	return b
}

func TestStartBody(t *testing.T) {
	ip := func(v int) *int { return &v }
	sp := func(v string) *string { return &v }
	req, err := (&StartBody{}).StartRequest()
	if err != nil || req != (StartRequest{TTL: access.DefaultTTL, TimeoutBase: DefaultTimeoutBase, Policy: dfd.PolicyVerifyAndApply}) {
		t.Fatalf("defaults: %+v %v", req, err)
	}
	req, err = (&StartBody{ImageIndex: ip(2), Group: sp("0xC100"), TTL: ip(5), TimeoutBase: ip(9), Mode: sp("pull"), Policy: sp("verify"), AppKeyIndex: ip(1)}).StartRequest()
	if err != nil || req != (StartRequest{ImageIndex: 2, Group: 0xC100, TTL: 5, TimeoutBase: 9, Mode: blob.ModePull, Policy: dfd.PolicyVerifyOnly, AppKeyIndex: 1}) {
		t.Fatalf("all fields: %+v %v", req, err)
	}
	for name, b := range map[string]StartBody{
		"image index":   {ImageIndex: ip(-1)},
		"unicast group": {Group: sp("0x0003")},
		"bad group":     {Group: sp("g")},
		"ttl 128":       {TTL: ip(128)},
		"timeout base":  {TimeoutBase: ip(70000)},
		"mode":          {Mode: sp("broadcast")},
		"policy":        {Policy: sp("later")},
		"app key":       {AppKeyIndex: ip(4096)},
	} {
		if _, err := b.StartRequest(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAPI_DistributionControl(t *testing.T) {
	f := newFake()
	s := newTestServer(t, f, "")
	code, body := call(t, s, "POST", "/api/start", "")
	wantCode(t, "start without receivers", code, body, 409, `"status": "Receivers List Empty"`)
	code, body = call(t, s, "POST", "/api/start", `{"mode":"fast"}`)
	wantCode(t, "bad mode", code, body, 400, `mode \"fast\"`)
	code, body = call(t, s, "POST", "/api/start", `{"ttl":"x"}`)
	wantCode(t, "bad ttl type", code, body, 400, "bad JSON")

	call(t, s, "POST", "/api/receivers", `{"receivers":[{"address":"0x0003"}]}`)
	call(t, s, "POST", "/api/images", string(mustPack(t, newFWID)))
	code, body = call(t, s, "POST", "/api/start", `{"group":"0xC000","policy":"apply","mode":"push","ttl":3}`)
	wantCode(t, "start", code, body, 200, `"phase": "Transfer Active"`)
	st := decode[Status](t, body)
	if d := st.Distribution; d == nil || d.Group != "0xc000" || d.Policy != "apply" || d.Mode != "push" || d.TTL != 3 || d.FirmwareID != "590001000200" {
		t.Fatalf("distribution %+v", st.Distribution)
	}
	code, body = call(t, s, "POST", "/api/start", "")
	wantCode(t, "start while busy", code, body, 409, "Busy With Distribution")
	code, body = call(t, s, "POST", "/api/resume", "")
	wantCode(t, "resume while active", code, body, 409, "nothing to resume")
	code, body = call(t, s, "POST", "/api/suspend", "")
	wantCode(t, "suspend", code, body, 200, `"phase": "Transfer Suspended"`)
	code, body = call(t, s, "POST", "/api/suspend", "")
	wantCode(t, "suspend again", code, body, 409, "Suspend Failed")
	code, body = call(t, s, "POST", "/api/resume", "")
	wantCode(t, "resume", code, body, 200, `"phase": "Transfer Active"`)
	code, body = call(t, s, "POST", "/api/apply", "")
	wantCode(t, "apply while active", code, body, 409, "Wrong Phase")
	code, body = call(t, s, "POST", "/api/cancel", "")
	wantCode(t, "cancel", code, body, 200, `"phase": "Idle"`)
	f.phase = dfd.PhaseTransferSuccess
	code, body = call(t, s, "POST", "/api/apply", "")
	wantCode(t, "apply", code, body, 200, `"phase": "Applying Update"`)
}

func TestAPI_UnknownRoutes(t *testing.T) {
	s := newTestServer(t, newFake(), "")
	code, body := call(t, s, "GET", "/api/nothing", "")
	wantCode(t, "unknown", code, body, 404, "no API endpoint GET /api/nothing")
	code, _ = call(t, s, "PUT", "/api/status", "")
	if code != 405 {
		t.Fatalf("PUT /api/status: %d", code)
	}
	code, _ = call(t, s, "GET", "/nothing", "")
	if code != 404 {
		t.Fatalf("GET /nothing: %d", code)
	}
}

func TestMetrics(t *testing.T) {
	f := newFake()
	f.phase = dfd.PhaseTransferActive
	f.receivers = []dfd.Receiver{{Address: 3, Phase: 2, Progress: 40}, {Address: 4, Phase: 5, Failed: true}}
	f.counters = Counters{PDUsSent: 12, PDUsReceived: 7, OctetsSent: 300, BytesTransferred: 4000}
	s := newTestServer(t, f, "")
	code, body := call(t, s, "GET", "/metrics", "")
	wantCode(t, "metrics", code, body, 200, "")
	for _, want := range []string{
		`meshdfu_distribution_phase{phase="Transfer Active"} 1`,
		`meshdfu_distribution_phase{phase="Idle"} 0`,
		`meshdfu_distribution_running 1`,
		`meshdfu_receivers{phase="Transfer Active"} 1`,
		`meshdfu_receivers{phase="Verification Failed"} 1`,
		`meshdfu_receivers{phase="Apply Success"} 0`,
		`meshdfu_receivers_failed 1`,
		`meshdfu_receiver_progress_percent{address="0x0003"} 40`,
		`meshdfu_transfer_bytes 4000`,
		`meshdfu_pdus_sent_total 12`,
		`meshdfu_pdus_received_total 7`,
		`meshdfu_octets_sent_total 300`,
		`meshdfu_upload_phase{phase="Idle"} 1`,
		`meshdfu_distributor_up 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("metrics lack %q", want)
		}
	}
	f.snapErr = context.DeadlineExceeded
	_, body = call(t, s, "GET", "/metrics", "")
	if !strings.Contains(body, "meshdfu_distributor_up 0") {
		t.Errorf("silent distributor: %s", body)
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:8080", "", true},
		{"[::1]:0", "", true},
		{":8080", "", false},
		{"0.0.0.0:8080", "", false},
		{"192.168.1.5:8080", "", false},
		{":8080", "t", true},
		{"8080", "", false},
	} {
		if err := CheckListen(c.addr, c.token); (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, %q) = %v", c.addr, c.token, err)
		}
	}
}

func TestAssets(t *testing.T) {
	if err := fstest.TestFS(staticFS, "index.html", "app.js", "style.css"); err != nil {
		t.Fatal(err)
	}
	// Nothing is loaded from elsewhere.
	fs.WalkDir(staticFS, ".", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := fs.ReadFile(staticFS, p)
		for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		return nil
	})
	s := newTestServer(t, newFake(), "")
	code, body := call(t, s, "GET", "/", "")
	wantCode(t, "index", code, body, 200, `<script src="/static/app.js"`)
	req := httptest.NewRequest("GET", "http://127.0.0.1/static/app.js", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), "javascript") ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("app.js: %d %v", w.Code, w.Header())
	}
}

// sseEvent is one parsed server-sent event.
type sseEvent struct{ name, data string }

func readEvents(t *testing.T, body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			case line == "" && e.name != "":
				out <- e
				e = sseEvent{}
			}
		}
	}()
	return out
}

func TestEvents(t *testing.T) {
	f := newFake()
	f.failAt = 4
	s := newTestServer(t, f, "tok")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)
	ts := httptest.NewServer(s)
	defer ts.Close()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := readEvents(t, resp.Body)
	next := func(name string) sseEvent {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatalf("stream ended waiting for %s", name)
				}
				if e.name == name {
					return e
				}
			case <-timeout:
				t.Fatalf("no %s event", name)
			}
		}
	}
	if st := decode[Status](t, next("status").data); st.Phase != "Idle" {
		t.Fatalf("first status %+v", st)
	}
	post := func(path, body string, hdr ...string) {
		req := httptest.NewRequest("POST", "http://127.0.0.1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 300 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	post("/api/receivers", `{"receivers":[{"address":"0x0003"},{"address":"0x0004"}]}`)
	if l := decode[[]Receiver](t, next("receivers").data); len(l) != 2 {
		t.Fatalf("receivers event %+v", l)
	}
	// An HTTP upload reports its progress, then the new list.
	post("/api/images", string(mustPack(t, newFWID)))
	if u := decode[Upload](t, next("upload").data); u.Source != "http" {
		t.Fatalf("upload event %+v", u)
	}
	next("images")
	post("/api/start", "")
	if p := decode[PhaseEvent](t, next("phase").data); p.Phase != "Transfer Active" || !p.Running || p.Distribution == nil {
		t.Fatalf("phase event %+v", p)
	}
	// Progress of each receiver, then its final phase.
	final := map[string]Receiver{}
	progress := map[string][]int{}
	var phases []string
	deadline := time.After(20 * time.Second)
	for len(final) < 2 || len(phases) == 0 || phases[len(phases)-1] != "Completed" {
		select {
		case <-time.After(60 * time.Millisecond): // the poller saw the last step
			f.step()
		case e := <-events:
			switch e.name {
			case "receiver":
				r := decode[Receiver](t, e.data)
				progress[r.Address] = append(progress[r.Address], r.Progress)
				if r.Phase == "Apply Success" || r.Failed {
					final[r.Address] = r
				}
			case "phase":
				phases = append(phases, decode[PhaseEvent](t, e.data).Phase)
			}
		case <-deadline:
			t.Fatalf("no end: final %+v, phases %v", final, phases)
		}
	}
	if final["0x0003"].Phase != "Apply Success" || !final["0x0004"].Failed || final["0x0004"].Reason == "" {
		t.Fatalf("final %+v", final)
	}
	if len(progress["0x0003"]) < 3 {
		t.Fatalf("progress of 0x0003: %v", progress["0x0003"])
	}
	if strings.Join(phases, ", ") != "Applying Update, Completed" {
		t.Fatalf("phases %v", phases)
	}
}

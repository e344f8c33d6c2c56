package web

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// findChromium returns the browser's path, or skips the test (fails it
// when MESHDFU_REQUIRE_CHROMIUM=1, as CI sets after installing it).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "headless Chromium not found (Debian: apt-get install chromium); the dashboard browser test needs it"
	if os.Getenv("MESHDFU_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " and MESHDFU_REQUIRE_CHROMIUM=1 is set")
	}
	t.Skip(msg + "; skipped (set MESHDFU_REQUIRE_CHROMIUM=1 to make this a failure)")
	return ""
}

// browser starts headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// rowState is what the dashboard shows for a receiver.
type rowState struct {
	Address string `json:"address"`
	Phase   string `json:"phase"`
	Pct     string `json:"pct"`
	Status  string `json:"status"`
}

const readRows = `[...document.querySelectorAll("#receivers tr")].map(tr => ({
	address: tr.dataset.address,
	phase: tr.querySelector(".phase").textContent,
	pct: tr.querySelector(".pct").textContent,
	status: tr.lastChild.textContent,
}))`

// The dashboard of a distributor during a simulated distribution: the
// browser starts it with the Start button, sees every receiver's progress
// change live (server-sent events) and ends with the final phases and the
// failing receiver's reason.
func TestBrowser_DashboardFollowsDistribution(t *testing.T) {
	bctx := browser(t)
	f := newFake()
	f.failAt = 0x0005
	for _, a := range []mesh.Address{3, 4, 5, 6} {
		f.receivers = append(f.receivers, dfd.Receiver{Address: a, Phase: dfu.PhaseUnknown})
	}
	file, _ := testImage(t, newFWID, 3000)
	if _, err := f.AddImage(t.Context(), file); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Backend: f, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)
	ts := httptest.NewServer(s) // on 127.0.0.1: a loopback Host, as without a token
	t.Cleanup(ts.Close)

	tctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel()
	if err := chromedp.Do(tctx,
		chromedp.Navigate(ts.URL),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-address="0x0006"]`)),
		chromedp.WaitEnabled(chromedp.CSS("#btn-start")),
		chromedp.Click(chromedp.CSS("#btn-start")),
	); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	// The simulated distribution moves on every 250 ms once started.
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				f.step()
			}
		}
	}()
	seen := map[string]bool{}
	var (
		rows  []rowState
		phase string
	)
	shot := os.Getenv("MESHDFU_SCREENSHOT_DIR")
	for i := 0; ; i++ {
		var err error
		if rows, err = chromedp.Run(tctx, chromedp.Evaluate[[]rowState](readRows)); err != nil {
			t.Fatalf("reading the dashboard: %v", err)
		}
		if phase, err = chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#dist-phase"))); err != nil {
			t.Fatalf("reading the dashboard: %v", err)
		}
		for _, r := range rows {
			if r.Address == "0x0003" {
				seen[r.Pct] = true
			}
		}
		if shot != "" && len(seen) == 3 && !seen["shot"] {
			seen["shot"] = true
			screenshot(t, tctx, filepath.Join(shot, "dashboard-running.png"))
		}
		if phase == "Completed" {
			break
		}
		time.Sleep(80 * time.Millisecond)
	}
	if len(seen) < 4 { // 0 %, at least two steps, 100 %
		t.Errorf("the progress of 0x0003 did not move live: saw %v", seen)
	}
	want := map[string]string{"0x0003": "Apply Success", "0x0004": "Apply Success", "0x0005": "Verification Failed", "0x0006": "Apply Success"}
	for _, r := range rows {
		if want[r.Address] != r.Phase {
			t.Errorf("%s shows %q, want %q", r.Address, r.Phase, want[r.Address])
		}
		if r.Address == "0x0005" && !strings.Contains(r.Status, "bad signature") {
			t.Errorf("0x0005 shows no reason: %q", r.Status)
		}
		if r.Address == "0x0003" && r.Pct != "100 %" {
			t.Errorf("0x0003 ends at %s", r.Pct)
		}
	}
	summary, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#summary")))
	if err != nil {
		t.Fatal(err)
	}
	if summary != "4 receivers · 3 updated · 1 failed" {
		t.Errorf("summary %q", summary)
	}
	if shot != "" {
		screenshot(t, tctx, filepath.Join(shot, "dashboard-done.png"))
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

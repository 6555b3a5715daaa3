package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/projections"
)

// chromium finds Debian's chromium (`.ci/run` installs it when it is missing).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: .ci/run installs it with apt-get")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); CI installs it")
	return ""
}

// TestBrowserStartAndWatchRun logs in as the operator in a real Chromium, starts an
// operation from the tenant page, opens the run from the flash's View-run link and
// watches its status badge go queued → running → completed (succeeded) without a
// reload, then saves a screenshot under the test's temp dir.
func TestBrowserStartAndWatchRun(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	h := startHubTB(t, pgtest.Fresh(t))
	// The sealer and the hub_runs projection run as in `atlas serve`: the viewer's stream
	// is pushed from the projection's notifications.
	bg, stopBackground := context.WithCancel(t.Context())
	var background sync.WaitGroup
	background.Go(func() { _ = h.app.Store.RunSealer(bg, 20*time.Millisecond) })
	background.Go(func() { _ = h.app.Runner.Run(bg, projections.HubRuns{}) })
	defer func() { stopBackground(); background.Wait() }()
	release := make(chan struct{})
	h.app.Operations.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		<-release // held until the test has seen the run running
		for range 3 {
			if err := rep.Progress(ctx, operations.Counts{"processed": 1}); err != nil {
				return "", err
			}
		}
		return operations.OutcomeSucceeded, rep.Flush(ctx)
	})

	ctx := newChrome(t, exe)

	op := h.seed.Users["operator"]
	tenant := h.seed.Tenants[0].ID.String()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h.base+"/admin/login"),
		chromedp.SetValue(chromedp.ID("email"), op.Email),
		chromedp.SetValue(chromedp.ID("password"), op.Password),
	))
	_, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("password")))
	require.NoError(t, err)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(loc, "/admin/operations"), loc)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h.base+"/admin/t/"+tenant+"/operations"),
		chromedp.SetValue(chromedp.ID("start-type"), "drift.generate"),
	))
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("start-type")))
	require.NoError(t, err)
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(".flash a"), "href"))
	require.NoError(t, err)
	require.Contains(t, link.Value, "/admin/operations/")

	// Open the viewer; record every status the badge shows and mark the document, so a
	// reload would be noticed.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(resolve(h.base, link.Value))))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
		window.__doc = "same";
		var b = document.getElementById("run-status");
		window.__statuses = [b.dataset.status];
		new MutationObserver(function () {
			var s = b.dataset.status;
			if (window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
		}).observe(b, {attributes: true});
		return true;
	})()`))
	require.NoError(t, err)
	first, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-status"))
	require.NoError(t, err)
	require.Equal(t, "queued", first.Value)

	// Now let a worker pick it up.
	wctx, stopWorkers := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = h.app.Operations.RunWorkers(wctx, operations.WorkerOptions{PollInterval: 20 * time.Millisecond})
	})
	defer func() { stopWorkers(); wg.Wait() }()
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	waitStatus(t, ctx, "running")
	releaseOnce.Do(func() { close(release) })
	waitStatus(t, ctx, "completed")

	statuses, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__statuses`))
	require.NoError(t, err)
	require.Equal(t, []string{"queued", "running", "completed"}, statuses)
	doc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__doc || "reloaded"`))
	require.NoError(t, err)
	require.Equal(t, "same", doc, "the viewer updated without a reload")
	bucket, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-bucket"))
	require.NoError(t, err)
	require.Equal(t, "succeeded", bucket.Value)
	// The rest of the page followed too: the end time and the timeline's last event.
	completed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#run-completed time") ? document.querySelector("#run-completed time").dateTime : ""`))
	require.NoError(t, err)
	require.NotEmpty(t, completed, "the completed time appeared without a reload")
	last, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#run-timeline li:last-child").textContent`))
	require.NoError(t, err)
	require.Contains(t, last, "NotificationSent", "the timeline grew to the run's last event")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "run-viewer.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	if dir := os.Getenv("ATLAS_SCREENSHOT_DIR"); dir != "" { // to keep it past the test
		require.NoError(t, os.WriteFile(filepath.Join(dir, "run-viewer.png"), shot, 0o644))
	}
}

func waitStatus(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-status"))
		require.NoError(t, err)
		if got.Value == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the viewer never showed %q", want)
}

func resolve(base, href string) string {
	if strings.HasPrefix(href, "http") {
		return href
	}
	return base + href
}

// TestBrowserSystemRunbook signs a platform user in to /system in a real Chromium, runs
// the backfill's preflight over one tenant, types the confirmation and a reason, lands
// on the run's page and watches it go queued → running → completed without a reload
// (the hub's run.js over the /system stream).
func TestBrowserSystemRunbook(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	h := startHubTB(t, pgtest.Fresh(t))
	h.app.Runbooks.Register(h.app.Operations)
	bg, stopBackground := context.WithCancel(t.Context())
	var background sync.WaitGroup
	background.Go(func() { _ = h.app.Store.RunSealer(bg, 20*time.Millisecond) })
	background.Go(func() { _ = h.app.Runner.Run(bg, projections.HubRuns{}) })
	defer func() { stopBackground(); background.Wait() }()
	tenant := h.seed.Tenants[0].ID
	report := uuid.Must(uuid.NewV7())
	_, err := h.app.Pool.Exec(t.Context(), `INSERT INTO drift_reports (run_id, tenant_id, baseline_snapshot_id, current_snapshot_id, generated_at, added, removed, changed)
		VALUES ($1, $2, $3, $4, now(), 1, 0, 0)`, report, tenant, uuid.New(), uuid.New())
	require.NoError(t, err)
	_, err = h.app.Pool.Exec(t.Context(), `INSERT INTO drift_findings (run_id, tenant_id, policy_type, policy_id, display_name, kind)
		VALUES ($1, $2, 'compliancePolicies', 'p1', 'Policy 1', 'added')`, report, tenant)
	require.NoError(t, err)

	ctx := newChrome(t, exe)

	p := h.seed.Platform
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h.base+"/system/login"),
		chromedp.SetValue(chromedp.ID("email"), p.Email),
		chromedp.SetValue(chromedp.ID("password"), p.Password),
	))
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("password")))
	require.NoError(t, err)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(loc, "/system/ops"), loc)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h.base+"/system/ops/runbooks"),
		chromedp.SetValue(chromedp.ID("scope-0"), "tenant:"+tenant.String()),
	))
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("scope-0")))
	require.NoError(t, err)
	affected, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("preflight-affected")))
	require.NoError(t, err)
	require.Equal(t, "1", affected)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("reason-code"), "DATA_REPAIR"),
		chromedp.SetValue(chromedp.ID("reason-text"), "browser test"),
		chromedp.SendKeys(chromedp.ID("confirm"), runbooks.BackfillKey),
	))
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("confirm")))
	require.NoError(t, err)
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "/system/ops/runs/")
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () {
		window.__doc = "same";
		var b = document.getElementById("run-status");
		window.__statuses = [b.dataset.status];
		new MutationObserver(function () {
			var s = b.dataset.status;
			if (window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
		}).observe(b, {attributes: true});
		return true;
	})()`))
	require.NoError(t, err)
	first, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-status"))
	require.NoError(t, err)
	require.Equal(t, "queued", first.Value)

	wctx, stopWorkers := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = h.app.Operations.RunWorkers(wctx, operations.WorkerOptions{PollInterval: 20 * time.Millisecond})
	})
	defer func() { stopWorkers(); wg.Wait() }()
	waitStatus(t, ctx, "completed")
	doc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__doc || "reloaded"`))
	require.NoError(t, err)
	require.Equal(t, "same", doc, "the run page updated without a reload")
	bucket, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-bucket"))
	require.NoError(t, err)
	require.Equal(t, "succeeded", bucket.Value)
	counts, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("run-counts")))
	require.NoError(t, err)
	require.Contains(t, counts, "updated")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "system-run.png"), shot, 0o644))
	if dir := os.Getenv("ATLAS_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "system-run.png"), shot, 0o644))
	}
}

// newChrome starts headless Chromium (exe) for one test: a profile of its own, no
// background networking (this machine's network refuses it), a 90 s bound; it is closed
// when the test ends.
func newChrome(t *testing.T, exe string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

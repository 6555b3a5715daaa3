package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// contrastJS lists the visible text of the page whose contrast against its background is
// below WCAG AA (4.5:1, or 3:1 for large text): for each element with its own text, the
// text colour (with the element's and its ancestors' opacity) over the first opaque
// background up the tree (the page's white when none). Inactive controls
// (aria-disabled) are exempt, as WCAG 1.4.3 says; hidden and 1-pixel (screen-reader)
// text is skipped. It answers "tag.class 'text': ratio (fg on bg)" lines.
const contrastJS = `(function () {
  function rgba(s) {
    var m = s.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    var p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function lum(c) {
    var a = c.slice(0, 3).map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
  }
  function over(fg, bg) {
    var a = fg[3];
    return [fg[0] * a + bg[0] * (1 - a), fg[1] * a + bg[1] * (1 - a), fg[2] * a + bg[2] * (1 - a), 1];
  }
  function background(el) {
    var layers = [];
    for (var e = el; e; e = e.parentElement) {
      var c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    var bg = [255, 255, 255, 1];
    for (var i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  }
  var bad = [], checked = 0;
  document.querySelectorAll("body *").forEach(function (el) {
    if (el.closest("svg, script, style, [aria-disabled=true]")) return;
    var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim() !== ""; });
    if (!own) return;
    var r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (r.width <= 1 || r.height <= 1 || cs.visibility === "hidden" || cs.display === "none") return;
    var fg = rgba(cs.color), alpha = 1;
    for (var e = el; e; e = e.parentElement) alpha *= parseFloat(getComputedStyle(e).opacity);
    fg[3] *= alpha;
    var bg = background(el), f = over(fg, bg);
    var l1 = lum(f), l2 = lum(bg), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    var size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    var need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    checked++;
    if (ratio < need) bad.push(el.tagName.toLowerCase() + "." + el.className + " '" + el.textContent.trim().slice(0, 30) + "': " +
      ratio.toFixed(2) + " (" + cs.color + " on rgb(" + bg.slice(0, 3).map(Math.round).join(",") + "))");
  });
  return {checked: checked, bad: bad};
})()`

// contrastReport is what contrastJS answers.
type contrastReport struct {
	Checked int      `json:"checked"`
	Bad     []string `json:"bad"`
}

// TestBrowserOverviewNarrowAndContrast walks overview → failing tenant → filtered list →
// run in a real Chromium 375 px wide: at each page nothing overflows sideways and every
// visible text meets WCAG AA contrast (checked in the page, not by eye); on the list, "/"
// focuses the filter form and "j" moves down the rows. It saves a screenshot of each.
func TestBrowserOverviewNarrowAndContrast(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	h := startHubTB(t, pgtest.Fresh(t))
	overviewRuns(t, h)
	bg, stopBackground := context.WithCancel(t.Context())
	var background sync.WaitGroup
	background.Go(func() { _ = h.app.Store.RunSealer(bg, 20*time.Millisecond) })
	background.Go(func() { _ = h.app.Runner.Run(bg, projections.HubRuns{}) })
	background.Go(func() { _ = h.app.Runner.Run(bg, projections.ScopeCounts{}) })
	defer func() { stopBackground(); background.Wait() }()

	ctx := newChrome(t, exe)

	op := h.seed.Users["operator"]
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 812),
		chromedp.Navigate(h.base+"/admin/login"),
		chromedp.SetValue(chromedp.ID("email"), op.Email),
		chromedp.SetValue(chromedp.ID("password"), op.Password),
	))
	_, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("password")))
	require.NoError(t, err)

	check := func(name string) {
		t.Helper()
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 375, "%s: the page overflows a 375 px screen sideways", name)
		for _, scheme := range []string{"dark", "light"} { // both palettes; light stays on
			require.NoError(t, chromedp.Do(ctx, colorScheme(scheme)))
			report, err := chromedp.Run(ctx, chromedp.Evaluate[contrastReport](contrastJS))
			require.NoError(t, err)
			require.Greater(t, report.Checked, 10, "%s: the check saw the page's text", name)
			require.Empty(t, report.Bad, "%s (%s): text below WCAG AA contrast", name, scheme)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), name+".png"), shot, 0o644))
		if dir := os.Getenv("ATLAS_SCREENSHOT_DIR"); dir != "" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name+"-375.png"), shot, 0o644))
		}
	}

	// The overview: the failing tenants' table, most failures first.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.base+"/admin"), chromedp.WaitVisible(chromedp.CSS("table.failing"))))
	check("overview")
	// Live: a run queued now shows on the open page without a reload (live.js, bounded).
	// Read in the page in one step: live.js replaces the tile's node when the count
	// changes, and a node looked up first and read after can be gone by then ("No node
	// with given id found", CI 2026-12-02).
	queued := func() string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".tile-queued .tile-n") || {}).textContent || ""`))
		require.NoError(t, err)
		return strings.TrimSpace(v)
	}
	require.Equal(t, "3", queued())
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__doc = "same", true`))
	require.NoError(t, err)
	_, err = h.app.Operations.Start(t.Context(), operations.StartRequest{Type: "drift.generate", TenantID: h.seed.Tenants[0].ID,
		Context: []byte(`{"baseline":"live"}`), Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return queued() == "4" }, 25*time.Second, 200*time.Millisecond, "the overview never showed the new run")
	same, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__doc || "reloaded"`))
	require.NoError(t, err)
	require.Equal(t, "same", same, "updated in place, not reloaded")
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("table.failing td.num a"), "href"))
	require.NoError(t, err)
	require.Contains(t, href.Value, "bucket=failed")

	// The failing tenant's filtered list.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(resolve(h.base, href.Value)), chromedp.WaitVisible(chromedp.CSS("table.runs"))))
	check("failed-list")
	reasons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.runs .reason").length`))
	require.NoError(t, err)
	require.Positive(t, reasons, "failed rows show their reason code")
	require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent("/")))
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	require.NoError(t, err)
	require.Equal(t, "f-q", focused, `"/" focuses the search field, the filter form's first`)
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement.blur(), true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent("j")))
	current, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Array.prototype.indexOf.call(document.querySelectorAll("table.runs tbody tr"), document.querySelector("tr.kb-current"))`))
	require.NoError(t, err)
	require.Equal(t, 0, current, `"j" highlights the first row`)
	runHref, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("table.runs tbody tr td a"), "href"))
	require.NoError(t, err)

	// The run.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(resolve(h.base, runHref.Value)), chromedp.WaitVisible(chromedp.ID("run-status"))))
	bucket, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-bucket"))
	require.NoError(t, err)
	require.Equal(t, "failed", bucket.Value, fmt.Sprintf("the run behind %s", runHref.Value))
	check("run")
	// The check can fail: a light grey line on white is reported.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { var p = document.createElement("p");
		p.textContent = "faint"; p.style.color = "#bbbbbb"; p.style.background = "#ffffff"; document.querySelector("main").appendChild(p); return true; })()`))
	require.NoError(t, err)
	report, err := chromedp.Run(ctx, chromedp.Evaluate[contrastReport](contrastJS))
	require.NoError(t, err)
	require.Len(t, report.Bad, 1)
	require.Contains(t, report.Bad[0], "'faint'")
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	require.False(t, strings.Contains(body, "1 days"), "plurals")
}

// colorScheme makes the page's prefers-color-scheme media feature scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return chromedp.Void{}, err
	}
}

package web_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/projections"
)

// TestBrowserRestore: in a real Chromium an owner opens a backup set, presses
// "Restore…", waits for the preview on the restore page, types the tenant's name,
// lands on the execution's run page and follows it to its end without a reload; the
// run links back to the restore, whose page then shows each item's result.
func TestBrowserRestore(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	d, h := restoreHub(t)
	e := d.env
	bg, stopBackground := context.WithCancel(t.Context())
	var background sync.WaitGroup
	background.Go(func() { _ = e.App.Store.RunSealer(bg, 20*time.Millisecond) })
	background.Go(func() { _ = e.App.Runner.Run(bg, projections.HubRuns{}) })
	defer func() { stopBackground(); background.Wait() }()
	dcs := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	original := dcs[0]["description"]
	dcs[0]["description"] = "edited in the portal"
	e.Sim.SetObject(e.EntraTenant, "deviceConfigurations", dcs[0])

	ctx := newChrome(t, exe)

	owner := d.seed.Users["owner"]
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h.base+"/admin/login"),
		chromedp.SetValue(chromedp.ID("email"), owner.Email),
		chromedp.SetValue(chromedp.ID("password"), owner.Password),
	))
	_, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("password")))
	require.NoError(t, err)

	setPage := h.base + "/admin/t/" + e.Tenant.String() + "/backups/" + d.set.ID.String()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(setPage)))
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(`form[action$="/restore"] button`)))
	require.NoError(t, err)
	page, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, page, "/admin/t/"+e.Tenant.String()+"/restores/")

	// The preview is a run: reload until its stored diff offers the execute form.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('input[name="confirm"]')`))
		require.NoError(t, err)
		if ready {
			break
		}
		require.True(t, time.Now().Before(deadline), "the preview never finished")
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page)))
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").textContent`))
	require.NoError(t, err)
	require.Contains(t, text, "updated")
	require.Contains(t, text, "unchanged")

	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`input[name="confirm"]`), "Contoso")))
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(`input[name="confirm"]`)))
	require.NoError(t, err)
	runPage, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, runPage, "/admin/operations/")
	waitStatus(t, ctx, "completed")
	bucket, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("run-status"), "data-bucket"))
	require.NoError(t, err)
	require.Equal(t, "succeeded", bucket.Value)
	require.Equal(t, original, e.Sim.Objects(e.EntraTenant, "deviceConfigurations")[0]["description"], "the backup's value is back")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(runPage)))
	rel := strings.TrimPrefix(page, h.base)
	linked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('main a[href="`+rel+`"]')`))
	require.NoError(t, err)
	require.True(t, linked, "the run links its restore")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page)))
	text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").textContent`))
	require.NoError(t, err)
	require.Contains(t, text, "skipped")
	require.Contains(t, text, "executed")
}

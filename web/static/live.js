// live.js keeps a page region current without a reload: every element with
// data-live="SECONDS" is replaced, that often, by the same element of a fresh copy of the
// page (fetched from the same URL, same origin, with the session cookie). A failed fetch
// keeps the old content and tries again later; a hidden tab does not fetch.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live]");
  regions.forEach(function (region) {
    var every = Math.max(5, parseInt(region.getAttribute("data-live"), 10) || 15) * 1000;
    var refresh = function () {
      if (document.hidden) { return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (res) { return res.ok ? res.text() : Promise.reject(res.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = region.id ? doc.getElementById(region.id) : null;
          if (fresh) {
            region.innerHTML = fresh.innerHTML;
            region.setAttribute("data-refreshed", new Date().toISOString());
          }
        })
        .catch(function () { /* keep what is shown; the next tick tries again */ });
    };
    window.setInterval(refresh, every);
  });
})();

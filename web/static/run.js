// Live run details: follows /admin/operations/{run}/stream while the run is active and
// updates the page in place, without a reload. Vanilla JS, no dependencies.
(function () {
  "use strict";
  var badge = document.getElementById("run-status");
  if (!badge || !badge.dataset.stream || !window.EventSource) return;
  var statusText = document.getElementById("run-status-text");
  var outcome = document.getElementById("run-outcome");
  var counts = document.querySelector("#run-counts tbody");
  var source = new EventSource(badge.dataset.stream);
  source.addEventListener("run", function (e) {
    var run;
    try { run = JSON.parse(e.data); } catch (err) { return; }
    badge.dataset.status = run.status;
    badge.dataset.bucket = run.bucket;
    badge.className = "badge badge-lg badge-" + run.bucket;
    badge.textContent = run.bucket;
    if (statusText) statusText.textContent = run.status;
    if (outcome) outcome.textContent = run.outcome;
    if (counts && run.counts) {
      var keys = Object.keys(run.counts).sort();
      if (keys.length) {
        counts.textContent = "";
        keys.forEach(function (k) {
          var tr = document.createElement("tr");
          var td1 = document.createElement("td");
          var td2 = document.createElement("td");
          td1.textContent = k;
          td2.textContent = String(run.counts[k]);
          td2.className = "num";
          tr.appendChild(td1);
          tr.appendChild(td2);
          counts.appendChild(tr);
        });
      }
    }
    if (run.status === "completed") {
      source.close();
      badge.dataset.done = "true";
      var note = document.getElementById("run-finished");
      if (note) note.hidden = false;
    }
  });
})();

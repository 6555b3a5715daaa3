// Live run details: follows /admin/operations/{run}/stream while the run is active and
// updates the page in place, without a reload. Vanilla JS, no dependencies.
(function () {
  "use strict";
  var badge = document.getElementById("run-status");
  if (!badge || !badge.dataset.stream || !window.EventSource) return;
  var statusText = document.getElementById("run-status-text");
  var outcome = document.getElementById("run-outcome");
  var counts = document.querySelector("#run-counts tbody");
  var timeline = document.getElementById("run-timeline");

  // when renders an RFC 3339 time as the page does: a <time> with the exact time on hover.
  function when(iso) {
    var t = document.createElement("time");
    t.dateTime = iso;
    t.title = iso;
    var secs = Math.round((Date.now() - Date.parse(iso)) / 1000);
    t.textContent = secs < 45 ? "just now" : secs < 3600 ? Math.round(secs / 60) + " min ago" : new Date(iso).toLocaleString();
    return t;
  }
  function setTime(id, iso) {
    var dd = document.getElementById(id);
    if (!dd || !iso) return;
    dd.textContent = "";
    dd.appendChild(when(iso));
  }
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
    setTime("run-started", run.startedAt);
    setTime("run-completed", run.completedAt);
    var duration = document.getElementById("run-duration");
    if (duration && run.duration) duration.textContent = run.duration;
    var reason = document.getElementById("run-reason");
    if (reason && run.reason) {
      reason.textContent = run.reason;
      reason.hidden = false;
      var head = document.getElementById("run-reason-head");
      if (head) head.hidden = false;
    }
    var short = document.getElementById("run-short-reason");
    if (short && run.shortReason) {
      short.textContent = run.shortReason;
      short.hidden = false;
      var shortHead = document.getElementById("run-short-reason-head");
      if (shortHead) shortHead.hidden = false;
    }
    if (timeline && run.timeline && run.timeline.length) {
      timeline.textContent = "";
      run.timeline.forEach(function (ev) {
        var li = document.createElement("li");
        var type = document.createElement("span");
        type.className = "ev-type";
        type.textContent = ev.type;
        var version = document.createElement("span");
        version.className = "muted";
        version.textContent = "v" + ev.version;
        li.appendChild(type);
        li.appendChild(document.createTextNode(" " + ev.summary + " "));
        li.appendChild(version);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(when(ev.at));
        timeline.appendChild(li);
      });
    }
    if (run.status === "completed") {
      source.close();
      badge.dataset.done = "true";
      var note = document.getElementById("run-finished");
      if (note) note.hidden = false;
    }
  });
})();

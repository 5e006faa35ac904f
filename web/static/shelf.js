// Keep the shelf page live: every poll_ms ask the server for the grid it renders
// (GET /shelf/grid) and swap it in only when it changed, so blinking slots stay smooth.
(function () {
  "use strict";

  var dataEl = document.getElementById("shelf-data");
  var grid = document.getElementById("grid");
  if (!dataEl || !grid || !window.fetch) return;

  var page = JSON.parse(dataEl.textContent);
  var statusEl = document.getElementById("status");
  var summaryEl = document.getElementById("summary");

  function show(data) {
    if (data.html !== undefined) {  // sent only when it differs from our data-version
      grid.innerHTML = data.html;
      summaryEl.textContent = data.summary;
      grid.setAttribute("data-version", data.version);
    }
    statusEl.textContent = data.updated;
    statusEl.setAttribute("data-generated-at", data.generated_at);
    statusEl.classList.remove("offline");
  }

  function offline() {
    statusEl.textContent = page.strings.offline;
    statusEl.classList.add("offline");
  }

  function poll() {
    if (document.hidden) {  // a background tab need not poll; it catches up when shown
      setTimeout(poll, page.poll_ms);
      return;
    }
    // page.grid carries the page's filter (?show=...): every poll keeps it.
    var url = page.grid + (page.grid.indexOf("?") < 0 ? "?" : "&") + "since=" +
      encodeURIComponent(grid.getAttribute("data-version"));
    fetch(url, { credentials: "same-origin", cache: "no-store",
                 headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {  // signed out elsewhere: the page asks to sign in
          window.location.reload();
          throw new Error("signed out");
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(show, offline)
      .then(function () { setTimeout(poll, page.poll_ms); });
  }

  setTimeout(poll, page.poll_ms);
})();

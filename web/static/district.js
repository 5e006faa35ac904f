// Keep the district's table live: every poll_ms ask for it (GET /district/rows?since=VERSION)
// and swap it in only when it changed (the server leaves the markup out otherwise).
(function () {
  "use strict";

  var dataEl = document.getElementById("district-data");
  var rows = document.getElementById("district-rows");
  if (!dataEl || !rows || !window.fetch) return;

  var page = JSON.parse(dataEl.textContent);
  var statusEl = document.getElementById("district-status");

  function show(data) {
    if (data.html !== undefined) {
      rows.innerHTML = data.html;
      rows.setAttribute("data-version", data.version);
    }
    statusEl.textContent = data.updated;
    statusEl.classList.remove("offline");
  }

  function offline() {
    statusEl.textContent = page.strings.offline;
    statusEl.classList.add("offline");
  }

  function poll() {
    if (document.hidden) {
      setTimeout(poll, page.poll_ms);
      return;
    }
    var url = page.rows + (page.rows.indexOf("?") < 0 ? "?" : "&") + "since=" +
      encodeURIComponent(rows.getAttribute("data-version"));
    fetch(url, { credentials: "same-origin", cache: "no-store",
                 headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
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

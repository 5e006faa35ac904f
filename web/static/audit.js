// The shelf audit on a phone. Without this script every form works as it is, and the page's
// own link reloads it. With it: the page follows the shelf (a press of the slot's button at
// the kiosk moves the audit on) by asking /audit/state every two seconds and reloading when
// the audit changed; the report's print button prints. Nothing here comes from a third party.
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  var data = document.getElementById("audit-data");
  if (!data) return;
  var page = JSON.parse(data.textContent);
  var typing = function () {
    var active = document.activeElement;
    return active && active.tagName === "INPUT" && active.value !== "";
  };

  function poll() {
    fetch(page.state, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.version !== page.version && !typing()) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, page.poll_ms);
      })
      .catch(function () { window.setTimeout(poll, page.poll_ms); });
  }
  window.setTimeout(poll, page.poll_ms);
}());

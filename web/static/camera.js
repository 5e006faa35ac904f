// The camera view: ask the kiosk for its frames while this page is open, show the newest
// about once a second with each code's outline over it and what it means for aiming.
// Nothing here comes from a third party.
(function () {
  "use strict";

  var data = document.getElementById("camera-data");
  if (!data) return;
  var page = JSON.parse(data.textContent);
  var words = page.words;
  var form = document.getElementById("camera-watch");
  var img = document.getElementById("camera-frame");
  var svg = document.getElementById("camera-codes");
  var said = document.getElementById("camera-said");
  var list = document.getElementById("camera-codes-said");
  var shown = null;  // seen_at of the frame on screen

  function ask() {
    fetch(page.watch, {method: "POST", body: new FormData(form), credentials: "same-origin",
                       headers: {"Accept": "application/json"}})
      .finally(function () { window.setTimeout(ask, page.ask_ms); });
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function describe(code) {
    var read = code.read ? words.read : words.unread;
    if (code.kind !== "qr" || code.module_px === null) {
      return fill(words.barcode, {read: read});
    }
    return fill(words.qr, {read: read, px: code.module_px.toFixed(1),
                           verdict: words[code.verdict]});
  }

  function draw(view) {
    var sight = view.sight;
    svg.setAttribute("viewBox", "0 0 " + sight.width + " " + sight.height);
    svg.textContent = "";
    list.textContent = "";
    sight.codes.forEach(function (code) {
      var shape = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
      shape.setAttribute("points", code.corners.map(function (c) { return c.join(","); })
                                               .join(" "));
      shape.setAttribute("class", code.read ? code.verdict : "unread");
      svg.appendChild(shape);
      var item = document.createElement("li");
      item.className = "camera-code";
      item.textContent = describe(code);
      list.appendChild(item);
    });
    if (!sight.codes.length) {
      var none = document.createElement("li");
      none.textContent = words.none;
      list.appendChild(none);
    }
    said.textContent = fill(words.frame, {white: sight.brightness,
                                          glare: (sight.glare * 100).toFixed(1) + "%"});
  }

  function show() {
    fetch(page.view, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (view) {
        if (!view || view.seen_at === null) {
          said.textContent = words.waiting;
        } else if (view.age_s > page.stale_s) {
          said.textContent = words.stale;
        } else if (view.seen_at !== shown) {
          shown = view.seen_at;
          img.src = page.frame + "?at=" + encodeURIComponent(view.seen_at);
          img.hidden = false;
          draw(view);
        }
      })
      .finally(function () { window.setTimeout(show, page.show_ms); });
  }

  ask();
  show();
}());

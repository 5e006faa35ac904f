// Keep the shelf page live: poll /api/slots and redraw the grid in place, no reload.
// The markup built here mirrors the slot_card macro in templates/shelf.html.
(function () {
  "use strict";

  var dataEl = document.getElementById("shelf-data");
  var grid = document.getElementById("grid");
  if (!dataEl || !grid || !window.fetch) return;

  var page = JSON.parse(dataEl.textContent);
  var strings = page.strings;
  var statusEl = document.getElementById("status");
  var summaryEl = document.getElementById("summary");
  var lastSlots = null;  // the first poll always redraws

  // Same rule as web.i18n.t: "{name}" placeholders filled from values.
  function tr(key, values) {
    var text = strings[key] || key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name)
        ? String(values[name]) : whole;
    });
  }

  // Times in the community's zone, formatted like shelf.TIME_FORMAT ("%m-%d %H:%M").
  var clock = new Intl.DateTimeFormat("en-GB", {
    timeZone: page.timezone, month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
  });
  function timeParts(iso) {
    var parts = {};
    clock.formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts;
  }
  function shortTime(iso) {
    var p = timeParts(iso);
    return p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  function wallClock(iso) {
    var p = timeParts(iso);
    return p.hour + ":" + p.minute + ":" + p.second;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isFull(slot) {
    return slot.capacity !== null && slot.count >= slot.capacity;
  }

  function parcelItem(parcel) {
    var item = el("li", "parcel" + (parcel.door_delivery ? " door" : ""));
    item.setAttribute("data-parcel", String(parcel.id));
    var when = el("time", "", shortTime(parcel.checked_in_at));
    when.setAttribute("datetime", parcel.checked_in_at);
    when.setAttribute("title", tr("checked_in_at"));
    item.append(el("span", "household", parcel.household), el("span", "ref", parcel.ref), when);
    if (parcel.door_delivery) item.append(el("span", "door-badge", tr("door_delivery")));
    return item;
  }

  function slotCard(slot) {
    var full = isFull(slot);
    var classes = ["slot"];
    if (slot.light) classes.push("lit", "lit-" + slot.light);
    if (full) classes.push("full");
    if (!slot.count) classes.push("empty");
    if (slot.overflow) classes.push("overflow");
    var card = el("article", classes.join(" "));
    card.setAttribute("data-slot", slot.code);

    var head = el("header", "slot-head");
    var count = String(slot.count) + (slot.capacity !== null ? "/" + slot.capacity : "");
    head.append(el("span", "slot-code", slot.code), el("span", "slot-count", count));
    card.append(head);
    var zone = slot.overflow ? tr("overflow")
      : slot.buildings ? tr("zone", { buildings: slot.buildings }) : tr("zone_any");
    card.append(el("p", "slot-zone", zone));

    if (slot.light || full) {
      var state = el("p", "slot-state");
      if (slot.light) state.append(el("span", "light-badge", tr("light_" + slot.light)));
      if (full) state.append(el("span", "full-badge", tr("full")));
      card.append(state);
    }
    if (slot.parcels.length) {
      var list = el("ul", "parcels");
      slot.parcels.forEach(function (p) { list.append(parcelItem(p)); });
      card.append(list);
    } else {
      card.append(el("p", "slot-empty", tr("empty")));
    }
    return card;
  }

  // Same rule as shelf.group_by_shelf: configured shelves in order, the overflow place last.
  function groups(slots) {
    var byId = {};
    var ordered = page.shelves.map(function (s) {
      byId[s.id] = { id: s.id, name: s.name, overflow: false, slots: [] };
      return byId[s.id];
    });
    var spill = { id: "", name: page.overflow_name, overflow: true, slots: [] };
    slots.forEach(function (slot) {
      if (slot.overflow) {
        spill.id = slot.code;
        spill.slots.push(slot);
        return;
      }
      if (!byId[slot.shelf]) {
        byId[slot.shelf] = { id: slot.shelf, name: slot.shelf, overflow: false, slots: [] };
        ordered.push(byId[slot.shelf]);
      }
      byId[slot.shelf].slots.push(slot);
    });
    ordered.push(spill);
    return ordered.filter(function (g) { return g.slots.length > 0; });
  }

  function drawGrid(slots) {
    var sections = groups(slots).map(function (group) {
      var section = el("section", "shelf" + (group.overflow ? " overflow-shelf" : ""));
      section.setAttribute("data-shelf", group.id);
      var row = el("div", "slots");
      group.slots.forEach(function (slot) { row.append(slotCard(slot)); });
      section.append(el("h2", "", group.name), row);
      return section;
    });
    grid.replaceChildren.apply(grid, sections);
    grid.setAttribute("data-source", "live");
  }

  function drawSummary(slots) {
    var totals = { parcels: 0, full: 0, lit: 0 };
    slots.forEach(function (slot) {
      totals.parcels += slot.count;
      if (isFull(slot)) totals.full += 1;
      if (slot.light) totals.lit += 1;
    });
    summaryEl.textContent = tr("summary", totals);
  }

  function show(data) {
    var key = JSON.stringify(data.slots);
    if (key !== lastSlots) {  // redraw only on change, so blinking stays smooth
      drawGrid(data.slots);
      drawSummary(data.slots);
      lastSlots = key;
    }
    statusEl.textContent = tr("updated", { time: wallClock(data.generated_at) });
    statusEl.setAttribute("data-generated-at", data.generated_at);
    statusEl.classList.remove("offline");
  }

  function offline() {
    statusEl.textContent = tr("offline");
    statusEl.classList.add("offline");
  }

  function poll() {
    if (document.hidden) {  // a background tab need not poll; visibilitychange resumes it
      setTimeout(poll, page.poll_ms);
      return;
    }
    fetch(page.api, { credentials: "same-origin", cache: "no-store",
                      headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {  // signed out elsewhere: the server asks to sign in
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

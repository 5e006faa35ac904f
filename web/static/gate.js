// The gate screen: what the camera and this keypad did, in large type, in Chinese or English.
// Polls GET /gate/state for the gate's new events (scans by the kiosk process) and POSTs what
// is typed here as JSON. The server sends what happened (a "view"); this file says it in the
// screen's language, so switching language redraws what is shown without asking the server.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("gate-data").textContent);
  function $(id) { return document.getElementById(id); }
  var screenEl = $("screen"), idleEl = $("idle"), resultEl = $("result");
  var headlineEl = $("headline"), slotEl = $("slot"), householdEl = $("household");
  var instructionEl = $("instruction"), noteEl = $("note"), choicesEl = $("choices");
  var bodyEl = document.querySelector("main.body");
  var padEl = $("pad"), labelEl = $("entry-label"), valueEl = $("entry-value");
  var keyEls = padEl.querySelectorAll("[data-key]");
  var okKey = padEl.querySelector('[data-key="ok"]'), cancelEl = $("cancel");
  var statusEl = $("status"), langEl = $("lang"), cameraEl = $("camera-lost");
  var brokenEl = $("out-of-order");
  var freshEl = $("fresh"), freshKeyEl = $("fresh-key"), freshNoteEl = $("fresh-note");

  var FIELDS = { code: "digits", building: "building", room: "room", tail: "tail" };
  var LENGTHS = { code: 6, building: 3, room: 6, tail: 4 };
  var LABELS = { code: "gate_entry_code", building: "gate_entry_building",
                 room: "gate_entry_room", tail: "gate_entry_tail", choose: "gate_entry_room" };
  var RETRYABLE = { store_unavailable: true, internal: true, offline: true };
  var FLOW_ERRORS = { confusable_room: "tail", phone_mismatch: "choose",
                      unknown_household: "room", announcement_mismatch: "building" };

  var lang = data.lang;
  var cursor = null;     // the newest event read; null until the first poll says where to start
  var generation = 0;    // moved by every POST: a poll sent before one may repeat its events
  var busy = false;      // a POST is on its way: keys and polls wait for it
  var view = null;       // what the screen shows; null: how to use the gate
  var flow = null;       // a carrier waybill being checked in: {code, room, tail, announced}
  var pickup = null;     // a pickup code kept while its building-room is typed: {code}
  var sent = null;       // the pickup code on its way: kept if the gate asks for the room
  var waitUntil = 0;     // Date.now() when the keypad takes pickup codes again
  var tickTimer = null;  // redraws the wait, second by second, while it lasts
  var note = null;       // a word under the entry ("pickup codes have 6 digits")
  var pad = blankPad();
  var shown = 0, quietTimer = null, langTimer = null;

  function blankPad() { return { mode: "code", digits: "", building: "", room: "", tail: "" }; }

  function say(key, values) {
    var text = data.strings[lang][key] || data.strings[data.default_lang][key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(values[name]);
    });
    return text;
  }

  function list(items) { return items.join(lang === "zh" ? "、" : ", "); }
  function household(parts) { return parts ? say("gate_household", parts) : ""; }
  function typedRoom() {
    return { id: pad.building + "-" + pad.room, building: pad.building, room: pad.room };
  }

  // ---- what the screen shows -------------------------------------------------------------

  // Seconds until the keypad takes a pickup code again (0: now).
  function waitLeft() { return Math.max(0, Math.ceil((waitUntil - Date.now()) / 1000)); }

  // A wait in words: "45 秒", "1 分钟", "1 分 30 秒" / "45 seconds", "1 minute", "1 min 30 s".
  function duration(seconds) {
    var minutes = Math.floor(seconds / 60), rest = seconds % 60;
    if (!minutes) return seconds === 1 ? say("gate_one_second") : say("gate_n_seconds", { n: seconds });
    if (!rest) return minutes === 1 ? say("gate_one_minute") : say("gate_n_minutes", { n: minutes });
    return say("gate_min_sec", { m: minutes, s: rest });
  }

  // After a wrong pickup code: how many more the keypad takes, or how long it waits now.
  function triesText(v) {
    if (v.tries_left) {
      return v.tries_left === 1 ? say("gate_tries_left_one") : say("gate_tries_left", { count: v.tries_left });
    }
    if (!v.wait_s) return "";
    var left = waitLeft();
    return left ? say("gate_wait_now", { wait: duration(left) }) : say("gate_wait_over");
  }

  function errorText(v) {
    if (v.error === "throttled") {
      if (!v.wait_s) return say("gate_err_throttled_later");
      var left = waitLeft();
      return left ? say("gate_err_throttled", { wait: duration(left) }) : say("gate_wait_over");
    }
    if (v.error === "room_required") return say("gate_room_why");
    if (v.error === "unknown_code") {
      var tries = triesText(v);
      return say(v.with_room ? "gate_err_unknown_code_room" : "gate_err_unknown_code") +
             (tries ? "\n" + tries : "");
    }
    if (flow && v.error in FLOW_ERRORS) return flowText(v);
    var key = "gate_err_" + v.error;
    return data.strings[lang][key] ? say(key) : say("gate_err_other");
  }

  function flowText(v) {
    var others = list(v.suggestions.map(household));
    var room = household(flow.room);
    if (v.error === "confusable_room") return say("gate_confusable", { room: room, others: others });
    if (v.error === "phone_mismatch") return say("gate_mismatch", { room: room, others: others });
    if (v.error === "announcement_mismatch") return say("gate_announced_mismatch");
    return say("gate_unknown_room", { room: room }) + "\n" +
           say(v.suggestions.length ? "gate_did_you_mean" : "gate_retype");
  }

  // The buttons a carrier flow offers: {label, room, tail, keep} (keep: the courier insists
  // on the room typed, so the parcel goes there "room not confirmed", for staff to check);
  // under an announced code's question, {label, typeRoom}: the waybill shows no phone, or
  // another room, so the courier types the room instead.
  function choices(v) {
    if (!flow) return [];
    if (v.kind === "needs_room" && v.announced && pad.mode === "tail") {
      return [{ label: say("gate_announced_other"), typeRoom: true }];
    }
    function pick(parts, keep) {
      return { label: household(parts), room: parts, tail: flow.tail, keep: keep };
    }
    if (v.error === "confusable_room") {
      return [{ label: say("gate_no_phone"), room: flow.room, tail: "", keep: true }];
    }
    if (v.error === "phone_mismatch") {
      return [pick(flow.room, true)].concat(v.suggestions.map(function (s) { return pick(s, false); }));
    }
    if (v.error === "unknown_household") {
      return v.suggestions.map(function (parts) {
        return { label: household(parts), room: parts, tail: "", keep: false };
      });
    }
    return [];
  }

  // What a slot's button said (kiosk.placing): the slot meant is the one shown large.
  var BUTTON_KINDS = { placed: 1, taken: 1, wrong_slot: 1, not_placed: 1 };

  function shownSlots(v) {
    if (v.kind === "checkin" || v.kind === "pickup") return v.slots;
    if (v.kind === "wrong_slot") return v.slots.slice(1);
    return v.kind in BUTTON_KINDS ? v.slots.slice(0, 1) : [];
  }

  function instruction(v) {
    var slot = v.slots[0] || "";
    if (v.kind === "wrong_slot") return say("gate_wrong_slot", { pressed: slot, slot: v.slots[1] });
    if (v.kind === "not_placed") return say("gate_not_placed", { slot: slot });
    if (v.kind === "placed") return say("gate_placed", { slot: slot });
    if (v.kind === "taken") return say("gate_taken", { slot: slot });
    if (v.kind === "checkin") {
      return v.overflow ? say("gate_put_overflow", { place: v.place })
                        : say(v.repeat ? "gate_put_again" : "gate_put_in", { slot: slot });
    }
    if (v.kind === "pickup") {
      var many = v.slots.length > 1 || v.parcels > 1;
      var text = say(many ? "gate_take_many" : "gate_take_from",
                     { slots: list(v.slots), count: v.parcels });
      if (v.overflow) text += "\n" + say("gate_take_overflow", { slot: v.slots[v.slots.length - 1], place: v.place });
      return text;
    }
    if (v.kind === "needs_room" && v.announced) {
      return say(pad.mode === "tail" ? "gate_announced" : "gate_needs_room",
                 { room: household(v.announced) });
    }
    if (v.kind === "needs_room") return say("gate_needs_room");
    return errorText(v);
  }

  // Under a check-in whose room no phone settled: staff will check it.
  function roomNote(v) {
    return v.kind === "checkin" && v.room_confirmed === false ? say("gate_unconfirmed") : "";
  }

  // A carrier flow's question (which room? which phone?) is not a refusal: it names the waybill.
  // Nor is the gate asking a resident for the building-room with the pickup code.
  function asking(v) {
    return v.kind === "needs_room" || (!!flow && v.error in FLOW_ERRORS) ||
           v.error === "room_required";
  }

  function headline(v) {
    if (v.kind in BUTTON_KINDS) return say("gate_" + v.kind + "_title");
    if (v.kind === "checkin") return say("gate_checkin_title");
    if (v.kind === "pickup") return say("gate_pickup_title");
    if (v.error === "room_required") return say("gate_room_title");
    if (asking(v)) return say("gate_needs_room_title", { code: flow ? flow.code : v.code });
    return say("gate_refused_title");
  }

  // Put ``text`` in ``el``, each of ``whole`` on one line: "B-12" never breaks at its hyphen.
  function write(el, text, whole) {
    el.textContent = "";
    var pattern = whole.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    var parts = pattern.length ? text.split(new RegExp("(" + pattern.join("|") + ")")) : [text];
    parts.forEach(function (part) {
      if (whole.indexOf(part) < 0) return el.appendChild(document.createTextNode(part));
      var span = document.createElement("span");
      span.className = "whole";
      span.textContent = part;
      el.appendChild(span);
    });
  }

  function drawScreen() {
    idleEl.hidden = !!view;
    resultEl.hidden = !view;
    screenEl.setAttribute("data-state", view ? view.kind : "idle");
    screenEl.setAttribute("data-error", view && view.error || "");
    if (!view) return;
    headlineEl.textContent = headline(view);
    var slots = shownSlots(view);
    write(slotEl, slots.join(" "), slots);
    slotEl.className = "slot" + (slots.length > 1 ? " many" : "");
    householdEl.textContent = household(view.household);
    var left = waitLeft();  // "1 分钟" never breaks either
    write(instructionEl, instruction(view), view.slots.concat(left ? [duration(left)] : []));
    noteEl.textContent = roomNote(view);
    var bad = view.kind === "refused" || view.kind === "wrong_slot" || view.kind === "not_placed";
    resultEl.className = "result " + (asking(view) ? "ask" : bad ? "bad" : "good") +
                         (noteEl.textContent ? " noted" : "");
    drawFresh();
    choicesEl.textContent = "";
    choices(view).forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choice" + (choice.room && choice.label === household(choice.room) ? "" : " other");
      if (choice.room) button.setAttribute("data-room", choice.room.id);
      if (choice.keep) button.setAttribute("data-keep", "");
      if (choice.typeRoom) button.setAttribute("data-type-room", "");
      var label = document.createElement("span");
      label.className = "label";
      label.textContent = choice.label;
      button.appendChild(label);
      if (choice.keep) {  // the parcel goes there unconfirmed: the courier sees it before choosing
        var mark = document.createElement("span");
        mark.className = "mark";
        mark.textContent = say("gate_unconfirmed_mark");
        button.appendChild(mark);
      }
      button.addEventListener("click", function () { choose(choice); });
      choicesEl.appendChild(button);
    });
  }

  // Under a check-in: the fresh-food key, or what it did ("已标记生鲜"), or why it did not.
  function drawFresh() {
    var offer = !!view && view.kind === "checkin" && !!view.parcel;
    freshEl.hidden = !offer;
    if (!offer) return;
    var state = view.marking || (view.fresh ? "done" : "offer");
    var done = state === "done" || state === "door";
    var asking = state === "offer" || state === "sending";
    freshEl.setAttribute("data-fresh", done ? "done" : asking ? state : "refused");
    freshKeyEl.hidden = !asking && !(state in RETRYABLE);  // pressing again would change nothing
    freshKeyEl.disabled = state === "sending";
    freshKeyEl.textContent = say(state === "sending" ? "gate_working" : "gate_fresh_key");
    if (state === "offer" || state === "sending") {
      freshNoteEl.textContent = "";
    } else if (done) {
      freshNoteEl.textContent = say("gate_fresh_done") +
        (state === "door" ? "\n" + say("gate_fresh_door") : "");
    } else {
      freshNoteEl.textContent = freshRefusal(state);
    }
  }

  function freshRefusal(code) {
    var own = "gate_fresh_err_" + code, shared = "gate_err_" + code;
    if (data.strings[lang][own]) return say(own);
    return data.strings[lang][shared] ? say(shared) : say("gate_err_other");
  }

  function boxes(text, length) {
    var row = document.createElement("span");
    row.className = "boxes";
    for (var i = 0; i < length; i++) {
      var box = document.createElement("span");
      box.className = "box" + (i < text.length ? " filled" : "") + (i === text.length ? " next" : "");
      box.textContent = text.charAt(i) || "";
      row.appendChild(box);
    }
    return row;
  }

  function field(mode) {
    var part = document.createElement("span");
    part.className = "field" + (pad.mode === mode ? " active" : "");
    var name = document.createElement("small");
    name.textContent = say(LABELS[mode]);
    var value = document.createElement("span");
    value.className = "value";
    value.textContent = pad[FIELDS[mode]];
    part.appendChild(name);
    part.appendChild(value);
    return part;
  }

  // The keypad waits (wrong codes): it takes no pickup code; a courier's flow still works.
  function padWaits() { return pad.mode === "code" && !flow && waitLeft() > 0; }

  function drawPad() {
    var waits = padWaits();
    // Which room? is answered by its buttons alone: no keypad to press in vain meanwhile.
    padEl.hidden = pad.mode === "choose";
    bodyEl.classList.toggle("wide", padEl.hidden);
    padEl.setAttribute("data-mode", pad.mode);
    padEl.classList.toggle("busy", busy);
    padEl.classList.toggle("waiting", waits);
    labelEl.setAttribute("data-t", note || LABELS[pad.mode]);  // a note takes the label's place
    labelEl.textContent = say(note || LABELS[pad.mode]);
    labelEl.className = "entry-label" + (note ? " note" : "");
    valueEl.textContent = "";
    if (busy) {
      valueEl.textContent = say("gate_working");
    } else if (waits) {
      valueEl.textContent = say("gate_keypad_wait", { wait: duration(waitLeft()) });
    } else if (pad.mode === "code" || pad.mode === "tail") {
      valueEl.appendChild(boxes(pad[FIELDS[pad.mode]], LENGTHS[pad.mode]));
    } else if (pad.mode === "building" || pad.mode === "room" || pad.mode === "choose") {
      valueEl.appendChild(field("building"));
      valueEl.appendChild(field("room"));
    }
    drawKeys();
  }

  function drawKeys() {
    Array.prototype.forEach.call(keyEls, function (key) { key.disabled = busy; });
    var next = pad.mode === "building";
    okKey.setAttribute("data-t", next ? "gate_key_next" : "gate_key_ok");
    okKey.textContent = say(next ? "gate_key_next" : "gate_key_ok");
    cancelEl.hidden = !flow && !pickup;
  }

  function draw() { drawScreen(); drawPad(); }

  function setLanguage(code) {
    lang = code;
    document.documentElement.lang = code === "zh" ? "zh-CN" : "en";
    Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (el) {
      el.textContent = say(el.getAttribute("data-t"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-t-label]"), function (el) {
      el.setAttribute("aria-label", say(el.getAttribute("data-t-label")));
    });
    var other = code === "zh" ? "en" : "zh";
    langEl.textContent = data.languages[other];
    langEl.setAttribute("lang", other);
    langEl.setAttribute("data-lang", other);
    if (statusEl.classList.contains("offline")) statusEl.textContent = say("gate_offline");
    draw();
  }

  // ---- what happened ---------------------------------------------------------------------

  // Show one view. From a POST ("keypad"), the refusals of a carrier flow ask for more, and
  // so does the gate when it wants the building-room with a pickup code.
  function show(v, from) {
    shown += 1;
    screenEl.setAttribute("data-shown", String(shown));
    screenEl.setAttribute("data-shown-at", String(Date.now()));  // tests time the way here
    note = null;
    view = v;
    var keypad = from === "keypad";
    if (v.kind === "needs_room") {
      // An announced code: the waybill's phone first (it checks the announcement).
      flow = { code: v.code, room: null, tail: "", announced: v.announced };
      pickup = null;
      pad = blankPad();
      pad.mode = v.announced ? "tail" : "building";
    } else if (keypad && v.error === "room_required" && sent) {
      flow = null;
      pickup = { code: sent };  // in memory only, never on the screen
      pad = blankPad();
      pad.mode = "building";
    } else if (flow && keypad && (v.error in FLOW_ERRORS || v.error in RETRYABLE)) {
      flow.tail = pad.tail;
      if (v.error in FLOW_ERRORS) pad.mode = FLOW_ERRORS[v.error];
      if (v.error === "unknown_household") pad.room = "";
      if (v.error === "confusable_room") pad.tail = "";
      // A lost answer takes the room buttons with it: OK sends the room again (tail kept).
      if (v.error in RETRYABLE && pad.mode === "choose") pad.mode = "room";
    } else {
      flow = null;
      pickup = null;
      if (keypad || pad.mode !== "code") pad = blankPad();
    }
    if (keypad && v.wait_s && (v.error === "throttled" || v.error === "unknown_code")) {
      waitUntil = Date.now() + v.wait_s * 1000;
      tick();
    }
    sent = null;
    quiet();
    draw();
  }

  // While the keypad waits, say the time left every second; then that it takes codes again.
  function tick() {
    clearTimeout(tickTimer);
    // Next when the whole seconds left change (timers never fire early).
    if (waitLeft() > 0) tickTimer = setTimeout(tick, (waitUntil - Date.now()) % 1000 || 1000);
    draw();
  }

  function idle() {
    view = null;
    flow = null;
    pickup = null;
    note = null;
    pad = blankPad();
    draw();
  }

  // Back to how-to-use after a result, a half-typed code or an abandoned waybill; a result
  // that says how long the keypad waits stays until then.
  function quiet() {
    clearTimeout(quietTimer);
    var wait = flow || pickup ? data.flow_idle_ms
             : view ? Math.max(data.result_ms, waitLeft() * 1000) : data.input_idle_ms;
    quietTimer = setTimeout(idle, wait);
    clearTimeout(langTimer);
    langTimer = setTimeout(function () {
      if (lang !== data.default_lang) setLanguage(data.default_lang);
    }, data.language_reset_ms);
  }

  // POST ``body`` as JSON to the gate. Resolves with the answer; rejects with an Error whose
  // ``code`` is the server's refusal ("not_just_checked_in") or "offline". Gives up after 8 s.
  function send(url, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, 8000);
    function failed(code) { var error = new Error(code); error.code = code; return error; }
    return fetch(url, { method: "POST", credentials: "same-origin", cache: "no-store",
                        signal: controller.signal,
                        headers: { "Content-Type": "application/json", Accept: "application/json" },
                        body: JSON.stringify(body) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (!response.ok) throw failed(answer.error || "offline");
          return answer;
        });
      })
      .catch(function (error) { throw error.code ? error : failed("offline"); })
      .finally(function () { clearTimeout(timer); });
  }

  function post(url, body) {
    busy = true;
    generation += 1;
    drawPad();
    send(url, body)
      .then(function (answer) {
        // This action's own events are shown already: read on after them.
        if (answer.last_event_id !== null && cursor !== null) {
          cursor = Math.max(cursor, answer.last_event_id);
        }
        return answer.view;
      }, function () {
        return { kind: "refused", error: "offline", slots: [], suggestions: [] };
      })
      .then(function (answered) {
        busy = false;
        generation += 1;
        answered.with_room = url === data.code_url && !!body.room;  // says "code or room"
        show(answered, "keypad");
      });
  }

  // The fresh-food key: mark the parcel this check-in shows. The answer is said under the
  // check-in, which stays (the courier still needs the slot); a new result ends it.
  function markFresh() {
    var v = view;
    if (!v || !v.parcel || v.fresh || v.marking) return;
    v.marking = "sending";
    quiet();
    drawFresh();
    send(data.fresh_url, { parcel: v.parcel })
      .then(function (answer) {
        if (answer.fresh) {
          v.fresh = true;
          v.marking = answer.door_delivery ? "door" : "done";
        } else {
          v.marking = answer.error || "offline";
        }
      }, function (error) { v.marking = error.code; })
      .then(function () {
        if (view !== v) return;  // someone else's result is on the screen now
        quiet();
        drawFresh();
      });
  }

  function postRoom(parts, tail, keep) {
    flow.room = parts;
    var body = { code: flow.code, room: parts.id };
    if (tail) body.phone_tail = tail;
    if (keep) body.keep_room = true;
    post(data.room_url, body);
  }

  function choose(choice) {
    if (busy || !flow) return;
    if (choice.typeRoom) {  // nothing to send yet: the room is typed next
      pad.mode = "building";
      pad.tail = "";
      quiet();
      return draw();
    }
    pad.building = choice.room.building;
    pad.room = choice.room.room;
    pad.tail = choice.tail;
    postRoom(choice.room, choice.tail, choice.keep);
  }

  // ---- the keypad ------------------------------------------------------------------------

  function press(key) {
    if (busy) return;
    if (padWaits()) { quiet(); return drawPad(); }  // no code until the wait is over
    note = null;
    if (pad.mode === "code" && view && !flow) view = null;  // someone new is typing
    if (pad.mode === "choose") { quiet(); return draw(); }  // a room is chosen by its button
    var name = FIELDS[pad.mode];
    if (key === "back") {
      if (!pad[name] && pad.mode === "room") pad.mode = "building";
      else pad[name] = pad[name].slice(0, -1);
    } else if (key === "ok") {
      submit();
    } else if (pad[name].length < LENGTHS[pad.mode]) {
      pad[name] += key;
      if (pad.mode === "code" && pad.digits.length === 6) submit();
      else if (pad.mode === "tail" && pad.tail.length === 4) submit();
    }
    if (!busy) quiet();
    draw();
  }

  function submit() {
    if (pad.mode === "code") {
      if (pad.digits.length !== 6) { note = "gate_short_code"; return; }
      sent = pad.digits;
      pad.digits = "";
      post(data.code_url, { code: sent });
    } else if (pad.mode === "building") {
      if (pad.building) pad.mode = "room";
    } else if (pad.mode === "room" && pickup) {
      if (pad.building && pad.room) post(data.code_url, { code: pickup.code, room: typedRoom().id });
    } else if (pad.mode === "room") {
      // A tail the courier typed already for this waybill (an announced code's) goes along.
      if (pad.building && pad.room) postRoom(typedRoom(), flow.tail);
    } else if (pad.mode === "tail" && pad.tail.length === 4) {
      if (flow.room) postRoom(flow.room, pad.tail);
      else post(data.room_url, { code: flow.code, phone_tail: pad.tail });  // announced
    }
  }

  Array.prototype.forEach.call(keyEls, function (button) {
    button.addEventListener("click", function () { press(button.getAttribute("data-key")); });
  });
  cancelEl.addEventListener("click", function () { if (!busy) idle(); });
  freshKeyEl.addEventListener("click", markFresh);
  langEl.addEventListener("click", function () {
    setLanguage(langEl.getAttribute("data-lang"));
    quiet();
  });
  // A USB keypad or keyboard works too.
  document.addEventListener("keydown", function (event) {
    if (/^[0-9]$/.test(event.key)) press(event.key);
    else if (event.key === "Backspace") press("back");
    else if (event.key === "Enter") press("ok");
    else if (event.key === "Escape" && !busy) idle();
    else return;
    event.preventDefault();
  });
  document.addEventListener("contextmenu", function (event) { event.preventDefault(); });

  // ---- the store's events ----------------------------------------------------------------

  function online() {
    statusEl.textContent = "";
    statusEl.classList.remove("offline");
  }

  function offline() {
    statusEl.textContent = say("gate_offline");
    statusEl.classList.add("offline");
  }

  function poll() {
    if (busy) return setTimeout(poll, data.poll_ms);
    var sent = generation;
    var url = data.state_url + (cursor === null ? "" : "?after=" + cursor);
    fetch(url, { credentials: "same-origin", cache: "no-store",
                 headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.ok) return response.json();
        // A damaged or missing store: out of order until the staff restore it.
        return response.json().catch(function () { return {}; }).then(function (answer) {
          brokenEl.hidden = !answer.out_of_order;
          throw new Error("HTTP " + response.status);
        });
      })
      .then(function (answer) {
        online();
        brokenEl.hidden = true;
        cameraEl.hidden = !answer.camera_lost;  // the kiosk reopens it; the keypad still works
        if (sent !== generation || busy) return;  // a POST came between: ask again after it
        cursor = answer.last_event_id;
        screenEl.setAttribute("data-read", String(cursor));
        if (answer.views.length) show(answer.views[answer.views.length - 1], "camera");
      }, offline)
      .then(function () { setTimeout(poll, data.poll_ms); });
  }

  setLanguage(lang);
  poll();
})();

/* Teranga live results: apply stream deltas to the server-rendered table, no reload.
   The page embeds its snapshot (with the topic's name and seq); we follow that topic
   from there, never a name of our own: topics are per tenant (public.<slug>....).
   The browser resends Last-Event-ID when it reconnects; on "reset" (we were away longer
   than the retention window) we fetch a fresh snapshot and follow on from its seq. */
(function () {
  "use strict";
  var el = document.getElementById("live-state");
  var body = document.getElementById("live-body");
  if (!el || !body || !window.EventSource || !window.JSON) return;
  var state = JSON.parse(el.textContent);
  var statusEl = document.getElementById("live-status");
  var L = JSON.parse(statusEl.getAttribute("data-labels"));
  var fr = (document.documentElement.lang || "fr") === "fr";
  var es = null;

  function lbl(k) { return (k && L[k]) || k || ""; }
  function td(tr, text) { var c = document.createElement("td"); c.textContent = text == null ? "" : String(text); tr.appendChild(c); return c; }
  function link(cell, href, text) { var a = document.createElement("a"); a.href = href; a.textContent = text; cell.textContent = ""; cell.appendChild(a); }
  function small(cell, text) { if (!text) return; cell.appendChild(document.createElement("br")); var s = document.createElement("small"); s.textContent = text; cell.appendChild(s); }
  function byKey(list, key, item) {
    for (var i = 0; i < list.length; i++) if (list[i][key] === item[key]) { list[i] = item; return; }
    list.push(item);
  }
  function num(v, d) { return v == null ? d : v; }

  function sortLines(a, b) {
    var ga = a.rank != null ? 0 : (a.irm ? 2 : 1), gb = b.rank != null ? 0 : (b.irm ? 2 : 1);
    return ga - gb || num(a.rank, 0) - num(b.rank, 0) ||
      num(a.start_order, 1e4) - num(b.start_order, 1e4) || (a.participant < b.participant ? -1 : 1);
  }
  function sortUnits(a, b) { return a.scheduled_at < b.scheduled_at ? -1 : a.scheduled_at > b.scheduled_at ? 1 : (a.code < b.code ? -1 : 1); }

  function row(key) { var tr = document.createElement("tr"); tr.setAttribute("data-key", key); return tr; }
  function unitRow(u, withDate) {
    var tr = row(u.code);
    var t = u.scheduled_at || "";
    td(tr, (withDate ? t.slice(5, 10) + " " : "") + t.slice(11, 16));
    var c = td(tr, "");
    link(c, "/resultats/epreuves/" + u.code, fr ? u.name_fr : u.name);
    if (u.medal) { var b = document.createElement("span"); b.className = "badge"; b.textContent = L._medal; c.appendChild(document.createTextNode(" ")); c.appendChild(b); }
    small(c, (withDate ? "" : lbl("sport:" + u.sport) + " · ") + (u.venue || ""));
    var s = td(tr, lbl(u.status)); small(s, lbl(u.result_status));
    td(tr, u.leader ? u.leader.name + " " + u.leader.noc + " " + u.leader.mark : "");
    return tr;
  }

  function render() {
    var rows = [], i;
    if (state.kind === "unit") {
      state.lines.sort(sortLines);
      for (i = 0; i < state.lines.length; i++) {
        var ln = state.lines[i], tr = row(ln.participant);
        td(tr, ln.rank || ln.irm || ""); td(tr, ln.name || ln.participant); td(tr, ln.noc); td(tr, ln.mark);
        rows.push(tr);
      }
      document.getElementById("unit-status").textContent = lbl(state.status);
      document.getElementById("unit-result-status").textContent = lbl(state.result_status);
      document.getElementById("unit-version").textContent = state.version;
      document.getElementById("unit-official").hidden = !state.official;
    } else if (state.kind === "medals") {
      state.rows.sort(function (a, b) { return a.rank - b.rank || (a.noc < b.noc ? -1 : 1); });
      for (i = 0; i < state.rows.length; i++) {
        var r = state.rows[i], m = row(r.noc);
        td(m, r.rank); td(m, r.noc); td(m, r.gold); td(m, r.silver); td(m, r.bronze); td(m, r.total);
        rows.push(m);
      }
    } else {
      state.units.sort(sortUnits);
      for (i = 0; i < state.units.length; i++) rows.push(unitRow(state.units[i], state.kind === "sport"));
    }
    body.textContent = "";
    for (i = 0; i < rows.length; i++) body.appendChild(rows[i]);
    var empty = document.getElementById("empty");
    if (empty && rows.length) empty.hidden = true;
  }

  function apply(msg) {
    var i;
    if (state.kind === "unit") {
      if (msg.type !== "unit" || msg.version < state.version) return;
      ["status", "result_status", "official", "version", "name", "name_fr", "venue"].forEach(function (k) { state[k] = msg[k]; });
      var gone = {};
      for (i = 0; i < (msg.remove || []).length; i++) gone[msg.remove[i]] = 1;
      state.lines = state.lines.filter(function (l) { return !gone[l.participant]; });
      for (i = 0; i < (msg.upsert || []).length; i++) byKey(state.lines, "participant", msg.upsert[i]);
    } else if (state.kind === "medals") {
      if (msg.type !== "medals") return;
      var out = {};
      for (i = 0; i < (msg.remove || []).length; i++) out[msg.remove[i]] = 1;
      state.rows = state.rows.filter(function (r) { return !out[r.noc]; });
      for (i = 0; i < (msg.upsert || []).length; i++) byKey(state.rows, "noc", msg.upsert[i]);
    } else {
      if (msg.type !== "summary") return;
      if (state.kind === "schedule" && msg.scheduled_at.slice(0, 10) !== state.day) {
        state.units = state.units.filter(function (u) { return u.code !== msg.code; });
      } else {
        byKey(state.units, "code", msg);
      }
    }
    render();
  }

  function snapshotUrl() {
    if (state.kind === "unit") return "/api/v1/results/units/" + state.code;
    if (state.kind === "medals") return "/api/v1/results/medals";
    if (state.kind === "sport") return "/api/v1/results/sports/" + state.sport;
    return "/api/v1/results/schedule?day=" + state.day;
  }

  function refetch() {
    if (es) { es.close(); es = null; }
    var x = new XMLHttpRequest();
    x.open("GET", snapshotUrl());
    x.onload = function () {
      if (x.status !== 200) { setTimeout(refetch, 5000); return; }
      var s = JSON.parse(x.responseText);
      s.kind = state.kind; if (state.day) s.day = state.day;
      state = s; render(); connect();
    };
    x.onerror = function () { setTimeout(refetch, 5000); };
    x.send();
  }

  function onEvent(e) {
    var seq = parseInt(e.lastEventId, 10);
    if (seq && seq <= state.seq) return; // already in our snapshot
    if (seq) state.seq = seq;
    apply(JSON.parse(e.data));
    document.body.setAttribute("data-live-seq", String(state.seq));
  }

  function connect() {
    es = new EventSource("/api/v1/streams/" + state.topic + "?since=" + state.seq);
    es.onopen = function () { statusEl.textContent = L._live; document.body.setAttribute("data-live", "open"); };
    es.onerror = function () { statusEl.textContent = L._offline; document.body.setAttribute("data-live", "retry"); };
    // The hub names each SSE event after the payload's "type".
    ["unit", "summary", "medals", "message"].forEach(function (name) { es.addEventListener(name, onEvent); });
    es.addEventListener("reset", refetch);
  }
  connect();
})();

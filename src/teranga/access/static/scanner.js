// Teranga gate scanner: decides online when the server answers quickly, offline otherwise,
// and switches between the two by itself. Mirrors teranga/access/scanner.py and domain.py.
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("scanner-config").textContent);
  const gateId = cfg.gate_id;
  const store = "teranga-scanner-" + gateId;
  const api = "/api/v1/access/gates/" + gateId;
  const ONLINE_TIMEOUT_MS = 1500;
  const $ = (id) => document.getElementById(id);
  const state = load() || { scannerId: "web-" + rnd(), seq: 0, bundle: null, queue: [],
                            presence: {}, revoked: [], cursor: null };
  let online = false;
  let keys = { ticket: {}, badge: {} };
  let lists = [];
  // Digests of typed short codes, kept apart from `state` so that saving a scan does not
  // rewrite thousands of them: { salt, digestBytes, tags: [session tag], map: {digest: row} }.
  const codesStore = store + "-codes";
  let codes = loadCodes();
  let codeKey = null;  // the HMAC key imported from codes.salt

  function rnd() {
    const a = new Uint8Array(8); crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function load() { try { return JSON.parse(localStorage.getItem(store)); } catch { return null; } }
  function save() { localStorage.setItem(store, JSON.stringify(state)); }
  function loadCodes() { try { return JSON.parse(localStorage.getItem(codesStore)); } catch { return null; } }
  function saveCodes() {
    // A full storage must not stop the gate: the digests stay in memory until the next load.
    try { localStorage.setItem(codesStore, JSON.stringify(codes)); } catch (e) { console.warn("codes not stored", e); }
  }

  // -- encodings ------------------------------------------------------------------------
  const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  function b45decode(s) {
    const out = [];
    for (let i = 0; i < s.length; i += 3) {
      const c = s.slice(i, i + 3).split("").map((ch) => B45.indexOf(ch));
      if (c.some((v) => v < 0)) return null;
      if (c.length === 3) {
        const n = c[0] + c[1] * 45 + c[2] * 2025;
        if (n > 0xffff) return null;
        out.push(n >> 8, n & 0xff);
      } else if (c.length === 2) {
        const n = c[0] + c[1] * 45;
        if (n > 0xff) return null;
        out.push(n);
      } else return null;
    }
    return new Uint8Array(out);
  }
  function b32decode(s) {
    const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits = 0, val = 0; const out = [];
    for (const ch of s) {
      const v = A.indexOf(ch); if (v < 0) return null;
      val = (val << 5) | v; bits += 5;
      if (bits >= 8) { out.push((val >>> (bits - 8)) & 0xff); bits -= 8; }
    }
    return new Uint8Array(out);
  }
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const b64url = (s) => b64(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  const toB64url = (u) => btoa(String.fromCharCode(...u)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const hex = (u) => Array.from(u, (b) => b.toString(16).padStart(2, "0")).join("");
  function uuidOf(u) {
    const h = hex(u);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  async function importKeys(b) {
    keys = { ticket: {}, badge: {} };
    for (const kind of ["ticket", "badge"]) {
      for (const k of b.keys[kind] || []) {
        try {
          keys[kind][k.key_id] = await crypto.subtle.importKey(
            "raw", b64(k.public_key), { name: "Ed25519" }, false, ["verify"]);
        } catch (e) { console.warn("key import failed", e); }
      }
    }
    lists = b.lists.map((l) => ({ ...l,
      opens: l.opens_at ? Date.parse(l.opens_at) : null,
      closes: l.closes_at ? Date.parse(l.closes_at) : null }));
  }

  // -- typed short codes (teranga/ticketing/domain.py, teranga/access/codes.py) ------------
  const CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
  const CODE_LEN = 10;  // 9 random characters and a Luhn mod 32 check character
  function normaliseCode(raw) { return raw.toUpperCase().replace(/[^\p{L}\p{N}]/gu, ""); }
  function luhnCheck(body) {
    const n = CODE_ALPHABET.length; let factor = 2, total = 0;
    for (let i = body.length - 1; i >= 0; i--) {
      const addend = factor * CODE_ALPHABET.indexOf(body[i]);
      factor = factor === 2 ? 1 : 2;
      total += Math.floor(addend / n) + (addend % n);
    }
    return CODE_ALPHABET[(n - (total % n)) % n];
  }
  function codeWellFormed(c) {
    if (c.length !== CODE_LEN || [...c].some((ch) => !CODE_ALPHABET.includes(ch))) return false;
    return luhnCheck(c.slice(0, -1)) === c[CODE_LEN - 1];
  }
  async function lookupCode(code) {
    if (!codes || !codes.salt) return null;
    if (!codeKey) {
      codeKey = await crypto.subtle.importKey(
        "raw", b64url(codes.salt), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    }
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", codeKey, new TextEncoder().encode(code)));
    const row = codes.map[toB64url(mac.slice(0, codes.digestBytes))];
    if (!row) return null;
    // The same credential as a verified QR, in the same units (minutes -> ms).
    return { kind: "ticket", id: uuidOf(b64url(row[0])), tag: codes.tags[row[1]],
             zone: row[2], category: row[3], from: row[4] * 60000, until: row[5] * 60000 };
  }
  function learnCodes(section, full) {
    if (!section) return;
    if (full || !codes || codes.salt !== section.salt) {
      codes = { salt: section.salt, digestBytes: section.digest_bytes, tags: [], map: {} };
      codeKey = null;
    }
    for (const [digest, id, si, zone, category, from, until] of section.tickets) {
      const tag = section.session_tags[si];
      let ti = codes.tags.indexOf(tag);
      if (ti < 0) { ti = codes.tags.length; codes.tags.push(tag); }
      codes.map[digest] = [id, ti, zone, category, from, until];
    }
    saveCodes();
  }

  // -- offline verification (same byte layouts as the server) -----------------------------
  async function verify(text) {
    // Like the server (ticketing verify_ticket_text): a well-formed short code is looked up;
    // a mistyped one (bad check character) goes on and fails as an unknown QR text.
    const code = normaliseCode(text);
    if (code.length <= 12 && codeWellFormed(code)) return lookupCode(code);
    // Only line ends are trimmed: a space is a base45 character (a ticket's text starts with
    // one when its event key id begins with certain bytes).
    text = text.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "").toUpperCase();
    const dv = (u) => new DataView(u.buffer, u.byteOffset, u.byteLength);
    if (text.trim().startsWith("TB1")) {  // accreditation badge
      const raw = b32decode(text.trim().slice(3)); if (!raw || raw.length < 96) return null;
      const d = dv(raw); const n = raw[31];
      if (raw[0] !== 1 || raw[1] !== 0x42 || raw.length !== 32 + n + 64) return null;
      const key = keys.badge[d.getUint32(2)]; if (!key) return null;
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, raw.slice(32 + n), raw.slice(0, 32 + n));
      if (!ok) return null;
      const roles = ["athlete", "coach", "official", "media", "volunteer", "staff"];
      return { kind: "badge", id: uuidOf(raw.slice(6, 22)), from: d.getUint32(22) * 1000,
               until: d.getUint32(26) * 1000, role: roles[raw[30]],
               zones: new TextDecoder().decode(raw.slice(32, 32 + n)).split(",").filter(Boolean) };
    }
    const raw = b45decode(text);
    if (!raw || raw.length !== 109 || raw[0] !== 1) return null;
    const d = dv(raw);
    const key = keys.ticket[d.getUint32(1)]; if (!key) return null;
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, raw.slice(45), raw.slice(0, 45));
    if (!ok) return null;
    return { kind: "ticket", id: uuidOf(raw.slice(5, 21)), tag: hex(raw.slice(21, 29)),
             zone: d.getUint16(29), category: d.getUint16(31),
             from: d.getUint32(37) * 60000, until: d.getUint32(41) * 60000 };
  }

  function checkRule(c, l, now) {
    if (now < c.from || (l.opens && now < l.opens)) return "not_yet_valid";
    if (now > c.until || (l.closes && now > l.closes)) return "expired";
    if (c.kind === "badge") {
      if (!l.accreditation_roles.includes(c.role)) return "wrong_zone";
      if (l.badge_zones.length && !c.zones.some((z) => l.badge_zones.includes(z))) return "wrong_zone";
      return "ok";
    }
    if (!l.session_tags.includes(c.tag)) return "wrong_session";
    if (l.zone_nos.length && !l.zone_nos.includes(c.zone)) return "wrong_zone";
    if (l.category_nos.length && !l.category_nos.includes(c.category)) return "wrong_zone";
    return "ok";
  }

  async function decideOffline(text, direction, now) {
    const c = await verify(text);
    if (!c) return { accepted: false, reason: "unknown", list: null, cred: null };
    let res = { accepted: false, reason: c.kind === "ticket" ? "wrong_session" : "wrong_zone",
                list: null, cred: c };
    for (const l of lists) {
      if (direction === "out" && !l.exit_scans) continue;
      let r = state.revoked.includes(c.id) ? "revoked" : checkRule(c, l, now);
      const p = state.presence[l.id + "/" + c.id];
      if (r === "ok") {
        if (direction === "out") r = p && p.inside ? "ok" : "not_inside";
        else if (p && (p.inside || !l.allow_reentry)) r = "already_entered";
      }
      if (r === "ok" || (r !== "wrong_session" && r !== "wrong_zone")) {
        res = { accepted: r === "ok", reason: r, list: l.id, cred: c, presence: p };
        break;
      }
    }
    return res;
  }

  function learn(listId, credId, gate, at, direction) {
    const k = listId + "/" + credId; const p = state.presence[k];
    if (direction === "out") { if (p) p.inside = false; return; }
    if (!p) state.presence[k] = { inside: true, gate, at };
    else { p.inside = true; if (at < p.at) { p.gate = gate; p.at = at; } }
  }

  // -- network ---------------------------------------------------------------------------
  async function call(method, url, body, timeout) {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), timeout || 8000);
    try {
      const r = await fetch(url, { method, signal: ctl.signal, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": cfg.csrf },
        body: body ? JSON.stringify(body) : undefined });
      return r;
    } finally { clearTimeout(t); }
  }

  function setOnline(v) {
    online = v;
    const n = $("net");
    n.textContent = v ? cfg.labels.online : cfg.labels.offline;
    n.className = v ? "on" : "off";
    $("queue").textContent = String(state.queue.length);
  }

  async function refresh() {
    try {
      const url = api + "/bundle" + (state.cursor ? "?since=" + encodeURIComponent(state.cursor) : "");
      const r = await call("GET", url, null, 8000);
      if (!r.ok) throw new Error("bundle " + r.status);
      const b = await r.json();
      if (!b.full && b.codes && (!codes || codes.salt !== b.codes.salt)) {
        // The gate's code salt changed (rotated) or we hold no digests: start over in full.
        state.cursor = null;
        return refresh();
      }
      if (b.full) { state.presence = {}; state.revoked = []; }
      learnCodes(b.codes, b.full);
      state.bundle = { lists: b.lists, keys: b.keys };
      for (const id of b.revoked) if (!state.revoked.includes(id)) state.revoked.push(id);
      for (const e of b.entries) learn(e.list_id, e.credential_id, e.gate, Date.parse(e.at), e.direction);
      state.cursor = b.cursor;
      if (b.messages) cfg.messages = b.messages;
      await importKeys(state.bundle);
      save();
      return true;
    } catch (e) { return false; }
  }

  async function flush() {
    if (!state.queue.length) return true;
    const batch = state.queue.slice(0, 500);
    try {
      const r = await call("POST", api + "/sync", { scanner_id: state.scannerId, scans: batch }, 8000);
      if (!r.ok) return false;
      state.queue = state.queue.slice(batch.length);
      save();
      return true;
    } catch (e) { return false; }
  }

  async function tick() {
    const ok = (await flush()) && (await refresh());
    setOnline(ok);
  }

  // -- scanning --------------------------------------------------------------------------
  function show(accepted, text, detail) {
    const v = $("verdict");
    v.className = accepted ? "ok" : "ko";
    v.innerHTML = "";
    const big = document.createElement("div"); big.className = "big";
    big.textContent = accepted ? "✔ " + cfg.messages.ok : "✖ " + text;
    v.appendChild(big);
    if (detail) { const w = document.createElement("div"); w.className = "why"; w.textContent = detail; v.appendChild(w); }
    beep(accepted);
  }
  function beep(ok) {
    try {
      const ac = new (window.AudioContext || window.webkitAudioContext)();
      const o = ac.createOscillator(); o.frequency.value = ok ? 880 : 220;
      o.connect(ac.destination); o.start(); o.stop(ac.currentTime + (ok ? 0.15 : 0.5));
      if (navigator.vibrate) navigator.vibrate(ok ? 80 : [200, 100, 200]);
    } catch (e) { /* sound is a bonus */ }
  }
  function enteredText(gate, at) {
    const t = new Date(at); const hh = String(t.getHours()).padStart(2, "0");
    const mm = String(t.getMinutes()).padStart(2, "0");
    return cfg.labels.entered_at.replace("%(gate)s", gate).replace("%(time)s", hh + ":" + mm);
  }

  async function handle(text) {
    const direction = $("exit").checked ? "out" : "in";
    const nonce = state.scannerId + "-" + (++state.seq);
    const now = Date.now();
    if (online) {
      try {
        const r = await call("POST", api + "/scans",
          { text, scanner_id: state.scannerId, nonce, direction }, ONLINE_TIMEOUT_MS);
        if (r.ok) {
          const d = await r.json();
          if (d.accepted && d.credential_id) {
            for (const l of lists) learn(l.id, d.credential_id, cfg.gate_name, now, direction);
          }
          save();
          show(d.accepted, d.message, null);
          return;
        }
        if (r.status < 500 && r.status !== 408) {
          const d = await r.json().catch(() => ({ message: "?" }));
          show(false, d.message || "?", null); return;
        }
      } catch (e) { /* timeout or network: decide offline */ }
      setOnline(false);
    }
    const d = await decideOffline(text, direction, now);
    if (d.accepted) learn(d.list, d.cred.id, cfg.gate_name, now, direction);
    state.queue.push({ nonce, list_id: d.list, credential_id: d.cred ? d.cred.id : null,
                       at: new Date(now).toISOString(), direction, accepted: d.accepted,
                       reason: d.reason });
    save();
    $("queue").textContent = String(state.queue.length);
    const detail = d.reason === "already_entered" && d.presence ? enteredText(d.presence.gate, d.presence.at) : null;
    show(d.accepted, cfg.messages[d.reason] || d.reason, detail);
  }

  $("manual").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("code").value; $("code").value = "";
    if (v.trim()) handle(v);
  });

  $("camera").addEventListener("click", async () => {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) {
      show(false, cfg.labels.no_camera, null); return;
    }
    const video = $("video"); video.hidden = false;
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream; await video.play();
    const det = new window.BarcodeDetector({ formats: ["qr_code"] });
    let last = "", lastAt = 0;
    const loop = async () => {
      try {
        const codes = await det.detect(video);
        if (codes.length) {
          const t = codes[0].rawValue; const n = Date.now();
          if (t !== last || n - lastAt > 3000) { last = t; lastAt = n; await handle(t); }
        }
      } catch (e) { /* keep scanning */ }
      setTimeout(loop, 150);
    };
    loop();
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/controle/sw.js", { scope: "/controle/" }).catch(() => {});
    // Keep this page and everything it loads in the cache the service worker serves
    // offline, so a reload without network still opens the scanner.
    if (window.caches && navigator.onLine) {
      const urls = [location.pathname + location.search];
      document.querySelectorAll("link[rel=stylesheet], link[rel=icon], script[src]")
        .forEach((el) => urls.push(el.getAttribute("href") || el.getAttribute("src")));
      caches.open("teranga-scanner-v1").then((c) => c.addAll(urls)).catch(() => {});
    }
  }
  window.addEventListener("online", tick);
  window.addEventListener("offline", () => setOnline(false));
  (async () => {
    if (state.bundle) await importKeys(state.bundle);
    setOnline(false);
    await tick();
    setInterval(tick, 5000);
    document.body.dataset.scannerReady = "1";
  })();
})();

// Scanner service worker: serve the scanner page and script from cache when the network is
// down, so a gate phone that reloads or reopens the page keeps working offline.
const CACHE = "teranga-scanner-v1";
self.addEventListener("install", (e) => { self.skipWaiting(); });
self.addEventListener("activate", (e) => { e.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  const isShell = url.pathname.startsWith("/controle/") || url.pathname.startsWith("/static/");
  if (!isShell) return;
  // The page itself is cached by the scanner script (with the assets it uses).
  // Network first (fresh page, fresh CSRF token), cache as fallback.
  e.respondWith(
    fetch(req).then((res) => {
      if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put(req, copy)); }
      return res;
    }).catch(() => caches.match(req, { ignoreVary: true })
      .then((hit) => hit || new Response("Hors ligne / offline", { status: 503 })))
  );
});

// The app shell offline: network first (so a new build is always used when the server answers), the last copy from
// the cache when the browser is offline. The Web API (/api/) and the test endpoints (/_admin/) are never cached:
// the data offline is the package's IndexedDB store, not HTTP caches.
const CACHE = "xrm-offline-demo-v1";
const SHELL = ["./", "index.html", "app.css", "app.js", "/pkg/index.js"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).catch(() => {}));
  self.skipWaiting();
});
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/_admin/")) return;
  e.respondWith(
    fetch(e.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(e.request, copy));
        }
        return res;
      })
      .catch(() => caches.match(e.request, { ignoreSearch: url.pathname === "/" || url.pathname.endsWith(".html") }).then((r) => r ?? Response.error())),
  );
});

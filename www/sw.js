// The page's service worker: keeps the page's own files so that it opens offline.
//
// Network first (an online visit always gets the current files), the cache when the network
// fails. The model and the WebAssembly module are not handled here: the package keeps them in
// its own Cache API cache and does not fetch them again.

const CACHE = "cxr-labeler-page";
const SHELL = [
  "./",
  "index.html",
  "app.js",
  "csv.js",
  "samples.js",
  "style.css",
  "pkg/index.js",
  "pkg/cxr_labeler.js",
  "pkg/worker.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.endsWith(".wasm") || url.pathname.includes("/model/")) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(event.request, copy)));
        }
        return response;
      })
      .catch(async (error) => (await caches.match(event.request, { ignoreSearch: true })) ?? Promise.reject(error)),
  );
});

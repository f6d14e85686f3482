// Service worker (served at /sw.js; the route puts FV = {version, assets, offline} above).
// Static assets have versioned URLs: cache first. The helper's own pages: network first,
// the cached copy when there is no connection. Nothing else is kept.
"use strict";
const STATIC = `fv-static-${FV.version}`;
const PAGES = "fv-pages";
const PAGE_RE = /^\/(queue)?$|^\/h\/[^/]+(\/visit)?$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(STATIC).then((cache) => cache.addAll(FV.assets))
      .then(() => self.skipWaiting())
  );
});

// A new version's assets replace the old ones: drop the caches of earlier versions.
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(
      keys.filter((key) => key.startsWith("fv-static-") && key !== STATIC)
        .map((key) => caches.delete(key))
    )).then(() => self.clients.claim())
  );
});

const keep = (request, response) => {
  // Only pages the server marked as the logged-in helper's own (X-Fieldvisit-Cache).
  if (!response.ok || response.redirected || !response.headers.get("X-Fieldvisit-Cache")) return;
  const copy = response.clone();
  caches.open(PAGES).then((cache) => cache.put(request.url.split("?")[0], copy));
};

const offlinePage = () => new Response("<!doctype html><meta charset=utf-8><meta name=viewport " +
  "content='width=device-width'><p style='font:18px sans-serif;padding:1em'>" + FV.offline,
  { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request).then((response) => {
      // Only a versioned URL (?v=) is kept: its content never changes.
      if (response.ok && url.search) {
        const copy = response.clone();
        caches.open(STATIC).then((cache) => cache.put(request, copy));
      }
      return response;
    })));
    return;
  }
  if (request.mode === "navigate" && PAGE_RE.test(url.pathname)) {
    event.respondWith(fetch(request).then((response) => {
      keep(request, response);
      return response;
    }).catch(() => caches.match(url.origin + url.pathname, { cacheName: PAGES })
      .then((hit) => hit || offlinePage())));
  }
});

// From offline.js: keep the helper's household pages, or forget every page (logout, or
// another user logged in on this phone).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "clear") {
    event.waitUntil(caches.delete(PAGES));
  } else if (data.type === "keep") {
    event.waitUntil(caches.open(PAGES).then((cache) => Promise.all(data.urls.map((path) => {
      const full = self.location.origin + path;
      return fetch(full, { credentials: "same-origin" }).then((response) => {
        if (response.ok && !response.redirected &&
            response.headers.get("X-Fieldvisit-Cache") === data.user) {
          return cache.put(full, response);
        }
        return undefined;
      }).catch(() => { /* offline now: keep what is cached */ });
    }))));
  }
});

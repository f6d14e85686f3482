// Service worker (served at /sw.js; the route puts FV = {version, assets, offline} above).
// Static assets have versioned URLs: cache first. The helper's own pages: network first,
// the cached copy when there is no connection. Nothing else is kept.
"use strict";
var STATIC = "fv-static-" + FV.version;
var PAGES = "fv-pages";
var PAGE_RE = /^\/(queue)?$|^\/h\/[^/]+(\/visit)?$/;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC).then(function (cache) { return cache.addAll(FV.assets); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) {
        return key.indexOf("fv-static-") === 0 && key !== STATIC;
      }).map(function (key) { return caches.delete(key); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function keep(request, response) {
  // Only pages the server marked as the logged-in helper's own (X-Fieldvisit-Cache).
  if (!response.ok || response.redirected || !response.headers.get("X-Fieldvisit-Cache")) return;
  var copy = response.clone();
  caches.open(PAGES).then(function (cache) { cache.put(request.url.split("?")[0], copy); });
}

function offlinePage() {
  return new Response("<!doctype html><meta charset=utf-8><meta name=viewport " +
    "content='width=device-width'><p style='font:18px sans-serif;padding:1em'>" + FV.offline,
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) {
      return hit || fetch(request).then(function (response) {
        if (response.ok && url.search) {
          var copy = response.clone();
          caches.open(STATIC).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      });
    }));
    return;
  }
  if (request.mode === "navigate" && PAGE_RE.test(url.pathname)) {
    event.respondWith(fetch(request).then(function (response) {
      keep(request, response);
      return response;
    }).catch(function () {
      return caches.match(url.origin + url.pathname, { cacheName: PAGES }).then(function (hit) {
        return hit || offlinePage();
      });
    }));
  }
});

// From offline.js: keep the helper's household pages, or forget every page (logout, or
// another user logged in on this phone).
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "clear") {
    event.waitUntil(caches.delete(PAGES));
  } else if (data.type === "keep") {
    event.waitUntil(caches.open(PAGES).then(function (cache) {
      return Promise.all(data.urls.map(function (path) {
        var full = self.location.origin + path;
        return fetch(full, { credentials: "same-origin" }).then(function (response) {
          if (response.ok && !response.redirected &&
              response.headers.get("X-Fieldvisit-Cache") === data.user) {
            return cache.put(full, response);
          }
        }).catch(function () { /* offline now: keep what is cached */ });
      }));
    }));
  }
});

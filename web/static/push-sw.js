// Web Push for Mutual's service worker: /sw.js loads it with importScripts("/push-sw.js").
//
// A push carries {kind, url} and nothing else (never what anyone wrote, nor a group's name).
// The sentence shown for a kind comes from the site, in the member's language
// (/push/texts.json, answered with the member's cookie); the last copy is kept in a cache for
// when the network is away. A tap opens the address, on this site only.
"use strict";
(function () {
  var CACHE = "mutual-push-v1";
  var TEXTS = "/push/texts.json";

  // The member's words for each kind: fresh from the site, else the kept copy, else none.
  function texts() {
    return fetch(TEXTS, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        var copy = r.clone();
        return caches.open(CACHE)
          .then(function (c) { return c.put(TEXTS, copy); })
          .catch(function () {})
          .then(function () { return r.json(); });
      })
      .catch(function () {
        return caches.open(CACHE)
          .then(function (c) { return c.match(TEXTS); })
          .then(function (r) { return r ? r.json() : null; });
      })
      .catch(function () { return null; });
  }

  // An address on this site, absolute; null for anything else.
  function local(url) {
    if (typeof url !== "string") { return null; }
    try {
      var u = new URL(url, self.location.origin);
      return u.origin === self.location.origin ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  self.addEventListener("push", function (event) {
    var data = {};
    try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
    var kind = typeof data.kind === "string" ? data.kind : "";
    var url = local(data.url) || local("/notifications");
    event.waitUntil(texts().then(function (t) {
      t = t || {};
      var kinds = t.kinds || {};
      return self.registration.showNotification(t.site || "Mutual", {
        body: kinds[kind] || t.other || "",
        lang: t.lang || "",
        // One notification per page: a second reply in the same place replaces the first.
        tag: url,
        data: { url: url }
      });
    }));
  });

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var url = local(event.notification.data && event.notification.data.url);
    if (!url) { return; }
    event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true })
      .then(function (windows) {
        for (var i = 0; i < windows.length; i++) {
          if (windows[i].url === url && "focus" in windows[i]) { return windows[i].focus(); }
        }
        return self.clients.openWindow ? self.clients.openWindow(url) : null;
      }));
  });
})();

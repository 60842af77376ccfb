// Mutual's service worker, served at /sw.js (src/web/pwa.rs fills in the capitalised names below) so its
// scope is the whole site. It does three things and nothing more:
// - keeps the last topic pages a member read (network first, the copy when offline), so a
//   topic read on the bus still opens with no signal;
// - answers any other page with a clear offline page, in the member's language, when the
//   network is gone;
// - serves the versioned stylesheet, script and icons from its cache, and the manifest when
//   offline.
// API answers, media, forms and every page other than a topic page are never stored. When a
// member logs out or in (or the page says another person is signed in now), the kept topics are
// dropped: nothing of one person's reading stays for the next.
"use strict";

var VERSION = "__VERSION__";
// Replaced with each build (its name carries the build's version): old files go with it.
var SHELL = "mutual-shell-" + VERSION;
// The topics read lately; a build does not throw them away.
var TOPICS = "mutual-topics-1";
var KEEP = 20;
var ASSETS_VERSION = "__ASSETS_VERSION__";
var PRECACHE = __PRECACHE__;
var LANGS = ["en", "es", "hi"];
// The member's language and who is signed in, kept between the worker's restarts and builds.
var STATES = "mutual-state";
var STATE = "/sw-state";

// The push handlers live in their own file (/push-sw.js); should it fail to load, the worker
// still installs and keeps topics for offline reading.
try {
  importScripts(__PUSH__);
} catch (e) {
  // No push handlers in this build.
}

var state = null;

function readState() {
  if (state) { return Promise.resolve(state); }
  return caches.open(STATES)
    .then(function (c) { return c.match(STATE); })
    .then(function (r) { return r ? r.json() : null; })
    .catch(function () { return null; })
    .then(function (saved) {
      state = saved || { lang: guessLang(), member: "" };
      return state;
    });
}

function writeState() {
  var body = JSON.stringify(state);
  return caches.open(STATES).then(function (c) {
    return c.put(STATE, new Response(body, { headers: { "Content-Type": "application/json" } }));
  });
}

function guessLang() {
  var wanted = (self.navigator && self.navigator.language || "en").slice(0, 2);
  return LANGS.indexOf(wanted) >= 0 ? wanted : "en";
}

function offlineUrl(lang) {
  return "/offline?lang=" + lang;
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL)
      .then(function (c) { return c.addAll(PRECACHE.concat(LANGS.map(offlineUrl))); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.map(function (name) {
          var ours = name.indexOf("mutual-") === 0;
          var kept = name === SHELL || name === TOPICS || name === STATES;
          return ours && !kept ? caches.delete(name) : null;
        }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

// Drops every kept topic page, and this device's push subscription: whoever uses this browser
// next must not get the last member's notifications (the server forgets the subscription when
// the push service answers 410 for it).
function forget() {
  var manager = self.registration && self.registration.pushManager;
  var push = manager
    ? manager.getSubscription().then(function (s) { return s ? s.unsubscribe() : null; }).catch(function () {})
    : Promise.resolve();
  return Promise.all([caches.delete(TOPICS), push]);
}

// Messages from site.js: `{type: "page", lang, member}` on each page shown, `{type: "logout"}`.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  var done;
  if (data.type === "logout") {
    done = forget();
  } else if (data.type === "page") {
    done = readState().then(function (s) {
      var lang = LANGS.indexOf(data.lang) >= 0 ? data.lang : s.lang;
      var member = typeof data.member === "string" ? data.member : "";
      var changed = member !== s.member;
      if (lang === s.lang && !changed) { return null; }
      state = { lang: lang, member: member };
      // Someone else is reading now (or no one is signed in): the last one's topics go.
      return (changed ? forget() : Promise.resolve()).then(writeState);
    });
  } else {
    return;
  }
  event.waitUntil(done.then(function () {
    if (event.ports && event.ports[0]) { event.ports[0].postMessage({ done: true }); }
  }));
});

function isTopic(url) {
  return /^\/t\/\d+$/.test(url.pathname);
}

// Keeps a topic page, newest last, and lets the oldest go past KEEP.
function keep(url, response) {
  var key = url.pathname + url.search;
  return caches.open(TOPICS).then(function (c) {
    return c.delete(key)
      .then(function () { return c.put(key, response); })
      .then(function () { return c.keys(); })
      .then(function (keys) {
        var extra = keys.length - KEEP;
        return Promise.all(keys.slice(0, Math.max(0, extra)).map(function (k) { return c.delete(k); }));
      });
  });
}

function offlinePage() {
  return readState().then(function (s) {
    return caches.open(SHELL).then(function (c) {
      return c.match(offlineUrl(s.lang)).then(function (hit) {
        return hit || c.match(offlineUrl("en"));
      });
    });
  }).then(function (hit) {
    return hit || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  });
}

function page(event, url) {
  var topic = isTopic(url);
  return fetch(event.request).then(function (response) {
    // Only a topic page as the server drew it for this reader: not a redirect to the login
    // page, not an error page.
    if (topic && response.ok && response.type === "basic" && !response.redirected) {
      event.waitUntil(keep(url, response.clone()).catch(function () {}));
    }
    return response;
  }).catch(function () {
    var kept = topic
      ? caches.open(TOPICS).then(function (c) {
          return c.match(url.pathname + url.search, { ignoreVary: true }).then(function (hit) {
            return hit || c.match(url.pathname, { ignoreSearch: true, ignoreVary: true });
          });
        })
      : Promise.resolve(null);
    return kept.then(function (hit) { return hit || offlinePage(); });
  });
}

// A versioned file: from the cache, else the network; offline, an older page's address gets
// today's file of the same name.
function asset(request, url) {
  return caches.match(request).then(function (hit) {
    if (hit) { return hit; }
    return fetch(request).catch(function () {
      var name = url.pathname.split("/").pop();
      return caches.match("/static/" + ASSETS_VERSION + "/" + name).then(function (same) {
        return same || Response.error();
      });
    });
  });
}

// The manifest (names and icons, in the reader's language; nothing private): the network's,
// else the last one seen.
function manifest(event) {
  return fetch(event.request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      event.waitUntil(caches.open(SHELL).then(function (c) { return c.put("/manifest.webmanifest", copy); }));
    }
    return response;
  }).catch(function () {
    return caches.match("/manifest.webmanifest").then(function (hit) { return hit || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && (url.pathname === "/logout" || url.pathname === "/login" || url.pathname === "/register")) {
    // Someone signs out or in: drop what the last person read before the server answers.
    event.respondWith(forget().catch(function () {}).then(function () { return fetch(request); }));
    return;
  }
  if (request.method !== "GET") { return; }
  // The API, media and the socket are never stored, nor answered from a cache.
  if (url.pathname.indexOf("/api/") === 0 || url.pathname.indexOf("/media/") === 0) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(asset(request, url));
    return;
  }
  if (url.pathname === "/manifest.webmanifest") {
    event.respondWith(manifest(event));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(page(event, url));
  }
});

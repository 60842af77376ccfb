// Mutual's one script. Every page works without it; it only adds niceties:
// - a "Preview" button under each composer (textarea[data-preview]) that shows the post as it
//   will look, rendered and sanitised by the server (POST /api/v1/preview);
// - live chat on a room's page (section#chat): one WebSocket, subscribed from the newest message
//   the server rendered, so nothing is missed; typing and presence; it reconnects by itself
//   (waiting longer each time) and catches up with `since` when it does;
// - the crisis lines: the focus moves to the panel the server put at the top of the page after
//   a post, and in chat the `crisis_resources` frame (sent to the author alone) shows the lines
//   in the room until the author dismisses them;
// - in chat, a message with personal details (an `identifiers` error) comes back with the
//   warning and a button that sends it as it is (`confirm_identifiers`);
// - moderators (div#case-alerts on every page) hear of each new report over the socket: an
//   alert linking to the queue (the urgent kind for a crisis) and the header's count refreshed;
// - a "Listen" button under each post and chat message, where the browser can speak: it reads
//   the message aloud in the page's language (speechSynthesis; nothing goes to the server);
// - sign-up forms get the browser's time zone (input[data-browser-zone]);
// - the service worker (/sw.js) is registered, and told the page's language and who is signed
//   in, so it keeps the right offline page and forgets one member's topics for the next.

// - on the settings page (section#push-device), notifications on this device: Web Push through
//   the service worker, where the browser has it (without, the page's explanation stays).

// - voice notes (div.recorder): a "Record" button (MediaRecorder, Opus, at most 2 minutes with
//   a visible timer); in a post's form the recording becomes the form's file, in chat it is
//   uploaded (POST /api/v1/media) and sent with the message; a photo chosen in a form makes its
//   alt text required. Photos and voice notes that arrive live in chat are shown as the server
//   draws them (an <img> with its alt text, a native <audio controls>).
"use strict";
(function () {
  function csrfOf(form) {
    var field = form && form.querySelector('input[name="csrf"]');
    return field ? field.value : "";
  }

  function addPreview(area) {
    var form = area.form;
    var box = document.createElement("div");
    box.className = "preview";
    box.hidden = true;
    box.setAttribute("aria-live", "polite");
    var heading = document.createElement("h2");
    heading.textContent = area.getAttribute("data-preview-title") || "Preview";
    var body = document.createElement("div");
    body.className = "body";
    box.appendChild(heading);
    box.appendChild(body);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = area.getAttribute("data-preview") || "Preview";
    button.addEventListener("click", function () {
      if (!area.value.trim()) { return; }
      button.disabled = true;
      fetch("/api/v1/preview", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfOf(form) },
        body: JSON.stringify({ body: area.value })
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (answer) {
            // The server sanitised this HTML (the same renderer as for stored posts).
            body.innerHTML = answer.html;
            box.hidden = false;
          }
        })
        .catch(function () {})
        .then(function () { button.disabled = false; });
    });
    var actions = form.querySelector(".actions");
    if (actions) {
      actions.insertBefore(button, actions.firstChild);
      actions.parentNode.insertBefore(box, actions);
    }
  }

  var areas = document.querySelectorAll("textarea[data-preview]");
  for (var i = 0; i < areas.length; i++) { addPreview(areas[i]); }

  // Listen: only where the browser can speak, so there is never a button that does nothing.
  var speech = window.speechSynthesis && window.SpeechSynthesisUtterance ? window.speechSynthesis : null;
  var listenLabel = document.body.getAttribute("data-listen");
  var speechLang = document.body.getAttribute("data-speech-lang") || document.documentElement.lang || "en";
  var speaking = null;

  function stopSpeaking() {
    if (speaking) { speaking.setAttribute("aria-pressed", "false"); }
    speaking = null;
    speech.cancel();
  }

  // A voice for the page's language when the phone has one (es-MX, else any Spanish).
  function voiceFor(lang) {
    var voices = speech.getVoices ? speech.getVoices() : [];
    var exact = null;
    var close = null;
    for (var v = 0; v < voices.length; v++) {
      var tag = String(voices[v].lang || "").replace("_", "-");
      if (tag.toLowerCase() === lang.toLowerCase()) { exact = exact || voices[v]; }
      if (tag.slice(0, 2).toLowerCase() === lang.slice(0, 2).toLowerCase()) { close = close || voices[v]; }
    }
    return exact || close;
  }

  // Adds the button after `body` (a post's or message's rendered text): pressed, it reads the
  // words as shown, not their markdown; pressed again, it stops.
  function addListen(body) {
    if (!speech || !listenLabel || !body || !body.parentNode) { return; }
    var next = body.nextElementSibling;
    if (next && next.classList.contains("listen")) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary listen";
    button.setAttribute("aria-pressed", "false");
    button.textContent = listenLabel;
    button.addEventListener("click", function () {
      if (speaking === button) { stopSpeaking(); return; }
      if (speaking) { stopSpeaking(); }
      var words = (body.innerText || body.textContent || "").trim();
      if (!words) { return; }
      var utterance = new window.SpeechSynthesisUtterance(words);
      utterance.lang = speechLang;
      var voice = voiceFor(speechLang);
      if (voice) { utterance.voice = voice; }
      utterance.onend = utterance.onerror = function () {
        if (speaking === button) {
          button.setAttribute("aria-pressed", "false");
          speaking = null;
        }
      };
      speaking = button;
      button.setAttribute("aria-pressed", "true");
      speech.speak(utterance);
    });
    body.parentNode.insertBefore(button, body.nextSibling);
  }

  var spoken = document.querySelectorAll("ol.posts article .body, #messages li .body");
  for (var s = 0; s < spoken.length; s++) { addListen(spoken[s]); }

  // Sign-up: the browser knows the member's time zone; without JavaScript the form asks.
  var zoneFields = document.querySelectorAll("input[data-browser-zone]");
  if (zoneFields.length && window.Intl && Intl.DateTimeFormat) {
    var browserZone = "";
    try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browserZone = ""; }
    for (var z = 0; z < zoneFields.length; z++) { zoneFields[z].value = browserZone; }
  }

  // The service worker: topics read lately open offline, other pages say clearly that the
  // network is gone. Each page tells it the language and who is signed in ("" for no one).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
    navigator.serviceWorker.ready.then(function (registration) {
      if (!registration.active) { return; }
      registration.active.postMessage({
        type: "page",
        lang: document.documentElement.lang || "en",
        member: document.body.getAttribute("data-member") || ""
      });
    }).catch(function () {});
  }

  // The page the author lands on after writing words that suggest a crisis: the lines first.
  var lines = document.getElementById("crisis-lines");
  if (lines) { lines.focus(); }

  var alerts = document.getElementById("case-alerts");
  var chat = document.getElementById("chat");
  var conversationLists = document.getElementById("conversation-lists");
  // The socket is for members who are signed in; visitors read the page as the server sent it.
  if (chat && window.WebSocket && chat.getAttribute("data-me")) {
    liveChat(chat);
  } else if ((alerts || conversationLists) && window.WebSocket) {
    liveAlerts();
  }

  // A conversation requested, accepted, declined, left or ended (#22): the menu's count as the
  // server counts it now, and on /conversations the lists drawn again, with a word about it.
  function conversationFrame(f) {
    if (!window.fetch) { return; }
    fetch("/me/conversations-waiting", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (w) {
        var link = document.querySelector("header a.conversations");
        if (w && link) { link.textContent = w.label; }
      })
      .catch(function () {});
    // The starter waiting on the conversation's page: accepted, it gets its message box.
    var open = document.querySelector("section#chat[data-conversation]");
    if (open && f.event === "accepted" && f.conversation && String(f.conversation.id) === open.getAttribute("data-conversation") &&
        !document.getElementById("composer")) {
      location.reload();
      return;
    }
    if (!conversationLists) { return; }
    fetch("/conversations", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || !window.DOMParser) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("conversation-lists");
        if (!fresh) { return; }
        conversationLists.innerHTML = fresh.innerHTML;
        var said = document.getElementById("conversations-live");
        if (!said) { return; }
        var event = f.event;
        if (event === "requested" && f.conversation && f.conversation.my_state === "starter") { event = "changed"; }
        said.textContent = said.getAttribute("data-" + event) || said.getAttribute("data-changed") || "";
      })
      .catch(function () {});
  }

  // A moderator's alert for a new report (`new_report`, or the urgent `crisis_report`).
  function caseAlert(n) {
    if (!alerts || !n || (n.kind !== "new_report" && n.kind !== "crisis_report")) { return; }
    var urgent = n.kind === "crisis_report";
    var box = document.createElement("div");
    box.className = urgent ? "case-alert urgent" : "case-alert";
    // The urgent one interrupts; the other waits its turn in the polite region.
    if (urgent) { box.setAttribute("role", "alert"); }
    var p = document.createElement("p");
    var words = document.createElement("strong");
    words.textContent = alerts.getAttribute(urgent ? "data-crisis" : "data-report");
    p.appendChild(words);
    p.appendChild(document.createTextNode(" "));
    var open = document.createElement("a");
    // A report about a conversation's message names no group: the site staff's queue has it.
    open.href = n.community ? "/mod/" + encodeURIComponent(n.community)
      : (n.case_id ? "/moderation/conversations#case-" + Number(n.case_id) : "/notifications");
    open.textContent = alerts.getAttribute("data-open");
    p.appendChild(open);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary";
    close.textContent = alerts.getAttribute("data-dismiss");
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(p);
    box.appendChild(close);
    if (urgent) { alerts.insertBefore(box, alerts.firstChild); } else { alerts.appendChild(box); }
    refreshCount();
  }

  // The header's "Cases waiting" link, as the server counts it now.
  function refreshCount() {
    fetch("/me/cases-waiting", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (w) {
        if (!w) { return; }
        // The folded menu's button counts the cases too.
        var toggle = document.querySelector("header .menu-toggle");
        if (toggle && (w.menu_name || toggle.hasAttribute("aria-label"))) {
          toggle.textContent = w.menu;
          if (w.menu_name) { toggle.setAttribute("aria-label", w.menu_name); } else { toggle.removeAttribute("aria-label"); }
        }
        var link = document.querySelector("header a.cases");
        if (!link && w.count > 0) {
          var menu = document.querySelector("header nav.menu ul");
          var mine = menu && menu.querySelector('a[href="/notifications"]');
          if (!menu) { return; }
          var li = document.createElement("li");
          link = document.createElement("a");
          link.className = "cases";
          li.appendChild(link);
          menu.insertBefore(li, mine ? mine.parentNode.nextSibling : null);
        }
        if (link && w.count > 0) {
          link.href = w.href;
          link.textContent = w.label;
        } else if (link) {
          link.parentNode.remove();
        }
      })
      .catch(function () {});
  }

  // Pages other than a chat room: a socket for the moderator's alerts, and for the
  // conversations list.
  function liveAlerts() {
    var wait = 1000;
    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/api/v1/ws");
      // The first pong says the server has this socket: alerts reach the page from then on.
      socket.onopen = function () {
        wait = 1000;
        socket.send(JSON.stringify({ op: "ping" }));
      };
      socket.onmessage = function (event) {
        var f;
        try { f = JSON.parse(event.data); } catch (e) { return; }
        if (f.op === "notification") { caseAlert(f.notification); }
        if (f.op === "conversation") { conversationFrame(f); }
        if (f.op === "pong") { (alerts || conversationLists).setAttribute("data-live", "on"); }
      };
      socket.onclose = function () {
        (alerts || conversationLists).removeAttribute("data-live");
        setTimeout(connect, wait);
        wait = Math.min(wait * 2, 30000);
      };
    }
    connect();
  }

  function liveChat(section) {
    var room = Number(section.getAttribute("data-room"));
    var me = section.getAttribute("data-me");
    var list = document.getElementById("messages");
    var online = document.getElementById("chat-online");
    var status = document.getElementById("chat-status");
    var typingLine = document.getElementById("chat-typing");
    var form = document.getElementById("composer");
    var area = form && form.querySelector("textarea");
    var lang = document.documentElement.lang || "en";
    var clock = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
    var socket = null;
    var wait = 1000;
    var retry = null;
    var lastTyping = 0;
    var typingTimer = null;
    var nonces = 0;
    var pending = {};

    function text(key, n, name) {
      // A count's singular form (data-KEY-one) where the language's plural rules pick it.
      var one = section.getAttribute("data-" + key + "-one");
      var pick = one !== null && n !== undefined && window.Intl && Intl.PluralRules &&
        new Intl.PluralRules(lang).select(Number(n)) === "one";
      return ((pick ? one : section.getAttribute("data-" + key)) || "").replace("{n}", n).replace("{name}", name);
    }
    function lastId() {
      var items = list.querySelectorAll("li[data-id]");
      return items.length ? Number(items[items.length - 1].getAttribute("data-id")) : null;
    }
    function nearBottom() { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
    function toBottom() { list.scrollTop = list.scrollHeight; }

    function render(m) {
      var li = document.createElement("li");
      li.id = "m-" + m.id;
      li.setAttribute("data-id", m.id);
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = m.author ? m.author.display_name : "—";
      var when = document.createElement("time");
      when.className = "muted small when";
      when.setAttribute("datetime", m.created_at);
      when.textContent = clock.format(new Date(m.created_at));
      var body = document.createElement("div");
      body.className = "body";
      // The server rendered and sanitised this HTML when the message was stored.
      body.innerHTML = m.body_html;
      li.appendChild(who);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(when);
      li.appendChild(body);
      addListen(body);

      if (m.attachments && m.attachments.length) { li.appendChild(attachmentsOf(m.attachments)); }
      keepAway(li, m); // blocks: collapse a blocked or ignored member's message
      // chat_feel: replies and reactions are drawn by their own section below.
      section.dispatchEvent(new CustomEvent("chat:render", { detail: { li: li, message: m } }));
      return li;
    }

    function attachmentsOf(list) {
      var box = document.createElement("div");
      box.className = "attachments";
      list.forEach(function (a) {
        var fig = document.createElement("figure");
        if (a.kind === "image") {
          fig.className = "photo";
          var link = document.createElement("a");
          link.href = a.url;
          var img = document.createElement("img");
          img.src = a.thumb_url || a.url;
          img.alt = a.alt || "";
          img.loading = "lazy";
          if (a.thumb_width) { img.width = a.thumb_width; img.height = a.thumb_height; }
          link.appendChild(img);
          fig.appendChild(link);
        } else {
          fig.className = "voice";
          var cap = document.createElement("figcaption");
          cap.textContent = text("voice-note") + (a.alt ? ": " + a.alt : "");
          var audio = document.createElement("audio");
          audio.controls = true;
          audio.preload = "none";
          audio.src = a.url;
          fig.appendChild(cap);
          fig.appendChild(audio);
        }
        box.appendChild(fig);
      });
      return box;
    }

    function add(m) {
      if (document.getElementById("m-" + m.id)) { return; }
      var empty = document.getElementById("chat-empty");
      if (empty) { empty.remove(); }
      var stick = nearBottom();
      var li = render(m);
      if (m.nonce && pending[m.nonce]) {
        pending[m.nonce].replaceWith(li);
        delete pending[m.nonce];
        stick = true;
      } else {
        list.appendChild(li);
      }
      if (stick) { toBottom(); }
    }

    // The lines from a `crisis_resources` frame, above the messages; one panel, kept until the
    // author dismisses it (role="alert" announces it without taking the focus from the composer).
    function showCrisis(lines) {
      var old = document.getElementById("crisis-lines-live");
      if (old) { old.remove(); }
      var box = document.createElement("section");
      box.id = "crisis-lines-live";
      box.className = "crisis-lines";
      box.setAttribute("role", "alert");
      box.setAttribute("aria-labelledby", "crisis-lines-live-title");
      var h = document.createElement("h2");
      h.id = "crisis-lines-live-title";
      h.textContent = text("crisis-title");
      var intro = document.createElement("p");
      intro.textContent = text("crisis-intro");
      var ul = document.createElement("ul");
      (lines || []).forEach(function (line) {
        var li = document.createElement("li");
        var name = document.createElement("strong");
        name.textContent = line.name;
        var tel = document.createElement("a");
        tel.href = "tel:" + String(line.phone).replace(/\s+/g, "");
        tel.textContent = line.phone;
        var hours = document.createElement("span");
        hours.textContent = line.hours;
        li.appendChild(name);
        li.appendChild(document.createTextNode(" · "));
        li.appendChild(tel);
        li.appendChild(document.createTextNode(" · "));
        li.appendChild(hours);
        if (line.text) {
          li.appendChild(document.createElement("br"));
          var sms = document.createElement("span");
          sms.textContent = line.text;
          li.appendChild(sms);
        }
        ul.appendChild(li);
      });
      var more = document.createElement("p");
      more.appendChild(document.createTextNode(text("crisis-private") + " "));
      var help = document.createElement("a");
      help.href = "/help";
      help.textContent = text("crisis-help");
      more.appendChild(help);
      var close = document.createElement("button");
      close.type = "button";
      close.className = "secondary";
      close.textContent = text("crisis-dismiss");
      close.addEventListener("click", function () {
        box.remove();
        if (area) { area.focus(); }
      });
      box.appendChild(h);
      box.appendChild(intro);
      box.appendChild(ul);
      box.appendChild(more);
      box.appendChild(close);
      section.parentNode.insertBefore(box, section);
    }

    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + "/api/v1/ws");
      socket.onopen = function () {
        socket.send(JSON.stringify({ op: "subscribe", room: room, since: lastId() }));
      };
      socket.onmessage = function (event) {
        var f;
        try { f = JSON.parse(event.data); } catch (e) { return; }
        section.dispatchEvent(new CustomEvent("chat:frame", { detail: f }));
        if (f.op === "subscribed" && f.room === room) {
          wait = 1000;
          status.textContent = text("live");
          online.textContent = text("online", f.online);
          (f.backlog || []).forEach(add);
        } else if (f.op === "message" && f.message.room === room) {
          add(f.message);
        } else if (f.op === "message_edited" && f.message.room === room) {
          var old = document.getElementById("m-" + f.message.id);
          if (old) { old.replaceWith(render(f.message)); }
        } else if (f.op === "crisis_resources" && f.room === room) {
          showCrisis(f.lines);
        } else if (f.op === "message_deleted" && f.room === room) {
          var gone = document.getElementById("m-" + f.message_id);
          if (gone) { gone.remove(); }
        } else if (f.op === "presence" && f.room === room) {
          online.textContent = text("online", f.online);
        } else if (f.op === "typing" && f.room === room && f.user && f.user.username !== me) {
          typingLine.textContent = text("typing", 0, f.user.display_name);
          clearTimeout(typingTimer);
          typingTimer = setTimeout(function () { typingLine.textContent = ""; }, 5000);
        } else if (f.op === "conversation") {
          conversationFrame(f);
        } else if (f.op === "notification") {
          caseAlert(f.notification);
        } else if (f.op === "error") {
          var words = null;
          if (f.nonce && pending[f.nonce]) {
            // Refused: put the words back so nothing typed is lost, and say why.
            var li = pending[f.nonce];
            delete pending[f.nonce];
            words = li.getAttribute("data-body") || "";
            if (area && !area.value) { area.value = words; }
            li.remove();
          }
          if (f.code === "identifiers" && words !== null) {
            askIdentifiers(words);
          } else if (f.code !== "resync") {
            // The reason in the page's language (the frame's message is the API's English).
            status.textContent = section.getAttribute("data-refused-" + f.code) ||
              section.getAttribute("data-refused") || f.message;
          }
        }
      };
      socket.onclose = function () {
        socket = null;
        lost();
      };
    }

    function lost() {
      status.textContent = text("offline");
      clearTimeout(retry);
      retry = setTimeout(connect, wait);
      wait = Math.min(wait * 2, 30000);
    }

    // Phones drop off the network often: let go of the dead socket at once, and come back as
    // soon as the network does rather than waiting out the back-off.
    window.addEventListener("offline", function () {
      if (!socket) { return; }
      var old = socket;
      socket = null;
      old.onclose = null;
      old.close();
      lost();
    });
    window.addEventListener("online", function () {
      if (socket) { return; }
      clearTimeout(retry);
      wait = 1000;
      connect();
    });

    // Sends `body` over the socket, shown as pending until the server echoes it.
    function sendBody(body, confirmed, attachments) {
      var nonce = "n" + Date.now() + "-" + (nonces++);
      var li = document.createElement("li");
      li.className = "pending";
      li.setAttribute("data-body", body);
      li.textContent = body;
      list.appendChild(li);
      pending[nonce] = li;
      toBottom();
      var frame = { op: "send", room: room, body: body, nonce: nonce };
      if (confirmed) { frame.confirm_identifiers = true; }
      if (attachments) { frame.attachments = attachments; }
      section.dispatchEvent(new CustomEvent("chat:send", { detail: frame }));
      socket.send(JSON.stringify(frame));
    }
    // chat_feel: other frames (reactions, read positions) go out over the same socket.
    section.chatSend = function (frame) {
      if (!socket || socket.readyState !== WebSocket.OPEN) { return false; }
      socket.send(JSON.stringify(frame));
      return true;
    };

    function clearAsk() {
      var old = document.getElementById("chat-identifiers");
      if (old) { old.remove(); }
    }

    // The words seem to hold personal details: say so, and send them only if the member
    // confirms (they may also change the words and send again).
    function askIdentifiers(body) {
      clearAsk();
      var box = document.createElement("div");
      box.id = "chat-identifiers";
      box.className = "warn";
      box.setAttribute("role", "alert");
      var p = document.createElement("p");
      p.textContent = text("identifiers");
      var yes = document.createElement("button");
      yes.type = "button";
      yes.className = "secondary";
      yes.textContent = text("identifiers-confirm");
      yes.addEventListener("click", function () {
        if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
        clearAsk();
        if (area.value === body) { area.value = ""; }
        sendBody(body, true);
        area.focus();
      });
      box.appendChild(p);
      box.appendChild(yes);
      form.insertBefore(box, form.querySelector(".actions"));
    }

    if (form && area) {
      form.addEventListener("submit", function (event) {
        if (!socket || socket.readyState !== WebSocket.OPEN) { return; } // the form posts instead
        // A photo or voice note chosen from a file goes with the form (uploaded by the server).
        var file = form.querySelector("input[type=file]");
        if ((file && file.files && file.files.length) || form.querySelector("input[name=media_id]")) { return; }
        event.preventDefault();
        var body = area.value;
        if (!body.trim()) { return; }
        clearAsk();
        sendBody(body, false);
        area.value = "";
        area.focus();
      });
      area.addEventListener("input", function () {
        var now = Date.now();
        if (socket && socket.readyState === WebSocket.OPEN && now - lastTyping > 3000) {
          lastTyping = now;
          socket.send(JSON.stringify({ op: "typing", room: room }));
        }
      });
    }
    // A voice note recorded here is uploaded, then sent with what is typed (or its name).
    var chatRecorder = form && form.querySelector(".recorder");
    if (chatRecorder) {
      recorder(chatRecorder, function (file, done) {
        if (!socket || socket.readyState !== WebSocket.OPEN) { done(false); return; }
        upload(file, csrfOf(form)).then(function (up) {
          var body = area.value.trim() ? area.value : text("voice-note");
          sendBody(body, false, [{ id: up.id }]);
          area.value = "";
          done(true);
        }).catch(function () { done(false); });
      });
    }
    toBottom();
    connect();
  }

  // Notifications on this device (settings): subscribe or unsubscribe through the service
  // worker (/sw.js, which imports /push-sw.js), and tell the server (/api/v1/me/push-subscriptions).
  var pushBox = document.getElementById("push-device");
  if (pushBox && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window) {
    pushDevice(pushBox);
  }

  function pushDevice(box) {
    var controls = document.getElementById("push-controls");
    var status = document.getElementById("push-status");
    var on = document.getElementById("push-on");
    var off = document.getElementById("push-off");
    var said = function (name) { return box.getAttribute("data-" + name); };
    document.getElementById("push-unsupported").hidden = true;
    controls.hidden = false;

    // Shows the button that changes the state; `moved` brings the focus along after a click.
    function show(subscribed, message, moved) {
      on.hidden = subscribed;
      off.hidden = !subscribed;
      status.textContent = message || said(subscribed ? "on" : "off");
      if (moved) { (subscribed ? off : on).focus(); }
    }
    function api(method, path, body) {
      return fetch(path, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": said("csrf") },
        body: body ? JSON.stringify(body) : undefined
      }).then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.status === 204 ? null : r.json();
      });
    }
    // The key as PushManager wants it: bytes, from base64url.
    function keyBytes(text) {
      var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
      var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
      var out = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
      return out;
    }
    function current() {
      return navigator.serviceWorker.getRegistration("/").then(function (reg) {
        return reg ? reg.pushManager.getSubscription() : null;
      });
    }

    current().then(function (sub) {
      if (!sub && Notification.permission === "denied") { show(false, said("blocked")); return; }
      show(!!sub);
    }).catch(function () { show(false); });

    on.addEventListener("click", function () {
      on.disabled = true;
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") { show(false, said("blocked"), true); return null; }
        return Promise.all([
          navigator.serviceWorker.register("/sw.js").then(function () { return navigator.serviceWorker.ready; }),
          api("GET", "/api/v1/push/key")
        ]).then(function (got) {
          return got[0].pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(got[1].vapid_public_key)
          });
        }).then(function (sub) {
          return api("POST", "/api/v1/me/push-subscriptions", sub.toJSON());
        }).then(function () { show(true, null, true); });
      }).catch(function () { show(false, said("failed"), true); })
        .then(function () { on.disabled = false; });
    });

    off.addEventListener("click", function () {
      off.disabled = true;
      current().then(function (sub) {
        if (!sub) { return null; }
        // The server answers the same id for the same endpoint: ask, then remove that one.
        return api("POST", "/api/v1/me/push-subscriptions", sub.toJSON())
          .then(function (saved) { return api("DELETE", "/api/v1/me/push-subscriptions/" + saved.id); })
          .then(function () { return sub.unsubscribe(); });
      }).then(function () { show(false, null, true); })
        .catch(function () { show(true, said("failed"), true); })
        .then(function () { off.disabled = false; });
    });
  }

  function upload(file, csrf) {
    return fetch("/api/v1/media", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrf },
      body: file,
    }).then(function (r) { if (!r.ok) { throw new Error("upload " + r.status); } return r.json(); });
  }

  function clockOf(ms) {
    var s = Math.floor(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // A "Record" button that records up to two minutes of Opus and hands the file to `done`
  // (which calls back with whether it was taken). Shown only where the browser can record.
  function recorder(box, take) {
    if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
    var say = function (k) { return box.getAttribute("data-" + k) || ""; };
    var type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].filter(function (t) {
      return MediaRecorder.isTypeSupported(t);
    })[0];
    if (!type) { return; }
    box.hidden = false;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = say("record");
    var status = document.createElement("span");
    status.className = "small";
    status.setAttribute("role", "status");
    box.appendChild(button);
    box.appendChild(status);
    var rec = null, started = 0, timer = null, limit = null;
    function stop() { if (rec && rec.state !== "inactive") { rec.stop(); } }
    button.addEventListener("click", function () {
      if (rec && rec.state === "recording") { stop(); return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var chunks = [];
        rec = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: 24000 });
        rec.ondataavailable = function (e) { if (e.data.size) { chunks.push(e.data); } };
        rec.onstop = function () {
          clearInterval(timer); clearTimeout(limit);
          stream.getTracks().forEach(function (t) { t.stop(); });
          button.textContent = say("record");
          var took = Date.now() - started;
          var base = type.split(";")[0];
          var file = new File(chunks, "voice-note." + (base === "audio/mp4" ? "m4a" : base.split("/")[1]), { type: base });
          status.textContent = say("uploading");
          take(file, function (ok) {
            status.textContent = ok ? say("recorded").replace("{time}", clockOf(took)) : say("denied");
          });
        };
        rec.start(1000);
        started = Date.now();
        button.textContent = say("stop");
        status.textContent = say("recording").replace("{time}", "0:00");
        timer = setInterval(function () {
          status.textContent = say("recording").replace("{time}", clockOf(Date.now() - started));
        }, 1000);
        limit = setTimeout(stop, 120000);
      }).catch(function () { status.textContent = say("denied"); });
    });
  }

  // A post's form: the recording becomes the form's file (sent with the form, no JavaScript
  // needed beyond this); a photo makes its alt text required.
  document.querySelectorAll("fieldset[data-media]").forEach(function (set) {
    var input = set.querySelector('input[type="file"]');
    var alt = set.querySelector('input[name="alt"]');
    if (!input) { return; }
    function photoChosen() {
      var f = input.files && input.files[0];
      if (alt) { alt.required = !!(f && f.type.indexOf("image/") === 0); }
    }
    input.addEventListener("change", photoChosen);
    var box = set.querySelector(".recorder");
    if (box) {
      recorder(box, function (file, done) {
        try {
          var dt = new DataTransfer();
          dt.items.add(file);
          input.files = dt.files;
          photoChosen();
          done(true);
        } catch (e) { done(false); }
      });
    }
  });

  // ---- blocks (#22.2): live chat messages of members the reader blocks or ignores are
  // collapsed as the server collapses the ones it draws: a <details> the reader can open.
  var keptAway = null;
  function keepAway(li, m) {
    var chat = document.getElementById("chat");
    if (!chat || !m.author) { return; }
    if (keptAway === null) {
      keptAway = {};
      (chat.getAttribute("data-kept-away") || "").split(",").forEach(function (pair) {
        var at = pair.indexOf(":");
        if (at > 0) { keptAway[pair.slice(0, at)] = pair.slice(at + 1); }
      });
    }
    var why = keptAway[String(m.author.id)];
    if (!why) { return; }
    var details = document.createElement("details");
    details.className = "kept-away";
    var summary = document.createElement("summary");
    summary.textContent = chat.getAttribute("data-hidden-" + why) || "";
    details.appendChild(summary);
    li.querySelectorAll(":scope > .body, :scope > .attachments").forEach(function (part) {
      details.appendChild(part);
    });
    li.appendChild(details);
  }
  // ---- /blocks

  // ---------------------------------------------------------------------------------------------
  // Chat that feels like chat (#22): reply to a message (quoted above it), react to it (the
  // posts' peer-support set; the buttons keep the focus), and "seen by N" in small rooms. The
  // page without JavaScript does the same with links and forms; this takes them over the socket.
  (function chatFeel() {
    var section = document.getElementById("chat");
    var list = document.getElementById("messages");
    if (!section || !list || !window.WebSocket || !section.getAttribute("data-me")) { return; }
    var me = section.getAttribute("data-me");
    var room = Number(section.getAttribute("data-room"));
    var form = document.getElementById("composer");
    var area = form && form.querySelector("textarea");
    var replyBox = document.getElementById("chat-replying");
    var seenLine = document.getElementById("chat-seen");
    var say = function (k) { return section.getAttribute("data-" + k) || ""; };
    var numbers = new Intl.NumberFormat(document.documentElement.lang || "en");
    var kinds = [];
    try { kinds = JSON.parse(say("reaction-names")) || []; } catch (e) { kinds = []; }
    var replyTo = null;
    var seen = null;      // user id -> newest message seen, when the room shows it
    var told = 0;         // the newest message this page said was seen
    var tellTimer = null;

    function el(tag, cls, textValue) {
      var node = document.createElement(tag);
      if (cls) { node.className = cls; }
      if (textValue !== undefined) { node.textContent = textValue; }
      return node;
    }
    function excerptOf(li) {
      var body = li.querySelector(".body");
      var t = body ? body.textContent.replace(/\s+/g, " ").trim() : "";
      return t.length > 100 ? t.slice(0, 99) + "…" : t;
    }

    // A reply's quote, as the page draws it.
    function quoteOf(q) {
      var box = el("blockquote", "reply-quote small" + (q.deleted ? " muted" : ""));
      box.setAttribute("data-reply", q.id);
      var hidden = el("span", "visually-hidden", say("in-reply"));
      if (q.deleted) {
        box.appendChild(hidden);
        box.appendChild(document.createTextNode(" " + say("deleted")));
        return box;
      }
      var link = el("a");
      link.href = "#m-" + q.id;
      link.appendChild(hidden);
      link.appendChild(document.createTextNode(" "));
      link.appendChild(el("strong", "", q.author ? q.author.display_name : "—"));
      box.appendChild(link);
      box.appendChild(document.createTextNode(" " + (q.excerpt || "")));
      return box;
    }

    function reactForm(id) {
      var f = el("form", "inline react");
      f.method = "post";
      f.action = form ? form.getAttribute("action") + "/react" : "";
      var c = el("input"); c.type = "hidden"; c.name = "csrf"; c.value = form ? csrfOf(form) : "";
      var m = el("input"); m.type = "hidden"; m.name = "message"; m.value = id;
      f.appendChild(c);
      f.appendChild(m);
      return f;
    }
    function chip(id, kind, emoji, label, count, mine, withLabel) {
      var b = el("button", "chip");
      b.type = "submit";
      b.name = "react";
      b.value = kind + (mine ? ":off" : ":on");
      b.setAttribute("data-kind", kind);
      b.setAttribute("aria-pressed", mine ? "true" : "false");
      var e = el("span", "", emoji); e.setAttribute("aria-hidden", "true");
      b.appendChild(e);
      b.appendChild(document.createTextNode(" "));
      if (withLabel) {
        b.appendChild(document.createTextNode(label));
      } else {
        b.appendChild(el("span", "visually-hidden", label));
        b.appendChild(document.createTextNode(" "));
        b.appendChild(el("span", "n", String(count)));
      }
      return b;
    }
    function mineOf(li, kind) {
      var b = li.querySelector('.react-menu button[data-kind="' + kind + '"]');
      return !!b && b.getAttribute("aria-pressed") === "true";
    }

    // The counts shown beside a message; the focused chip keeps the focus when redrawn.
    function drawCounts(li, counts) {
      var actions = li.querySelector(".msg-actions");
      if (!actions) { return; }
      var id = li.getAttribute("data-id");
      var old = actions.querySelector(".reaction-counts");
      var focused = old && old.contains(document.activeElement) ? document.activeElement.getAttribute("data-kind") : null;
      var box = el("span", "reaction-counts");
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", say("reactions-label"));
      var any = false;
      kinds.forEach(function (k) {
        var n = (counts && counts[k[0]]) || 0;
        if (!n) { return; }
        any = true;
        var f = reactForm(id);
        f.appendChild(chip(id, k[0], k[1], k[2], n, mineOf(li, k[0]), false));
        box.appendChild(f);
      });
      if (old) { old.remove(); }
      if (any) { actions.insertBefore(box, actions.firstChild); }
      if (focused) {
        var again = box.querySelector('button[data-kind="' + focused + '"]');
        var summary = actions.querySelector(".react-menu summary");
        (again || summary || area || list).focus();
      }
      li.chatCounts = counts || {};
    }

    // Reply and the reaction menu under a message drawn live (the page draws its own).
    function decorate(li, m) {
      if (m.author) { li.setAttribute("data-author", m.author.id); }
      if (m.reply_to) { li.insertBefore(quoteOf(m.reply_to), li.querySelector(".body")); }
      var actions = el("div", "msg-actions small");
      var reply = el("a", "reply-link", say("reply"));
      reply.href = (form ? form.getAttribute("action") : "") + "?reply_to=" + m.id + "#composer";
      reply.setAttribute("data-reply", m.id);
      var menu = el("details", "react-menu");
      menu.appendChild(el("summary", "", say("react")));
      var f = reactForm(m.id);
      var mine = m.my_reactions || [];
      kinds.forEach(function (k) {
        f.appendChild(chip(m.id, k[0], k[1], k[2], 0, mine.indexOf(k[0]) >= 0, true));
      });
      menu.appendChild(f);
      if (form) { actions.appendChild(reply); actions.appendChild(menu); }
      li.appendChild(actions);
      drawCounts(li, m.reactions || {});
    }
    section.addEventListener("chat:render", function (e) { decorate(e.detail.li, e.detail.message); });

    // The composer's "Replying to …" line.
    function showReply(id) {
      var li = document.getElementById("m-" + id);
      if (!li || !replyBox) { return; }
      replyTo = Number(id);
      replyBox.textContent = "";
      var p = el("p");
      var who = li.querySelector(".who");
      p.appendChild(document.createTextNode(say("replying").replace("{name}", who ? who.textContent : "—") + " "));
      p.appendChild(el("span", "muted", excerptOf(li)));
      p.appendChild(document.createTextNode(" "));
      var cancel = el("button", "secondary small cancel-reply", say("cancel-reply"));
      cancel.type = "button";
      cancel.addEventListener("click", function () { clearReply(); if (area) { area.focus(); } });
      p.appendChild(cancel);
      replyBox.appendChild(p);
      replyBox.hidden = false;
      if (area) { area.focus(); }
    }
    function clearReply() {
      replyTo = null;
      if (replyBox) { replyBox.textContent = ""; replyBox.hidden = true; }
    }
    var given = replyBox && replyBox.querySelector('input[name="reply_to"]');
    if (given) { replyTo = Number(given.value); }
    if (replyBox) {
      replyBox.addEventListener("click", function (e) {
        var a = e.target.closest && e.target.closest("a.cancel-reply");
        if (a) { e.preventDefault(); clearReply(); if (area) { area.focus(); } }
      });
    }
    section.addEventListener("chat:send", function (e) {
      if (replyTo) { e.detail.reply_to = replyTo; }
      clearReply();
    });

    list.addEventListener("click", function (e) {
      var a = e.target.closest && e.target.closest("a.reply-link");
      if (a && form) {
        e.preventDefault();
        showReply(a.getAttribute("data-reply"));
      }
    });
    // A reaction goes over the socket when it is open (else the form posts).
    list.addEventListener("submit", function (e) {
      var f = e.target;
      if (!f.classList || !f.classList.contains("react")) { return; }
      var b = e.submitter || document.activeElement;
      if (!b || !b.value) { return; }
      var parts = b.value.split(":");
      var li = f.closest("li[data-id]");
      var frame = { op: "react", message: Number(li.getAttribute("data-id")), kind: parts[0], on: parts[1] === "on" };
      if (section.chatSend && section.chatSend(frame)) { e.preventDefault(); }
    });

    function setMine(li, kind, on) {
      li.querySelectorAll('button[data-kind="' + kind + '"]').forEach(function (b) {
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.value = kind + (on ? ":off" : ":on");
      });
    }

    function newestLi() {
      var items = list.querySelectorAll("li[data-id]");
      return items.length ? items[items.length - 1] : null;
    }
    function drawSeen() {
      if (!seen || !seenLine) { return; }
      var li = newestLi();
      if (!li) { seenLine.textContent = ""; return; }
      var id = Number(li.getAttribute("data-id"));
      var author = li.getAttribute("data-author");
      var n = 0;
      Object.keys(seen).forEach(function (user) {
        if (user !== author && seen[user] >= id) { n++; }
      });
      seenLine.textContent = n ? say("seen-by").replace("{n}", numbers.format(n)) : "";
    }
    // Tell the room what this member has seen, while the page is in view.
    function tell() {
      if (!seen || document.visibilityState !== "visible") { return; }
      clearTimeout(tellTimer);
      tellTimer = setTimeout(function () {
        var li = newestLi();
        var id = li ? Number(li.getAttribute("data-id")) : 0;
        if (id > told && section.chatSend && section.chatSend({ op: "seen", room: room, message: id })) { told = id; }
      }, 500);
    }
    document.addEventListener("visibilitychange", tell);

    section.addEventListener("chat:frame", function (e) {
      var f = e.detail;
      if (f.room !== undefined && f.room !== room && !(f.message && f.message.room === room)) { return; }
      if (f.op === "subscribed") {
        if (f.seen) {
          seen = {};
          f.seen.forEach(function (p) { seen[String(p.user.id)] = p.message; });
          setTimeout(function () { drawSeen(); tell(); }, 0);
        } else {
          seen = null;
        }
      } else if (f.op === "message") {
        setTimeout(function () { drawSeen(); tell(); }, 0);
        if (f.message.nonce && f.message.author && f.message.author.username === me && area && area.chatDraftSent) {
          area.chatDraftSent();
        }
      } else if (f.op === "seen" && seen) {
        (f.seen || []).forEach(function (p) {
          var k = String(p.user.id);
          if (!seen[k] || seen[k] < p.message) { seen[k] = p.message; }
        });
        drawSeen();
      } else if (f.op === "reaction") {
        var li = document.getElementById("m-" + f.message_id);
        if (!li) { return; }
        if (f.user && f.user.username === me) { setMine(li, f.kind, f.on); }
        drawCounts(li, f.reactions);
      } else if (f.op === "message_deleted") {
        // Replies quoting a message that is gone (deleted or hidden) say so, as the page does.
        list.querySelectorAll('blockquote.reply-quote[data-reply="' + Number(f.message_id) + '"]').forEach(function (q) {
          q.replaceWith(quoteOf({ id: f.message_id, deleted: true }));
        });
      }
    });
  })();

  // ---------------------------------------------------------------------------------------------
  // Drafts (#22): a message box with `data-draft-key` is kept on the server as the member types
  // (a second after they stop), so a reload or another device finds it; emptied, it is forgotten.
  document.querySelectorAll("textarea[data-draft-key]").forEach(function (area) {
    var key = area.getAttribute("data-draft-key");
    var url = "/api/v1/me/drafts/" + encodeURIComponent(key);
    var token = csrfOf(area.form);
    var timer = null;
    // A new topic's draft keeps its title too (the form's title field).
    var titleField = key.indexOf("community:") === 0 && area.form ? area.form.querySelector('input[name="title"]') : null;
    function current() { return area.value + "\u0000" + (titleField ? titleField.value : ""); }
    var last = current();
    var note = document.createElement("span");
    note.className = "muted small draft-note";
    note.setAttribute("role", "status");
    area.insertAdjacentElement("afterend", note);
    function call(method, body) {
      var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": token } };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        var sent = { body: body };
        if (titleField) { sent.title = titleField.value; }
        init.body = JSON.stringify(sent);
      }
      return fetch(url, init);
    }
    function save() {
      var now = current();
      if (now === last) { return; }
      last = now;
      var body = area.value;
      var blank = !body.trim() && !(titleField && titleField.value.trim());
      call(blank ? "DELETE" : "PUT", blank ? undefined : body).then(function (r) {
        note.textContent = r.ok && !blank ? area.getAttribute("data-draft-saved") || "" : "";
      }).catch(function () {});
    }
    function typed() {
      note.textContent = "";
      clearTimeout(timer);
      timer = setTimeout(save, 1000);
    }
    area.addEventListener("input", typed);
    if (titleField) { titleField.addEventListener("input", typed); }
    // Sent: the server forgets a form's draft itself; a chat message sent over the socket
    // tells it here.
    if (area.form) { area.form.addEventListener("submit", function () { clearTimeout(timer); }); }
    area.chatDraftSent = function () {
      clearTimeout(timer);
      note.textContent = "";
      last = current();
      call("DELETE").catch(function () {});
    };
  });
})();

// ---- Phone ergonomics (#24.5) ----------------------------------------------------------------
// - the header's menu (<details data-menu> without JavaScript) becomes a button with
//   aria-expanded: folded on a phone, open on a wide screen, Escape folds it back;
// - a small "Bold / List / Link" bar over each composer (textarea[data-format]) that puts the
//   markdown in for the member, so hints never have to speak markdown;
// - reactions and celebrations (forms posting to /p/{id}/react) answer in place through the API:
//   the focus stays on the button that was pressed; if that fails the form is sent as usual.
(function () {
  var box = document.querySelector("details[data-menu]");
  var nav = box && box.querySelector("nav");
  var summary = box && box.querySelector("summary");
  if (box && nav && summary) {
    var wide = window.matchMedia("(min-width: 48em)");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "menu-toggle";
    button.textContent = summary.textContent;
    // "Menu (3)" reads "Menu, 3 cases waiting" for moderators.
    if (summary.hasAttribute("aria-label")) { button.setAttribute("aria-label", summary.getAttribute("aria-label")); }
    button.setAttribute("aria-controls", nav.id);
    var set = function (open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.hidden = !open;
    };
    box.parentNode.insertBefore(button, box);
    box.parentNode.insertBefore(nav, box);
    box.parentNode.removeChild(box);
    set(wide.matches);
    button.addEventListener("click", function () { set(nav.hidden); });
    nav.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !wide.matches) { set(false); button.focus(); }
    });
    if (wide.addEventListener) {
      wide.addEventListener("change", function () { set(wide.matches); });
    }
  }

  function insert(area, before, after, placeholder, selectAfter) {
    var start = area.selectionStart, end = area.selectionEnd, text = area.value;
    var chosen = text.slice(start, end) || placeholder;
    area.value = text.slice(0, start) + before + chosen + after + text.slice(end);
    area.focus();
    if (selectAfter) {
      // The link's address, ready to be typed over.
      var at = start + before.length + chosen.length + 2;
      area.setSelectionRange(at, at + selectAfter.length);
    } else {
      area.setSelectionRange(start + before.length, start + before.length + chosen.length);
    }
  }

  function listify(area, placeholder) {
    var start = area.selectionStart, end = area.selectionEnd, text = area.value;
    var lineStart = text.lastIndexOf("\n", start - 1) + 1;
    var chosen = text.slice(lineStart, end) || placeholder;
    var lines = chosen.split("\n").map(function (line) { return /^- /.test(line) ? line : "- " + line; }).join("\n");
    // A list needs a blank line before it to be a list.
    var gap = lineStart > 0 && text.slice(lineStart - 2, lineStart) !== "\n\n" ? "\n" : "";
    area.value = text.slice(0, lineStart) + gap + lines + text.slice(Math.max(end, lineStart));
    area.focus();
    var caret = lineStart + gap.length + lines.length;
    area.setSelectionRange(caret, caret);
  }

  document.querySelectorAll("textarea[data-format]").forEach(function (area) {
    var words = area.getAttribute("data-format-words") || "";
    var bar = document.createElement("div");
    bar.className = "format-bar";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", area.getAttribute("data-format"));
    [
      ["bold", function () { insert(area, "**", "**", words); }],
      ["list", function () { listify(area, words); }],
      ["link", function () { insert(area, "[", "](https://)", words, "https://"); }]
    ].forEach(function (tool) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.setAttribute("data-format-tool", tool[0]);
      b.textContent = area.getAttribute("data-format-" + tool[0]);
      b.addEventListener("click", tool[1]);
      bar.appendChild(b);
    });
    area.parentNode.insertBefore(bar, area);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var match = /^\/p\/(\d+)\/react$/.exec(form.getAttribute("action") || "");
    if (!match || !window.fetch) { return; }
    var kind = form.querySelector('input[name="kind"]');
    var on = form.querySelector('input[name="on"]');
    var button = form.querySelector('button[type="submit"]');
    if (!kind || !on || !button) { return; }
    event.preventDefault();
    if (form.getAttribute("data-busy")) { return; }
    form.setAttribute("data-busy", "1");
    var csrf = form.querySelector('input[name="csrf"]');
    fetch("/api/v1/posts/" + match[1] + "/reactions", {
      method: on.value === "1" ? "POST" : "DELETE",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.value : "" },
      body: JSON.stringify({ kind: kind.value })
    }).then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (answer) {
        var mine = (answer.my_reactions || []).indexOf(kind.value) >= 0;
        var count = (answer.reactions || {})[kind.value] || 0;
        button.setAttribute("aria-pressed", mine ? "true" : "false");
        on.value = mine ? "0" : "1";
        var shown = button.querySelector(".count");
        if (shown) { shown.textContent = count > 0 || kind.value === "celebrate" ? String(count) : ""; }
        form.removeAttribute("data-busy");
      })
      .catch(function () { form.submit(); });
  });
})();

// --- Conversations (section#chat[data-conversation]) ---------------------------------------
// The conversation's page is a room's chat page (live through the code above); here only what
// it adds: messages that arrive while the page is in view are marked read, so the unread count
// on /conversations stays true.
(function () {
  var section = document.querySelector("section#chat[data-conversation]");
  var list = document.getElementById("messages");
  var csrf = document.querySelector('input[name="csrf"]');
  if (!section || !list || !csrf || !window.MutationObserver || !window.fetch) { return; }
  var id = section.getAttribute("data-conversation");
  var timer = null;
  function markRead() {
    timer = null;
    if (document.visibilityState !== "visible") { return; }
    fetch("/api/v1/conversations/" + id + "/read", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf.value }
    }).catch(function () {});
  }
  new MutationObserver(function () {
    if (!timer) { timer = setTimeout(markRead, 1000); }
  }).observe(list, { childList: true });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !timer) { timer = setTimeout(markRead, 500); }
  });
})();

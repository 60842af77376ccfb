// Mutual's one script. Every page works without it; it only adds niceties:
// - a "Preview" button under each composer (textarea[data-preview]) that shows the post as it
//   will look, rendered and sanitised by the server (POST /api/v1/preview).
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
})();

/* The dashboard refreshes its three parts (flows, running now, latest failures) every few seconds
 * while the tab is visible: the server renders them, this swaps them in. No build step, no
 * dependencies. data-refreshed counts the swaps (the browser tests wait on it). */
(function () {
  "use strict";
  var root = document.getElementById("selinon-dashboard");
  if (!root) { return; }
  var url = root.getAttribute("data-live-url");
  var every = parseInt(root.getAttribute("data-refresh-ms"), 10) || 5000;
  var delay = every;
  var parts = ["flows", "running", "failures"];

  function apply(data) {
    parts.forEach(function (name) {
      var el = document.getElementById("selinon-dashboard-" + name);
      if (el && data.parts && typeof data.parts[name] === "string") { el.innerHTML = data.parts[name]; }
    });
    root.setAttribute("data-refreshed", String(parseInt(root.getAttribute("data-refreshed"), 10) + 1));
  }

  function poll() {
    if (document.hidden) { window.setTimeout(poll, every); return; }  /* nobody looks: no query */
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) { apply(data); delay = every; window.setTimeout(poll, delay); })
      .catch(function () {
        delay = Math.min(delay * 2, 60000);  /* back off while the server is unreachable */
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
}());

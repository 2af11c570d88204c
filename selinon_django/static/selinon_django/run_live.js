/* The run page updates itself: poll the run's live JSON about once a second while the run is
 * unfinished. Node colours are applied at once; the page parts (graph, timeline, nodes, trace)
 * are swapped only when the server says something changed. No build step, no dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("selinon-run");
  if (!root) { return; }
  var url = root.getAttribute("data-live-url");
  var delay = 1000;
  var parts = ["summary", "graph", "timeline", "nodes", "trace"];

  /* Groups the user opened or closed keep that state across updates; every other group takes
   * the state the server renders (a group that just failed arrives open, with its exception).
   * Keyed by node name: group ids are positions, which shift when new nodes appear. */
  var chosen = {};

  function groupKey(el) { return el.getAttribute("data-node") || el.id; }

  root.addEventListener("click", function (event) {
    var summary = event.target.closest ? event.target.closest("summary") : null;
    var group = summary ? summary.parentElement : null;
    if (!group || group.tagName !== "DETAILS") { return; }
    /* the click toggles the group after this handler: record the state it is about to take */
    chosen[groupKey(group)] = !group.open;
  });

  function restoreGroups() {
    root.querySelectorAll("details").forEach(function (el) {
      var key = groupKey(el);
      if (Object.prototype.hasOwnProperty.call(chosen, key)) { el.open = chosen[key]; }
    });
  }

  function colourNodes(nodes) {
    nodes.forEach(function (node) {
      var g = document.getElementById(node.svg_id);
      if (!g) { return; }
      g.querySelectorAll("polygon, ellipse, path").forEach(function (shape) {
        if (shape.getAttribute("fill") !== "none") { shape.setAttribute("fill", node.colour); }
      });
      g.setAttribute("data-status", node.status);
    });
  }

  function apply(data) {
    colourNodes(data.nodes || []);
    if (data.fragments) {
      parts.forEach(function (name) {
        var el = document.getElementById("selinon-part-" + name);
        if (el && typeof data.fragments[name] === "string") { el.innerHTML = data.fragments[name]; }
      });
      restoreGroups();
      root.setAttribute("data-signature", data.signature);
    }
    root.setAttribute("data-status", data.status);
    root.setAttribute("data-finished", data.finished ? "true" : "false");
  }

  function poll() {
    var since = root.getAttribute("data-signature") || "";
    fetch(url + "?since=" + encodeURIComponent(since), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        apply(data);
        delay = 1000;
        if (!data.finished) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  /* back off while the server is unreachable */
        window.setTimeout(poll, delay);
      });
  }

  if (root.getAttribute("data-finished") !== "true") { window.setTimeout(poll, delay); }
}());

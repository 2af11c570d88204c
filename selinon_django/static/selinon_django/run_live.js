/* The run page updates itself: about once a second while the run is unfinished it sends the
 * cursor of the last answer (data-cursor) and gets back only what changed since (see
 * selinon_django/admin/runlive.py): the node names whose instances changed (their graph colour,
 * their group in the node list and their timeline row), the changed node runs (rows of opened
 * instance lists), the run's summary when the run row changed, and new trace events. When the
 * run has ended, one last answer brings every part of the page. No build step, no dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("selinon-run");
  if (!root) { return; }
  var url = root.getAttribute("data-live-url");
  var DELAY = 1000;
  var delay = DELAY;
  var parts = ["summary", "history", "graph", "tree", "timeline", "nodes", "trace"];
  var TRACE_LIMIT = 500;

  /* Groups the user opened or closed keep that state across updates; every other group takes
   * the state the server renders (a group that just failed arrives open, with its exception). */
  var chosen = {};

  function groupKey(el) { return (el.className || "") + ":" + (el.getAttribute("data-node") || el.id); }

  root.addEventListener("click", function (event) {
    var summary = event.target.closest ? event.target.closest("summary") : null;
    var group = summary ? summary.parentElement : null;
    if (!group || group.tagName !== "DETAILS") { return; }
    chosen[groupKey(group)] = !group.open;  /* the state it is about to take */
  });

  function restoreGroups(scope) {
    (scope || root).querySelectorAll("details").forEach(function (el) {
      var key = groupKey(el);
      if (Object.prototype.hasOwnProperty.call(chosen, key)) { el.open = chosen[key]; }
    });
  }

  function fromHtml(html) {
    var box = document.createElement("div");
    box.innerHTML = html;
    return box.firstElementChild;
  }

  function colourNode(svgId, colour, status, dashed) {
    var g = document.getElementById(svgId);
    if (!g) { return; }
    g.querySelectorAll("polygon, ellipse, path").forEach(function (shape) {
      if (shape.getAttribute("fill") !== "none") { shape.setAttribute("fill", colour); }
      if (dashed) { shape.setAttribute("stroke-dasharray", "5,2"); }
    });
    g.setAttribute("data-status", status);
  }

  function xlabel(svgId, text) {
    var g = document.getElementById(svgId);
    if (!g) { return; }
    g.querySelectorAll("text").forEach(function (t) {
      if (/^x\d+: /.test(t.textContent)) { t.textContent = text; }
    });
  }

  /* a changed group: swap what the server rendered, keeping what the person opened or loaded */
  function applyGroup(group) {
    colourNode(group.svg_id, group.colour, group.status, false);
    if (group.count > 1) { xlabel(group.svg_id, "x" + group.count + ": " + group.counts_text); }
    swapDetails(document.getElementById("selinon-group-" + group.index), group.html,
                document.getElementById("selinon-part-nodes"), group.detailed);
    var rows = root.querySelector(".selinon-timeline-rows");
    if (rows) {
      swapDetails(document.getElementById("selinon-tl-" + group.index), group.timeline, rows, false);
    }
  }

  function swapDetails(old, html, container, whole) {
    var fresh = fromHtml(html);
    if (!fresh) { return; }
    if (!old) {
      if (!container) { return; }
      var next = null;
      var index = Number(fresh.getAttribute("data-index") || fresh.id.replace(/\D+/g, ""));
      container.querySelectorAll(":scope > details").forEach(function (el) {
        var other = Number(el.getAttribute("data-index") || el.id.replace(/\D+/g, ""));
        if (next === null && other > index) { next = el; }
      });
      container.insertBefore(fresh, next);
      var empty = container.querySelector(":scope > p.selinon-muted");
      if (empty && /No node/.test(empty.textContent)) { empty.remove(); }
      restoreGroups(fresh);
      return;
    }
    var loaded = old.getAttribute("data-loaded") === "true";
    if (whole || !loaded) {
      fresh.open = old.open;
      old.replaceWith(fresh);
      restoreGroups(fresh.parentElement);
      if (fresh.open && window.selinonRunPage) { window.selinonRunPage.opened(fresh); }
    } else {
      /* a big group whose instances are on screen: new summary and attributes, same list */
      var summary = fresh.querySelector("summary");
      old.querySelector("summary").replaceWith(summary);
      ["data-status", "data-count", "data-start", "data-length"].forEach(function (name) {
        if (fresh.hasAttribute(name)) { old.setAttribute(name, fresh.getAttribute(name)); }
      });
    }
  }

  /* node runs that changed, where the page shows them one by one (opened lists, expanded rows) */
  function applyNodes(rows) {
    rows.forEach(function (row) {
      var id = row[0], status = row[1], colour = row[2];
      root.querySelectorAll('[data-node-id="' + CSS.escape(id) + '"]').forEach(function (el) {
        el.setAttribute("data-status", status);
        if (el.classList.contains("selinon-bar")) {
          el.style.setProperty("--selinon-state", colour);
          if (row[5] !== null) { el.setAttribute("data-from", row[5]); }
          el.setAttribute("data-to", row[6] === null ? "" : row[6]);
          return;
        }
        var badge = el.querySelector(".selinon-status");
        if (badge) { badge.textContent = status; badge.style.setProperty("--selinon-state", colour); }
        var attempts = el.querySelector(".selinon-instance-attempts");
        if (attempts) { attempts.textContent = row[3]; }
        var duration = el.querySelector(".selinon-instance-duration");
        if (duration && row[4] !== null) { duration.textContent = Number(row[4]).toFixed(3) + " s"; }
      });
    });
  }

  function applyNotRun(verdicts) {
    Object.keys(verdicts || {}).forEach(function (svgId) {
      if (verdicts[svgId] === "skipped") { colourNode(svgId, "#f2c4de", "skipped", true); }
    });
  }

  function applyTrace(html) {
    var table = root.querySelector("table.selinon-trace tbody");
    if (!table || !html) { return; }
    if (table.children.length >= TRACE_LIMIT) { return; }
    table.insertAdjacentHTML("beforeend", html);
    var count = root.querySelector(".selinon-trace-count");
    if (count) { count.textContent = table.children.length; }
  }

  function apply(data) {
    if (data.fragments) {
      parts.forEach(function (name) {
        var el = document.getElementById("selinon-part-" + name);
        if (el && typeof data.fragments[name] === "string") { el.innerHTML = data.fragments[name]; }
      });
      restoreGroups();
      if (window.selinonRunPage) { window.selinonRunPage.refresh(); }
    } else {
      (data.groups || []).forEach(applyGroup);
      applyNodes(data.nodes || []);
      applyNotRun(data.not_run);
      if (typeof data.summary === "string") {
        document.getElementById("selinon-part-summary").innerHTML = data.summary;
      }
      applyTrace(data.trace);
    }
    root.setAttribute("data-cursor", data.cursor || "");
    root.setAttribute("data-elapsed", data.elapsed || 0);
    if (window.selinonRunPage) { window.selinonRunPage.layout(); }
    root.setAttribute("data-status", data.status);
    root.setAttribute("data-finished", data.finished ? "true" : "false");
  }

  function get(query) {
    return fetch(url + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function poll() {
    var cursor = root.getAttribute("data-cursor") || "";
    get("?since=" + encodeURIComponent(cursor))
      .then(function (data) {
        apply(data);
        delay = DELAY;
        if (!data.finished) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  /* back off while the server is unreachable */
        window.setTimeout(poll, delay);
      });
  }

  if (root.getAttribute("data-finished") !== "true") { window.setTimeout(poll, delay); }
}());

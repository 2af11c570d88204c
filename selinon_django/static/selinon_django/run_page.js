/* The run page for big runs: a graph to zoom and pan whose nodes open their details, a
 * timeline laid out on the run's span (sortable, rows of many instances open into them a page
 * at a time), node groups that load their instances when opened, and search within the run.
 * run_live.js calls window.selinonRunPage.layout() / refresh() after each update.
 * No build step, no dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("selinon-run");
  if (!root) { return; }
  var instancesUrl = root.getAttribute("data-instances-url");
  var searchUrl = root.getAttribute("data-search-url");
  var MIN_WIDTH = 0.4;

  function number(value) {
    return value === null || value === "" || value === undefined ? null : Number(value);
  }

  function load(url, target, append) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (append) {
          var pager = target.querySelector(".selinon-pager");
          if (pager) { pager.remove(); }
          target.insertAdjacentHTML("beforeend", html);
        } else {
          target.innerHTML = html;
        }
        layout();
      })
      .catch(function (error) { target.textContent = "Could not load: " + error.message; });
  }

  function query(params) {
    return Object.keys(params).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]);
    }).join("&");
  }

  /* --- timeline: bars carry seconds from the run's start; lay them out on the current span --- */

  function layout() {
    var bars = root.querySelectorAll(".selinon-timeline [data-from]");
    var elapsed = Number(root.getAttribute("data-elapsed") || 0);
    var span = elapsed;
    bars.forEach(function (bar) {
      var to = number(bar.getAttribute("data-to"));
      if (to !== null && to > span) { span = to; }
    });
    span = Math.max(span, 0.001);
    bars.forEach(function (bar) {
      var from = number(bar.getAttribute("data-from")) || 0;
      var to = number(bar.getAttribute("data-to"));
      var end = to === null ? span : to;
      bar.style.left = (100 * from / span).toFixed(3) + "%";
      var width = 100 * (end - from) / span;
      bar.style.width = (bar.classList.contains("selinon-bar-queued") ? width : Math.max(MIN_WIDTH, width)).toFixed(3) + "%";
    });
    root.querySelectorAll(".selinon-timeline-span").forEach(function (el) { el.textContent = span.toFixed(2) + " s"; });
  }

  function sortTimeline(how) {
    var rows = root.querySelector(".selinon-timeline-rows");
    if (!rows) { return; }
    var items = Array.prototype.slice.call(rows.querySelectorAll(":scope > details"));
    var key = {
      start: function (el) { return [Number(el.getAttribute("data-start")), Number(el.getAttribute("data-index"))]; },
      longest: function (el) { return [-Number(el.getAttribute("data-length")), Number(el.getAttribute("data-start"))]; },
      count: function (el) { return [-Number(el.getAttribute("data-count")), Number(el.getAttribute("data-start"))]; },
      name: function (el) { return [el.getAttribute("data-node"), 0]; }
    }[how] || null;
    if (!key) { return; }
    items.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      if (ka[0] < kb[0]) { return -1; }
      if (ka[0] > kb[0]) { return 1; }
      return ka[1] - kb[1];
    });
    items.forEach(function (el) { rows.appendChild(el); });
    rows.setAttribute("data-sort", how);
  }

  /* --- groups of many instances load them when opened --- */

  function loadInstances(details, extra, append) {
    var timelineRow = details.classList.contains("selinon-timeline-group");
    var box = timelineRow ? details.querySelector(".selinon-timeline-instances")
                          : details.querySelector(".selinon-instance-page");
    if (!box) { return; }
    var holder = timelineRow ? details : details.querySelector(".selinon-instances");
    var params = {
      name: details.getAttribute("data-node"),
      view: timelineRow ? "timeline" : "table",
      status: holder.getAttribute("data-filter") || "",
      sort: holder.getAttribute("data-sort") || (timelineRow && root.querySelector(".selinon-timeline-rows[data-sort=longest]") ? "longest" : "start"),
      offset: (extra && extra.offset) || 0
    };
    details.setAttribute("data-loaded", "true");
    load(instancesUrl + "?" + query(params), box, append);
  }

  function opened(details) {
    if (!details || !details.open) { return; }
    var lazy = details.getAttribute("data-lazy") === "true" ||
      (details.classList.contains("selinon-timeline-group") && details.querySelector(".selinon-timeline-instances"));
    if (lazy && details.getAttribute("data-loaded") !== "true") { loadInstances(details); }
  }

  root.addEventListener("toggle", function (event) {
    var el = event.target;
    if (el.tagName === "DETAILS") { opened(el); }
  }, true);

  root.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a") : null;
    if (!link) { return; }
    if (link.classList.contains("selinon-filter")) {
      event.preventDefault();
      var holder = link.closest(".selinon-instances");
      holder.setAttribute("data-filter", link.getAttribute("data-status"));
      loadInstances(link.closest("details"));
    } else if (link.classList.contains("selinon-page-link")) {
      event.preventDefault();
      var results = link.closest("#selinon-search-results");
      if (results) {
        search(Number(link.getAttribute("data-offset")));
        return;
      }
      loadInstances(link.closest("details"), { offset: link.getAttribute("data-offset") },
                    link.getAttribute("data-append") === "true");
    }
  });

  root.addEventListener("change", function (event) {
    var el = event.target;
    if (el.classList.contains("selinon-timeline-sort")) {
      sortTimeline(el.value);
    } else if (el.classList.contains("selinon-instance-sort")) {
      var holder = el.closest(".selinon-instances");
      holder.setAttribute("data-sort", el.value);
      loadInstances(el.closest("details"));
    }
  });

  /* --- search within the run --- */

  function search(offset) {
    var input = document.getElementById("selinon-search-q");
    var results = document.getElementById("selinon-search-results");
    if (!input || !results) { return; }
    if (!input.value.trim()) { results.innerHTML = ""; return; }
    load(searchUrl + "?" + query({ q: input.value, offset: offset || 0 }), results, false);
  }

  var form = document.getElementById("selinon-search");
  if (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); search(0); });
  }

  /* --- the graph: zoom (buttons, ctrl + wheel), pan (drag), nodes open their details --- */

  var view = null, natural = null, dragging = null, moved = false;

  function svg() { return root.querySelector("#selinon-graph svg"); }

  function setView(box) {
    var el = svg();
    if (!el) { return; }
    view = box;
    el.setAttribute("viewBox", box.join(" "));
    el.setAttribute("data-zoom", (natural[2] / box[2]).toFixed(2));
  }

  function initGraph() {
    var el = svg();
    view = natural = null;
    if (!el) { return; }
    var box = (el.getAttribute("viewBox") || "").split(/[\s,]+/).map(Number);
    if (box.length !== 4 || box.some(isNaN)) { return; }
    natural = box.slice();
    view = box.slice();
    el.setAttribute("data-zoom", "1.00");
  }

  function zoom(factor, cx, cy) {
    if (!view) { return; }
    var width = Math.min(natural[2] * 4, Math.max(natural[2] / 12, view[2] / factor));
    var height = width * view[3] / view[2];
    var fx = cx === undefined ? 0.5 : cx, fy = cy === undefined ? 0.5 : cy;
    setView([view[0] + (view[2] - width) * fx, view[1] + (view[3] - height) * fy, width, height]);
  }

  function graphPoint(event) {
    var rect = svg().getBoundingClientRect();
    return [(event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height];
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-zoom]") : null;
    if (button && button.tagName === "BUTTON") {
      if (!view) { initGraph(); }
      var how = button.getAttribute("data-zoom");
      if (how === "fit" && natural) { setView(natural.slice()); } else { zoom(how === "in" ? 1.4 : 1 / 1.4); }
    }
  });

  root.addEventListener("wheel", function (event) {
    if (!(event.ctrlKey || event.metaKey) || !event.target.closest || !event.target.closest("#selinon-graph")) { return; }
    if (!view) { initGraph(); }
    if (!view) { return; }
    event.preventDefault();
    var point = graphPoint(event);
    zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, point[0], point[1]);
  }, { passive: false });

  root.addEventListener("pointerdown", function (event) {
    if (!event.target.closest || !event.target.closest("#selinon-graph") || event.button !== 0) { return; }
    if (!view) { initGraph(); }
    if (!view) { return; }
    dragging = { x: event.clientX, y: event.clientY, view: view.slice() };
    moved = false;
  });

  window.addEventListener("pointermove", function (event) {
    if (!dragging) { return; }
    var dx = event.clientX - dragging.x, dy = event.clientY - dragging.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    moved = true;
    var rect = svg().getBoundingClientRect();
    var scale = dragging.view[2] / rect.width;
    setView([dragging.view[0] - dx * scale, dragging.view[1] - dy * scale, dragging.view[2], dragging.view[3]]);
    root.querySelector("#selinon-graph").classList.add("selinon-dragging");
  });

  window.addEventListener("pointerup", function () {
    if (dragging) { root.querySelector("#selinon-graph").classList.remove("selinon-dragging"); }
    dragging = null;
  });

  /* a node's link (#selinon-group-N) opens that group, loads its instances and shows it */
  root.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("#selinon-graph a") : null;
    if (!link) { return; }
    if (moved) { event.preventDefault(); moved = false; return; }  /* the end of a drag */
    var href = link.getAttribute("href") || link.getAttribute("xlink:href") || "";
    if (href.charAt(0) !== "#") { return; }
    var target = document.getElementById(href.slice(1));
    event.preventDefault();
    if (!target) { return; }
    target.open = true;
    opened(target);
    target.scrollIntoView({ block: "start" });
    target.classList.add("selinon-highlight");
    window.setTimeout(function () { target.classList.remove("selinon-highlight"); }, 1600);
    if (window.history && window.history.replaceState) { window.history.replaceState(null, "", href); }
  }, true);

  function refresh() {
    initGraph();
    root.querySelectorAll("details[open]").forEach(function (el) {
      el.removeAttribute("data-loaded");
      opened(el);
    });
    var select = root.querySelector(".selinon-timeline-sort");
    var rows = root.querySelector(".selinon-timeline-rows");
    if (select && rows && rows.getAttribute("data-sort") !== select.value) { sortTimeline(select.value); }
    layout();
  }

  window.selinonRunPage = { layout: layout, refresh: refresh, opened: opened };
  refresh();
  /* a link to a node's details (#selinon-group-N) opens it */
  if (window.location.hash) {
    var linked = document.getElementById(window.location.hash.slice(1));
    if (linked && linked.tagName === "DETAILS") { linked.open = true; opened(linked); }
  }
}());

/* Task-log panels follow a running task: each live panel asks its JSON view for the batches
 * written after the last one shown (data-cursor), about once a second, appends their lines and
 * stops once the run or node has finished (its last lines are in that last answer: they are
 * written before the status). Lines are built with textContent: a log line is never markup.
 * No build step, no dependencies. */
(function () {
  "use strict";
  var DELAY = 1000;

  function cell(row, className, text) {
    var td = document.createElement("td");
    td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function addLine(panel, body, line) {
    var row = document.createElement("tr");
    row.className = "selinon-log-line selinon-log-" + String(line.level).toLowerCase();
    cell(row, "selinon-log-time", line.time);
    if (panel.getAttribute("data-per-node") === "true") {
      var node = cell(row, "selinon-log-node", "");
      var link = document.createElement("a");
      link.href = line.node_url;
      link.textContent = line.node;
      node.appendChild(link);
    }
    var attempt = cell(row, "selinon-log-attempt", "#" + line.attempt);
    attempt.title = "attempt";
    cell(row, "selinon-log-level", line.level);
    cell(row, "selinon-log-logger", line.logger);
    cell(row, "selinon-log-message", line.message);
    body.appendChild(row);
  }

  function follow(panel) {
    var url = panel.getAttribute("data-log-url");
    var body = panel.querySelector(".selinon-log-lines tbody");
    var box = panel.querySelector(".selinon-log-box");
    var delay = DELAY;

    function poll() {
      var cursor = panel.getAttribute("data-cursor") || "0";
      fetch(url + "?after=" + encodeURIComponent(cursor), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          /* keep the view at the bottom when the reader was there (a tail -f), not when they scrolled up */
          var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
          (data.lines || []).forEach(function (line) { addLine(panel, body, line); });
          if ((data.lines || []).length) {
            var empty = panel.querySelector(".selinon-log-empty");
            if (empty) { empty.hidden = true; }
            if (atBottom) { box.scrollTop = box.scrollHeight; }
          }
          panel.setAttribute("data-cursor", String(data.cursor));
          delay = DELAY;
          if (data.more) { window.setTimeout(poll, 0); return; }
          if (data.finished) {
            panel.setAttribute("data-live", "false");
            var live = panel.querySelector(".selinon-log-live");
            if (live) { live.hidden = true; }
            return;
          }
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 15000);  /* back off while the server is unreachable */
          window.setTimeout(poll, delay);
        });
    }

    window.setTimeout(poll, delay);
  }

  function start() {
    document.querySelectorAll(".selinon-log[data-live='true']").forEach(follow);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());

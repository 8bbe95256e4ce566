/* llmloop UI: the little script pages need. No inline script anywhere (the CSP forbids it). */
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];

  /* Time series: each [data-charts] box names a <script type="application/json"> holding
     [{title, labels, data: [xs, ys...]}] built by the server; one uPlot chart per entry. */
  function drawCharts(root) {
    root.querySelectorAll("[data-charts]").forEach(function (box) {
      if (box.dataset.drawn) return;
      box.dataset.drawn = "1";
      var source = document.getElementById(box.dataset.charts);
      if (!source || typeof uPlot === "undefined") return;
      JSON.parse(source.textContent).forEach(function (chart) {
        var holder = document.createElement("div");
        holder.className = "curve";
        box.appendChild(holder);
        var series = [{ label: "step" }];
        chart.labels.forEach(function (label, i) {
          series.push({ label: label, stroke: COLORS[i % COLORS.length], spanGaps: true, width: 2 });
        });
        new uPlot({ title: chart.title, width: 520, height: 240, series: series, scales: { x: { time: false } } }, chart.data, holder);
      });
    });
  }

  /* Annotation queue shortcuts: a key clicks the button carrying data-key, unless typing. */
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT"))) return;
    var button = document.querySelector('#queue-item button[data-key="' + e.key + '"]');
    if (button) {
      e.preventDefault();
      button.click();
    }
  });

  /* The playground streams: a form with data-stream posts to it and reads NDJSON lines as they come,
     {"delta": text} appended to the answer, then {"html": fragment} (the saved run) or {"error": message}.
     An answer that is not 200 (a refused or invalid request) is an error fragment, shown as is. */
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (err) { return ""; }
  }

  function streamForm(form) {
    var target = document.getElementById(form.dataset.target);
    var busy = document.getElementById("playground-busy");
    target.innerHTML = '<div class="result" id="playground-output"><h3>Answer</h3><pre class="output streaming" id="playground-stream"></pre></div>';
    var out = document.getElementById("playground-stream");
    if (busy) busy.hidden = false;
    function finish() { if (busy) busy.hidden = true; out.classList.remove("streaming"); }
    function handle(line) {
      if (!line) return;
      var event = JSON.parse(line);
      if (event.delta !== undefined) out.textContent += event.delta;
      else if (event.html !== undefined) target.innerHTML = event.html;
      else if (event.error !== undefined) {
        var p = document.createElement("p");
        p.className = "error";
        p.id = "playground-error";
        p.textContent = event.error;
        target.appendChild(p);
      }
    }
    fetch(form.dataset.stream, { method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrfToken() }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok || !response.body) return response.text().then(function (html) { target.innerHTML = html; });
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var pending = "";
        function pump() {
          return reader.read().then(function (step) {
            pending += decoder.decode(step.value || new Uint8Array(), { stream: !step.done });
            var lines = pending.split("\n");
            pending = lines.pop();
            lines.forEach(handle);
            if (step.done) { handle(pending); return; }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) { handle(JSON.stringify({ error: "the stream broke: " + err })); })
      .then(finish);
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.dataset || !form.dataset.stream) return;
    e.preventDefault();
    streamForm(form);
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
})();

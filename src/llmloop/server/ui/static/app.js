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

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
})();

// The dashboard's two charts (uPlot, served by the host): runs per minute and the p95 fire lag over the last hour.
// They refresh from GET /api/v1/dashboard every 15 s, one request at a time, and only while the tab is visible.
(function () {
  'use strict';
  var charts = [];
  function size(el) { return { width: Math.max(280, el.clientWidth), height: 200 }; }
  function draw(el, series) {
    var field = el.getAttribute('data-field');
    var data = [series.minutes.map(function (m) { return m / 1000; }), series[field]];
    var dim = size(el);
    var plot = new window.uPlot({
      width: dim.width, height: dim.height,
      scales: { x: { time: true } },
      // The page shows UTC everywhere; the charts too, whatever the browser's zone.
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); },
      series: [{}, { label: el.getAttribute('data-label'), stroke: '#1f5fbf', fill: 'rgba(31,95,191,0.12)', width: 2, spanGaps: false }],
      axes: [{}, { size: 50 }],
      legend: { show: true },
    }, data, el);
    charts.push({ el: el, plot: plot, field: field });
  }
  document.querySelectorAll('.chart[data-series]').forEach(function (el) {
    if (!window.uPlot) { el.textContent = 'The chart script did not load.'; return; }
    draw(el, JSON.parse(el.getAttribute('data-series')));
  });
  window.addEventListener('resize', function () {
    charts.forEach(function (c) { c.plot.setSize(size(c.el)); });
  });
  var busy = false;
  setInterval(function () {
    if (busy || document.hidden || charts.length === 0) return;
    busy = true;
    fetch('/api/v1/dashboard', { credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (dash) {
        if (!dash) return;
        charts.forEach(function (c) { c.plot.setData([dash.series.minutes.map(function (m) { return m / 1000; }), dash.series[c.field]]); });
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { busy = false; });
  }, 15000);
})();

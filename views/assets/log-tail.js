// A running run's log, live: server-sent events from /runs/:id/log/live (the host's follow stream). The page holds
// at most MAX_LINES lines; it scrolls with the end while "Follow the end" is on and the view is at the bottom.
(function () {
  'use strict';
  var pre = document.getElementById('log');
  if (!pre || !pre.getAttribute('data-live') || !window.EventSource) return;
  var MAX_LINES = 5000;
  var follow = document.getElementById('log-follow');
  var state = document.getElementById('log-state');
  var empty = document.getElementById('log-empty');
  var live = document.getElementById('log-live');
  var lines = Number(pre.getAttribute('data-lines')) || 0;
  var source = new EventSource('/runs/' + encodeURIComponent(pre.getAttribute('data-run')) + '/log/live?after=' + lines);
  function atBottom() { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 30; }
  function trim() {
    while (pre.childNodes.length > MAX_LINES) pre.removeChild(pre.firstChild);
  }
  pre.scrollTop = pre.scrollHeight;
  source.onmessage = function (event) {
    var stick = follow.checked && atBottom();
    if (empty) { empty.remove(); empty = null; }
    pre.appendChild(document.createTextNode(event.data + '\n'));
    trim();
    if (stick) pre.scrollTop = pre.scrollHeight;
  };
  follow.addEventListener('change', function () { if (follow.checked) pre.scrollTop = pre.scrollHeight; });
  source.addEventListener('end', function () {
    source.close();
    live.hidden = true;
    state.textContent = 'The run has ended. ';
    var again = document.createElement('a');
    again.href = window.location.pathname;
    again.textContent = 'Reload for its result';
    state.appendChild(again);
  });
  source.onerror = function () { state.textContent = 'Connection lost; reconnecting…'; };
  source.onopen = function () { state.textContent = 'Following while the run goes on…'; };
})();

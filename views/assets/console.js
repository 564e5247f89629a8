// On every page: "/" moves to the run-id search box (unless you are typing in a field), Escape leaves it.
(function () {
  'use strict';
  var search = document.getElementById('top-search');
  if (!search) return;
  document.addEventListener('keydown', function (event) {
    var target = event.target;
    var typing = target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.isContentEditable);
    if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
    } else if (event.key === 'Escape' && target === search) {
      search.blur();
    }
  });
})();

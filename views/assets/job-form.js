// The job form's live parts: the next fire times from the host's scheduler (POST /api/v1/schedules/preview) as the
// schedule is typed, params checked as JSON while typed, the bundle's exports as a pick list, and the schedule
// fields that fit the chosen type. The form works without this file (its Preview button asks the server).
(function () {
  'use strict';
  function byId(id) { return document.getElementById(id); }

  // Params (and trigger params) checked as JSON while typed.
  document.querySelectorAll('[data-json-check]').forEach(function (area) {
    var out = byId(area.getAttribute('data-json-check'));
    function check() {
      if (area.value.trim() === '') { out.textContent = ''; area.removeAttribute('aria-invalid'); return; }
      try { JSON.parse(area.value); out.textContent = ''; area.removeAttribute('aria-invalid'); }
      catch (e) { out.textContent = 'Not JSON yet: ' + e.message; area.setAttribute('aria-invalid', 'true'); }
    }
    area.addEventListener('input', check);
    check();
  });

  document.querySelectorAll('[data-fill]').forEach(function (pick) {
    pick.addEventListener('change', function () { if (pick.value) byId(pick.getAttribute('data-fill')).value = pick.value; });
  });
  document.querySelectorAll('[data-reload]').forEach(function (select) {
    select.addEventListener('change', function () { byId(select.getAttribute('data-reload')).click(); });
  });

  var type = byId('scheduleType');
  if (!type) return;
  function showFields() {
    var t = type.value;
    byId('cron').parentElement.hidden = t !== 'CRON';
    byId('timezone').parentElement.hidden = t !== 'CRON';
    byId('everyMs').parentElement.hidden = t !== 'INTERVAL';
  }
  type.addEventListener('change', showFields);
  showFields();

  var list = byId('preview-list');
  var empty = byId('preview-empty');
  var zoneLine = byId('preview-zone');
  var timer = null;
  var inFlight = null;
  function schedule() {
    var s = { type: type.value };
    if (s.type === 'CRON') { s.cron = byId('cron').value.trim(); if (byId('timezone').value.trim()) s.timezone = byId('timezone').value.trim(); }
    if (s.type === 'INTERVAL') s.everyMs = Number(byId('everyMs').value);
    if (byId('startAt').value.trim()) s.startAt = byId('startAt').value.trim();
    if (byId('endAt').value.trim()) s.endAt = byId('endAt').value.trim();
    return s;
  }
  function utc(iso) { return iso.slice(0, 19).replace('T', ' ') + ' UTC'; }
  function inZone(iso, zone) {
    try { return new Intl.DateTimeFormat('en-GB', { timeZone: zone, dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso)); }
    catch { return ''; }
  }
  function render(answer) {
    list.textContent = '';
    answer.fires.forEach(function (iso) {
      var li = document.createElement('li');
      var time = document.createElement('time');
      time.dateTime = iso;
      time.textContent = utc(iso);
      li.appendChild(time);
      if (answer.timezone !== 'UTC') li.appendChild(document.createTextNode(' · ' + inZone(iso, answer.timezone) + ' ' + answer.timezone));
      list.appendChild(li);
    });
    zoneLine.textContent = 'Read in ' + answer.timezone + '; shown in UTC' + (answer.timezone === 'UTC' ? '.' : ' and in ' + answer.timezone + '.');
    empty.textContent = answer.fires.length ? '' : 'No fire time: a manual job runs only when triggered, or the window is over.';
    empty.className = 'muted';
  }
  function preview() {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    empty.textContent = 'Computing…';
    fetch('/api/v1/schedules/preview', {
      method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin', signal: inFlight.signal,
      body: JSON.stringify({ schedule: schedule(), count: 10 }),
    }).then(function (res) {
      return res.json().then(function (body) {
        if (res.ok) return render(body);
        list.textContent = '';
        zoneLine.textContent = '';
        empty.textContent = body.error ? body.error.message : 'The schedule cannot be previewed (HTTP ' + res.status + ').';
        empty.className = 'field-error';
      });
    }).catch(function (e) { if (e.name !== 'AbortError') { empty.textContent = 'The preview did not answer; the form still saves.'; } });
  }
  preview();
  document.querySelectorAll('[data-preview]').forEach(function (input) {
    input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(preview, 300); });
    input.addEventListener('change', function () { clearTimeout(timer); timer = setTimeout(preview, 50); });
  });
})();

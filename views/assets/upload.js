// Bundle upload with a progress bar: the same multipart POST as the form, sent by XHR to watch the bytes go.
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (!form || !window.FormData) return;
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('X-CSRF-Token', form.getAttribute('data-csrf'));
    xhr.setRequestHeader('X-Requested-With', 'upload');
    bar.hidden = false;
    bar.value = 0;
    status.textContent = 'Uploading…';
    xhr.upload.addEventListener('progress', function (e) {
      if (!e.lengthComputable) return;
      bar.value = Math.round((e.loaded / e.total) * 100);
      status.textContent = e.loaded < e.total ? 'Uploading… ' + bar.value + ' %' : 'Uploaded; the host checks and unpacks the bundle…';
    });
    xhr.addEventListener('load', function () {
      if (xhr.status < 400) {
        var to = window.location.pathname;
        try { to = JSON.parse(xhr.responseText).location || to; } catch { /* the page itself */ }
        window.location.assign(to);
        return;
      }
      var page = new DOMParser().parseFromString(xhr.responseText, 'text/html');
      var message = page.getElementById('file-error') || page.querySelector('.form-error');
      status.textContent = message ? message.textContent : 'The upload was refused (HTTP ' + xhr.status + ').';
      status.className = 'field-error';
      bar.hidden = true;
    });
    xhr.addEventListener('error', function () {
      status.textContent = 'The upload did not reach the host; check the connection and try again.';
      status.className = 'field-error';
      bar.hidden = true;
    });
    xhr.send(new FormData(form));
  });
})();

// Drag-and-drop upload of a part with a progress bar: XHR POST /api/v1/parts (multipart 'file'), sent with the
// session cookie and the CSRF double-submit header; on success the browser goes to the part's page.
(function () {
  'use strict';
  var zone = document.getElementById('dropzone');
  if (!zone) return;
  var input = document.getElementById('file-input');
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  function say(msg, bad) { status.textContent = msg; status.className = bad ? 'error' : 'muted'; }

  function send(file) {
    var form = new FormData();
    form.append('file', file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', zone.dataset.uploadUrl);
    xhr.setRequestHeader('X-CSRF-Token', token);
    xhr.setRequestHeader('Accept', 'application/json');
    bar.hidden = false; bar.value = 0;
    say(zone.dataset.msgUploading + ' ' + file.name);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        if (e.loaded === e.total) say(zone.dataset.msgAnalysing);
      }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 201 || xhr.status === 202) {
        bar.value = 100;
        var id = body.id && xhr.status === 201 ? body.id : (body.part && body.part.id);
        window.location.href = '/parts/' + encodeURIComponent(id);
      } else {
        bar.hidden = true;
        say(zone.dataset.msgFailed + ' ' + (body.detail || xhr.statusText) + (body.hint ? ' — ' + body.hint : ''), true);
      }
    };
    xhr.onerror = function () { bar.hidden = true; say(zone.dataset.msgFailed, true); };
    xhr.send(form);
  }

  ['dragenter', 'dragover'].forEach(function (ev) {
    zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (ev) {
    zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove('over'); });
  });
  zone.addEventListener('drop', function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
  });
  input.addEventListener('change', function () { if (input.files.length) send(input.files[0]); });
})();

// Drag-and-drop upload of parts with a progress bar: XHR POST /api/v1/parts (multipart 'file'), sent with the
// session cookie and the CSRF double-submit header. One file: on success the browser goes to the part's page.
// Several files (a part list): uploaded one after another, then the parts page lists them with a quantity each.
(function () {
  'use strict';
  var zone = document.getElementById('dropzone');
  if (!zone) return;
  var input = document.getElementById('file-input');
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var errors = {};
  try { errors = JSON.parse(zone.dataset.errors || '{}'); } catch (e) { errors = {}; }

  function say(msg, bad) { status.textContent = msg; status.className = bad ? 'error' : 'muted'; }

  function send(file, done) {
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
        if (done) { done(true, ''); return; }
        window.location.href = '/parts/' + encodeURIComponent(id);
      } else {
        // a problem the page's catalog knows is said in the page's language (data-errors: code -> text)
        var code = String(body.type || '').split(':').pop();
        var local = errors[code];
        var why = file.name + ': ' + (local || body.detail || xhr.statusText) +
          (!local && body.hint ? ' — ' + body.hint : '');
        if (done) { done(false, why); return; }
        bar.hidden = true;
        say(zone.dataset.msgFailed + ' ' + why, true);
      }
    };
    xhr.onerror = function () {
      if (done) { done(false, file.name); return; }
      bar.hidden = true; say(zone.dataset.msgFailed, true);
    };
    xhr.send(form);
  }

  ['dragenter', 'dragover'].forEach(function (ev) {
    zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (ev) {
    zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove('over'); });
  });
  // several files: one upload after another (the server's rate limit and memory see one at a time)
  function sendAll(files) {
    var list = Array.prototype.slice.call(files), failed = [], done = 0;
    function next() {
      if (!list.length) {
        say(zone.dataset.msgMany.replace('{done}', done).replace('{total}', done + failed.length), false);
        if (failed.length) { say(zone.dataset.msgFailed + ' ' + failed.join('; '), true); return; }
        window.location.href = '/parts';
        return;
      }
      var file = list.shift();
      send(file, function (ok, why) {
        if (ok) done += 1; else failed.push(why);
        say(zone.dataset.msgMany.replace('{done}', done).replace('{total}', done + failed.length + list.length));
        next();
      });
    }
    next();
  }

  function take(files) {
    if (files.length === 1) send(files[0]);
    else if (files.length > 1) sendAll(files);
  }

  zone.addEventListener('drop', function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) take(e.dataTransfer.files);
  });
  input.addEventListener('change', function () { take(input.files); });
})();

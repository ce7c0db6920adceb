// The quote form: materials and finishes follow the chosen process.
(function () {
  'use strict';
  var proc = document.getElementById('process');
  var mat = document.getElementById('material');
  var fin = document.getElementById('finish');
  if (!proc || !mat) return;
  function sync() {
    var p = proc.value;
    var firstOk = null;
    Array.prototype.forEach.call(mat.options, function (o) {
      var ok = !p || o.dataset.process === p;
      o.hidden = !ok; o.disabled = !ok;
      if (ok && firstOk === null) firstOk = o;
    });
    if (mat.selectedOptions.length && mat.selectedOptions[0].disabled && firstOk) mat.value = firstOk.value;
    var mp = p || (mat.selectedOptions[0] && mat.selectedOptions[0].dataset.process);
    Array.prototype.forEach.call(fin.options, function (o) {
      var ok = !o.value || (o.dataset.processes || '').split(' ').indexOf(mp) >= 0;
      o.hidden = !ok; o.disabled = !ok;
    });
    if (fin.selectedOptions.length && fin.selectedOptions[0].disabled) fin.value = '';
  }
  proc.addEventListener('change', sync);
  mat.addEventListener('change', sync);
  sync();
})();

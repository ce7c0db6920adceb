// Starts ReDoc on /redoc from the packaged bundle (no inline script, so the page's Content-Security-Policy needs none).
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("redoc");
  Redoc.init(root.getAttribute("data-openapi-url"), { hideDownloadButton: false }, root);
});

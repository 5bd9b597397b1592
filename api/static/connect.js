// The connect endpoint takes one comma-separated `scopes` parameter; build it from the checkboxes.
// A file, not an inline script: the pages' Content-Security-Policy allows scripts from this origin only.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("connect-form");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    var picked = Array.from(document.querySelectorAll("input[name=scope]:checked")).map(function (b) { return b.value; });
    document.getElementById("scopes").value = picked.join(",");
    document.querySelectorAll("input[name=scope]").forEach(function (b) { b.disabled = true; });
  });
});

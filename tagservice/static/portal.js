/* Patient portal, progressive enhancement only: every page works without it.
   - The summary editor (form#editor[data-meter]) asks the server how full the card
     would be as the patient types, and updates the meter and the red lines it will
     produce (#critical-lines); "Save and check" still saves.
   - The print page shows a Print button ([data-print]). */
(function () {
  "use strict";

  function liveMeter(form) {
    var meter = document.getElementById("meter");
    var text = document.getElementById("meter-text");
    if (!meter || !text || !window.fetch || !window.FormData) return;
    var timer = null;
    var sent = 0;
    function check() {
      var mine = ++sent;
      fetch(form.getAttribute("data-meter"), {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (!data || mine !== sent) return;
        var percent = data.meter ? Math.min(data.meter.percent, 100) : 0;
        meter.value = percent;
        meter.textContent = percent + "%";
        text.textContent = data.text;
        if (data.critical) showCritical(data.critical);
      }).catch(function () { /* offline: the Save and check button still works */ });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 500);
    });
  }

  // The red lines the summary will produce, as the patient types (the server decides).
  function showCritical(lines) {
    var list = document.getElementById("critical-lines");
    var none = document.getElementById("critical-none");
    if (!list) return;
    while (list.firstChild) list.removeChild(list.firstChild);
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.className = "alert-critical";
      item.textContent = line;
      list.appendChild(item);
    });
    if (none) none.hidden = lines.length > 0;
  }

  function printButton(button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form#editor[data-meter]");
    if (form) liveMeter(form);
    var button = document.querySelector("[data-print]");
    if (button) printButton(button);
  });
})();

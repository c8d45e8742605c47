/* Patient portal, progressive enhancement only: every page works without it.
   - The summary editor (form#editor[data-meter]) asks the server how full the card
     would be as the patient types, and updates the meter and the red lines it will
     produce (#critical-lines); "Save and check" still saves.
   - The card page (form#make-card[data-fit]) says, as the patient ticks, whether the
     chosen words and back lines fit (#back-fit); making the card checks again.
   - The print page shows a Print button ([data-print]). */
(function () {
  "use strict";

  // POST the form to `url` a moment after the patient stops changing it (`event`);
  // `show` gets the server's JSON answer. Only the newest answer is shown. Offline, the
  // form's own submit button still does the job.
  function askWhileEditing(form, url, event, delay, show) {
    var timer = null;
    var sent = 0;
    function ask() {
      var mine = ++sent;
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (data && mine === sent) show(data);
      }).catch(function () { /* offline: submitting still checks */ });
    }
    form.addEventListener(event, function () {
      clearTimeout(timer);
      timer = setTimeout(ask, delay);
    });
    return ask;
  }

  function liveMeter(form) {
    var meter = document.getElementById("meter");
    var text = document.getElementById("meter-text");
    if (!meter || !text || !window.fetch || !window.FormData) return;
    askWhileEditing(form, form.getAttribute("data-meter"), "input", 500, function (data) {
      var percent = data.meter ? Math.min(data.meter.percent, 100) : 0;
      meter.value = percent;
      meter.textContent = percent + "%";
      text.textContent = data.text;
      if (data.critical) showCritical(data.critical);
    });
  }

  // The card page: whether the words in clear and the back lines fit, from the card
  // renderer itself (/my/card/fit), so this file holds no copy of the rule.
  function liveFit(form) {
    var status = document.getElementById("back-fit");
    if (!status || !window.fetch || !window.FormData) return;
    var ask = askWhileEditing(form, form.getAttribute("data-fit"), "change", 250, function (data) {
      status.textContent = data.text;
      status.className = data.fits ? "hint fit-yes" : "field-error fit-no";
    });
    if (form.querySelector("input[name=critical]:checked")) ask();
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
    var card = document.querySelector("form#make-card[data-fit]");
    if (card) liveFit(card);
    var button = document.querySelector("[data-print]");
    if (button) printButton(button);
  });
})();

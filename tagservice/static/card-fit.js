/* The card page, progressive enhancement only: without it the server checks on submit.
   As the patient ticks what the card prints (form#make-card[data-fit]), ask the server
   whether it fits: the answer comes from the card renderer itself (/my/card/fit), so
   this file holds no copy of the rule. The answer is said in #back-fit. */
(function () {
  "use strict";

  function liveFit(form) {
    var status = document.getElementById("back-fit");
    if (!status || !window.fetch || !window.FormData) return;
    var timer = null;
    var sent = 0;
    function check() {
      var mine = ++sent;
      fetch(form.getAttribute("data-fit"), {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (!data || mine !== sent) return;
        status.textContent = data.text;
        status.className = data.fits ? "hint fit-yes" : "field-error fit-no";
      }).catch(function () { /* offline: making the card still checks */ });
    }
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    if (form.querySelector("input[name=critical]:checked")) check();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form#make-card[data-fit]");
    if (form) liveFit(form);
  });
})();

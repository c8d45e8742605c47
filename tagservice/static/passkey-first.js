// Sign-in: the passkey is the first, main button where this device has a built-in one
// (fingerprint, face, screen lock); elsewhere it goes after the password form.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var box = document.querySelector("[data-after]");
  var pkc = window.PublicKeyCredential;
  if (!box || !pkc) return;
  var form = document.getElementById(box.dataset.after);
  function place(builtIn) {
    if (builtIn) box.querySelector("[data-passkey]").classList.add("btn-primary");
    else if (form) { form.after(box); box.querySelector("[data-lead]").hidden = true; }
  }
  var check = pkc.isUserVerifyingPlatformAuthenticatorAvailable;
  if (check) check.call(pkc).then(place, function () { place(false); });
  else place(false);
});

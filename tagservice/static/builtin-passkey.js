// What changes where this device has a built-in authenticator that checks the user
// (fingerprint, face, screen lock); one file, cached from the sign-in page on:
// - sign-in ([data-after]): the passkey is the first, main button; elsewhere it goes
//   after the password form;
// - after a password sign-in ([data-passkey-offer], templates/auth/_passkey_offer.html):
//   the offer to add a passkey, hidden by default, is shown; elsewhere nothing shows
//   and the offer waits.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var pkc = window.PublicKeyCredential;
  var box = document.querySelector("[data-after]");
  var offer = document.querySelector("[data-passkey-offer]");
  if (!box && !offer) return;
  function place(builtIn) {
    if (offer && builtIn === true) offer.hidden = false;
    if (!box) return;
    var form = document.getElementById(box.dataset.after);
    if (builtIn === true) box.querySelector("[data-passkey]").classList.add("btn-primary");
    else if (form) { form.after(box); box.querySelector("[data-lead]").hidden = true; }
  }
  var check = pkc && pkc.isUserVerifyingPlatformAuthenticatorAvailable;
  if (check) check.call(pkc).then(place, function () { place(false); });
  else if (box && pkc) place(false);
});

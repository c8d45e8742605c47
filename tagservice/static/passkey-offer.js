// The offer to add a passkey (templates/auth/_passkey_offer.html) is hidden by default
// and shown only where this device has a built-in authenticator that checks the user
// (fingerprint, face, screen lock). Anywhere else nothing shows and the offer waits.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var box = document.querySelector("[data-passkey-offer]");
  var pkc = window.PublicKeyCredential;
  if (!box || !pkc || !pkc.isUserVerifyingPlatformAuthenticatorAvailable) return;
  pkc.isUserVerifyingPlatformAuthenticatorAvailable().then(function (builtIn) {
    if (builtIn === true) box.hidden = false;
  }, function () { /* unknown: show nothing */ });
});

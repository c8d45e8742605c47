// Passkey buttons: options -> WebAuthn ceremony -> verify.
(function () {
  "use strict";
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    var bin = atob(s + "===".slice((s.length + 3) % 4)), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.message);
        return j;
      });
    });
  }
  function ids(list) {
    return (list || []).map(function (c) { return {type: c.type, id: toBuf(c.id)}; });
  }
  function create(o) {
    o.challenge = toBuf(o.challenge);
    o.user.id = toBuf(o.user.id);
    o.excludeCredentials = ids(o.excludeCredentials);
    return navigator.credentials.create({publicKey: o});
  }
  function get(o) {
    o.challenge = toBuf(o.challenge);
    o.allowCredentials = ids(o.allowCredentials);
    return navigator.credentials.get({publicKey: o});
  }
  function asJSON(cred) {
    var r = cred.response, out = {id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
      response: {clientDataJSON: toB64u(r.clientDataJSON)}};
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle) out.response.userHandle = toB64u(r.userHandle);
    }
    return out;
  }
  function run(btn) {
    var d = btn.dataset, err = document.getElementById(d.error);
    btn.disabled = true;
    if (err) err.hidden = true;
    post(d.options, d.csrf).then(d.passkey === "register" ? create : get).then(function (cred) {
      var body = asJSON(cred);
      return post(d.verify, d.csrf, d.passkey === "register" ? body : {credential: body, next: d.next});
    }).then(function (j) {
      window.location.assign(j.next);
    }).catch(function (e) {
      btn.disabled = false;
      if (!err) return;
      err.textContent = e && e.name === "NotAllowedError" ? "Passkey cancelled." : e.message;
      err.hidden = false;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential) return;
    document.querySelectorAll("[data-passkey]").forEach(function (btn) {
      var box = btn.closest("[hidden]");
      if (box) box.hidden = false;
      btn.addEventListener("click", function () { run(btn); });
    });
  });
})();

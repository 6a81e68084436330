// Passkeys (WebAuthn): register one on the Security page, use one to sign in or confirm.
// The server sends the options as JSON and checks the answers; this file only runs the
// browser's ceremony. No inline script: the URLs come from data- attributes.
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The CSRF token htmx sends is on <body hx-headers='{"X-CSRFToken": "..."}'>.
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(
        function (data) {
          if (response.status === 401 && data.redirect) {
            window.location.assign(data.redirect);
            throw new Error("");
          }
          if (!response.ok) throw new Error(data.error || "Something went wrong.");
          return data;
        },
        function () {
          throw new Error("Something went wrong (" + response.status + ").");
        }
      );
    });
  }

  function showError(el, message) {
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return options;
  }

  function registrationJSON(cred) {
    var transports = cred.response.getTransports ? cred.response.getTransports() : [];
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        attestationObject: toB64url(cred.response.attestationObject),
        transports: transports,
      },
      clientExtensionResults: cred.getClientExtensionResults(),
      authenticatorAttachment: cred.authenticatorAttachment || null,
    };
  }

  function assertionJSON(cred) {
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        authenticatorData: toB64url(cred.response.authenticatorData),
        signature: toB64url(cred.response.signature),
        userHandle: cred.response.userHandle ? toB64url(cred.response.userHandle) : null,
      },
      clientExtensionResults: cred.getClientExtensionResults(),
      authenticatorAttachment: cred.authenticatorAttachment || null,
    };
  }

  function unsupported(errorEl) {
    if (window.PublicKeyCredential) return false;
    showError(errorEl, "This browser can't use passkeys. Use your authenticator app instead.");
    return true;
  }

  function setUpRegister(form) {
    var errorEl = form.parentNode.querySelector("[data-passkey-error]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (unsupported(errorEl)) return;
      showError(errorEl, "");
      var name = (form.querySelector("[name=name]") || {}).value || "";
      post(form.getAttribute("data-options-url"))
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (cred) {
          return post(form.getAttribute("data-register-url"), {
            credential: registrationJSON(cred),
            name: name,
          });
        })
        .then(function (data) {
          window.location.assign(data.redirect);
        })
        .catch(function (err) {
          showError(errorEl, err && err.message ? err.message : "The passkey wasn't added.");
        });
    });
  }

  function setUpSignIn(box) {
    var errorEl = box.querySelector("[data-passkey-error]");
    var button = box.querySelector("[data-passkey-button]");
    button.addEventListener("click", function () {
      if (unsupported(errorEl)) return;
      showError(errorEl, "");
      button.disabled = true;
      post(box.getAttribute("data-options-url"))
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (cred) {
          return post(box.getAttribute("data-verify-url"), {
            credential: assertionJSON(cred),
            next: box.getAttribute("data-next") || "",
          });
        })
        .then(function (data) {
          window.location.assign(data.redirect);
        })
        .catch(function (err) {
          button.disabled = false;
          showError(errorEl, err && err.message ? err.message : "The passkey didn't work.");
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-passkey-register]").forEach(setUpRegister);
    document.querySelectorAll("[data-passkey-signin]").forEach(setUpSignIn);
  });
})();

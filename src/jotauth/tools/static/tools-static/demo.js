/* The login demo: the tutorial's flow, step by step, against the server that served this page.
 * Tokens are kept in this closure only. The DOM is filled with textContent, never innerHTML.
 */
"use strict";

(function () {
  const J = window.JotauthJWT;
  const $ = function (id) { return document.getElementById(id); };
  const session = { access: null, refresh: null, jwks: null };

  function setStatus(id, status, text) {
    const el = $(id);
    el.dataset.status = status;
    el.textContent = text;
  }

  function log(method, path, status) {
    const li = document.createElement("li");
    li.textContent = method + " " + path + " -> " + status;
    $("log").appendChild(li);
  }

  function describe(body, status) {
    if (body && typeof body === "object" && body.error) {
      return status + " " + body.error + (body.error_description ? ": " + body.error_description : "");
    }
    return String(status);
  }

  async function call(method, path, body, bearer, extra) {
    const headers = Object.assign({ Accept: "application/json" }, extra || {});
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = "Bearer " + bearer;
    let response;
    try {
      response = await fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (e) {
      log(method, path, "network error");
      throw e;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    log(method, path, response.status);
    return { status: response.status, ok: response.ok, data: data,
      nonce: response.headers.get("DPoP-Nonce"), challenge: response.headers.get("WWW-Authenticate") };
  }

  function renderJSON(id, value) {
    $(id).textContent = JSON.stringify(value, null, 2);
  }

  async function showAccess() {
    const token = session.access;
    $("access-token").textContent = token || "";
    if (!token) {
      $("access-header").textContent = "";
      $("access-claims").textContent = "";
      setStatus("access-expiry", "none", "");
      setStatus("access-verified", "none", "");
      return;
    }
    const decoded = J.decode(token);
    renderJSON("access-header", decoded.header);
    renderJSON("access-claims", decoded.claims);
    const exp = J.times(decoded.claims, Date.now() / 1000).filter(function (t) { return t.name === "exp"; })[0];
    setStatus("access-expiry", exp && !exp.problem ? "valid" : "invalid",
      exp ? exp.phrase.charAt(0).toUpperCase() + exp.phrase.slice(1) + " (" + exp.date + ")" : "No exp claim");
    try {
      if (!session.jwks) {
        const response = await call("GET", "/.well-known/jwks.json");
        if (!response.ok) throw new Error("JWKS answered " + response.status);
        session.jwks = JSON.stringify(response.data);
      }
      const result = await J.verify(token, session.jwks, Date.now() / 1000);
      setStatus("access-verified", "valid", "Signature verified with the server's JWKS (kid " + result.kid + ")");
    } catch (e) {
      setStatus("access-verified", "invalid", "Not verified: " + (e.code ? e.code + ": " : "") + e.message);
    }
  }

  function store(data) {
    session.access = data.access_token;
    session.refresh = data.refresh_token;
  }

  async function login() {
    const response = await call("POST", "/login", { username: $("username").value, password: $("password").value });
    if (response.ok && response.data && response.data.access_token) {
      store(response.data);
      setStatus("login-result", "valid", "Logged in: " + response.data.token_type + " token, expires in " +
        response.data.expires_in + " s");
    } else {
      session.access = session.refresh = null;
      setStatus("login-result", "invalid", "Login failed: " + describe(response.data, response.status));
    }
    await showAccess();
  }

  async function profile() {
    const response = await call("GET", "/profile", undefined, session.access);
    const el = $("profile-result");
    el.dataset.status = response.ok ? "valid" : "invalid";
    el.textContent = response.status + "\n" + JSON.stringify(response.data, null, 2);
  }

  async function refresh() {
    if (!session.refresh) {
      setStatus("refresh-result", "invalid", "Log in first: there is no refresh token");
      return;
    }
    const oldJti = session.access ? J.decode(session.access).claims.jti : null;
    const response = await call("POST", "/refresh", { refresh_token: session.refresh });
    if (response.ok && response.data && response.data.access_token) {
      store(response.data);
      const jti = J.decode(session.access).claims.jti;
      setStatus("refresh-result", "valid", "New pair issued; access token jti " + oldJti + " -> " + jti +
        "; the old refresh token is now spent");
    } else {
      setStatus("refresh-result", "invalid", "Refresh failed: " + describe(response.data, response.status));
    }
    await showAccess();
  }

  async function logout() {
    const body = session.refresh ? { refresh_token: session.refresh } : {};
    const response = await call("POST", "/logout", body, session.access);
    if (response.ok) {
      setStatus("logout-result", "valid", "Logged out (" + response.status + "). The old tokens are revoked: " +
        "GET /profile now fails.");
    } else {
      setStatus("logout-result", "invalid", "Logout failed: " + describe(response.data, response.status));
    }
  }

  // -- DPoP: the same flow with tokens bound to this page's key --------------------------------

  const D = window.JotauthDPoP;
  const bound = { pair: null, jkt: null, access: null, refresh: null, issuer: null, nonce: null };

  async function issuerUrl() {
    // Proofs name the server's public URL (its issuer), which the server checks them against.
    if (!bound.issuer) {
      const response = await call("GET", "/.well-known/oauth-authorization-server");
      bound.issuer = response.ok && response.data && response.data.issuer ? response.data.issuer : location.origin;
    }
    return bound.issuer;
  }

  function asksForNonce(response) {
    return (response.data && response.data.error === "use_dpop_nonce") ||
      /use_dpop_nonce/.test(response.challenge || "");
  }

  async function proved(method, path, body, accessToken) {
    // One request with a fresh proof, again with the server's nonce if it asks for one.
    const url = (await issuerUrl()) + path;
    let response = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const proof = await D.proof(bound.pair, method, url, { accessToken: accessToken, nonce: bound.nonce });
      const headers = { DPoP: proof };
      if (accessToken) headers.Authorization = "DPoP " + accessToken;
      response = await call(method, path, body, null, headers);
      if (response.nonce) bound.nonce = response.nonce;
      if (!asksForNonce(response)) break;
    }
    return response;
  }

  async function dpopLogin() {
    bound.pair = await D.loadKey();
    bound.jkt = await D.jkt(bound.pair);
    const exportable = await D.privateKeyExportable();
    setStatus("dpop-key", exportable ? "invalid" : "valid", "Key thumbprint " + bound.jkt +
      (exportable ? "; the private key CAN be exported" : "; the private key cannot be exported"));
    const response = await proved("POST", "/login", { username: $("username").value, password: $("password").value });
    const data = response.data;
    if (!response.ok || !data || !data.access_token) {
      bound.access = bound.refresh = null;
      setStatus("dpop-login-result", "invalid", "Login failed: " + describe(data, response.status));
      return;
    }
    bound.access = data.access_token;
    bound.refresh = data.refresh_token;
    const cnf = J.decode(bound.access).claims.cnf || {};
    const matches = data.token_type === "DPoP" && cnf.jkt === bound.jkt;
    setStatus("dpop-login-result", matches ? "valid" : "invalid", "Logged in: " + data.token_type +
      " token, cnf.jkt " + (cnf.jkt || "(none)") + (matches ? " = this page's key" : " is not this page's key"));
  }

  async function dpopProfile() {
    const el = $("dpop-profile-result");
    if (!bound.access) {
      el.dataset.status = "invalid";
      el.textContent = "Log in with DPoP first";
      return;
    }
    const response = await proved("GET", "/profile", undefined, bound.access);
    el.dataset.status = response.ok ? "valid" : "invalid";
    el.textContent = response.status + "\n" + JSON.stringify(response.data, null, 2);
  }

  async function dpopSteal() {
    // What a thief can do with copies of both tokens (from a log, a proxy, an XSS) but not the key.
    const el = $("dpop-steal-result");
    if (!bound.access) {
      el.dataset.status = "invalid";
      el.textContent = "Log in with DPoP first";
      return;
    }
    const asBearer = await call("GET", "/profile", undefined, bound.access);
    const thief = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const url = (await issuerUrl()) + "/profile";
    const ownProof = await call("GET", "/profile", undefined, null, {
      Authorization: "DPoP " + bound.access,
      DPoP: await D.proof(thief, "GET", url, { accessToken: bound.access }),
    });
    const refresh = await call("POST", "/refresh", { refresh_token: bound.refresh });
    const tries = [
      ["GET /profile as Bearer", asBearer],
      ["GET /profile with the thief's own key", ownProof],
      ["POST /refresh without a proof", refresh],
    ];
    const refused = tries.every(function (t) { return !t[1].ok; });
    el.dataset.status = refused ? "valid" : "invalid";
    el.textContent = (refused ? "Refused, every one:" : "NOT refused:") + "\n" + tries.map(function (t) {
      return t[0] + " -> " + describe(t[1].data, t[1].status);
    }).join("\n");
  }

  function guard(fn) {
    return function () {
      fn().catch(function (e) { log("error", "", e.message); });
    };
  }

  // A real form, so Enter in either field logs in as it does on any login page. The submit is
  // handled here (no navigation: the CSP's form-action 'none' would refuse one anyway), and the
  // button is disabled while a login is under way so a double press sends one request.
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const button = $("login");
    if (button.disabled) return;
    button.disabled = true;
    login()
      .catch(function (e) { log("error", "", e.message); })
      .finally(function () { button.disabled = false; });
  });
  $("profile").addEventListener("click", guard(profile));
  $("refresh").addEventListener("click", guard(refresh));
  $("logout").addEventListener("click", guard(logout));
  $("dpop-login").addEventListener("click", guard(dpopLogin));
  $("dpop-profile").addEventListener("click", guard(dpopProfile));
  $("dpop-steal").addEventListener("click", guard(dpopSteal));
  document.body.dataset.ready = "true";
})();

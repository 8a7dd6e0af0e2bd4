/* The debugger page: wires the decode, verify and build panels to JotauthJWT.
 * The DOM is only ever filled with textContent, never innerHTML: a token is untrusted input.
 */
"use strict";

(function () {
  const J = window.JotauthJWT;
  const $ = function (id) { return document.getElementById(id); };

  function now() { return Date.now() / 1000; }

  /** Pretty JSON as spans classed by token type (key, string, number, literal). */
  function renderJSON(target, value) {
    target.textContent = "";
    const text = JSON.stringify(value, null, 2);
    const pattern = /("(?:\\.|[^"\\])*")(\s*:)?|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\btrue\b|\bfalse\b|\bnull\b/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) target.appendChild(document.createTextNode(text.slice(last, match.index)));
      const span = document.createElement("span");
      span.className = match[1] ? (match[2] ? "j-key" : "j-str") : /^[-\d]/.test(match[0]) ? "j-num" : "j-lit";
      span.textContent = match[1] ? match[1] : match[0];
      target.appendChild(span);
      if (match[2]) target.appendChild(document.createTextNode(match[2]));
      last = match.index + match[0].length;
    }
    target.appendChild(document.createTextNode(text.slice(last)));
  }

  function list(target, items, className) {
    target.textContent = "";
    for (const item of items) {
      const li = document.createElement("li");
      if (className) li.className = className;
      li.textContent = item;
      target.appendChild(li);
    }
  }

  function showError(id, message) {
    const el = $(id);
    el.textContent = message || "";
    el.hidden = !message;
  }

  function decodeNow() {
    const text = $("token").value;
    setVerify("none", "");
    if (!text.trim()) {
      $("decoded").hidden = true;
      showError("decode-error", "");
      return;
    }
    let decoded;
    try {
      decoded = J.decode(text);
    } catch (e) {
      $("decoded").hidden = true;
      showError("decode-error", e.message);
      return;
    }
    showError("decode-error", "");
    $("decoded").hidden = false;
    renderJSON($("header"), decoded.header);
    if (decoded.claims) renderJSON($("claims"), decoded.claims);
    else $("claims").textContent = decoded.claimsError;
    const times = J.times(decoded.claims, now());
    const timesEl = $("times");
    timesEl.textContent = "";
    for (const t of times) {
      const li = document.createElement("li");
      li.className = t.problem ? "bad" : "good";
      li.dataset.claim = t.name;
      li.textContent = t.name + "  " + t.date + "  (" + t.phrase + ")";
      timesEl.appendChild(li);
    }
    const exp = times.filter(function (t) { return t.name === "exp"; })[0];
    const expiry = $("expiry");
    if (!exp) {
      expiry.textContent = "Never expires (no exp claim)";
      expiry.dataset.status = "invalid";
    } else {
      expiry.textContent = exp.phrase.charAt(0).toUpperCase() + exp.phrase.slice(1);
      expiry.dataset.status = exp.problem ? "invalid" : "valid";
    }
    list($("hints"), J.hints(decoded), "hint");
    $("size").textContent = decoded.size + " bytes";
  }

  function setVerify(status, message) {
    const el = $("verify-result");
    el.dataset.status = status;
    el.textContent = message;
  }

  async function verifyNow() {
    setVerify("pending", "Verifying...");
    try {
      const expected = { issuer: $("verify-iss").value.trim(), audience: $("verify-aud").value.trim() };
      const result = await J.verify($("token").value, $("verify-key").value, now(), expected);
      setVerify("valid", "Signature verified (" + result.alg + (result.kid ? ", kid " + result.kid : "") +
        ") and the token is within its validity times" +
        (result.claims.iss !== undefined ? "; issuer " + result.claims.iss : "") + ".");
    } catch (e) {
      const code = e.code || "error";
      setVerify("invalid", "Invalid: " + code + ": " + e.message);
    }
  }

  async function useServerJWKS() {
    setVerify("pending", "Fetching this server's /.well-known/jwks.json...");
    try {
      const response = await fetch(new URL("/.well-known/jwks.json", window.location.href), {
        credentials: "omit",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const jwks = await response.json();
      $("verify-key").value = JSON.stringify(jwks, null, 2);
      setVerify("none", "Loaded " + (jwks.keys || []).length + " keys from this server.");
    } catch (e) {
      setVerify("invalid", "Could not load this server's JWKS: " + e.message +
        (window.location.protocol === "file:" ? " (opened as a file: paste the JWKS instead)" : ""));
    }
  }

  function defaultClaims() {
    const t = Math.floor(now());
    return { sub: "42", name: "John Doe", iat: t, exp: t + 900 };
  }

  async function generateKey() {
    showError("build-error", "");
    try {
      const pair = await J.generate($("build-alg").value);
      $("build-key").value = JSON.stringify(pair.privateJwk, null, 2);
      $("build-public").value = pair.publicJwk ? JSON.stringify(pair.publicJwk, null, 2)
        : "(an HMAC secret has no public part: verify with the secret itself)";
    } catch (e) {
      showError("build-error", e.message);
    }
  }

  function setTimes() {
    let claims;
    try {
      claims = JSON.parse($("build-claims").value || "{}");
    } catch (e) {
      showError("build-error", "the claims are not valid JSON");
      return;
    }
    const t = Math.floor(now());
    claims.iat = t;
    claims.exp = t + 900;
    $("build-claims").value = JSON.stringify(claims, null, 2);
  }

  async function signNow() {
    showError("build-error", "");
    let claims;
    try {
      claims = JSON.parse($("build-claims").value);
    } catch (e) {
      showError("build-error", "the claims are not valid JSON");
      return;
    }
    if (claims === null || typeof claims !== "object" || Array.isArray(claims)) {
      showError("build-error", "the claims must be a JSON object");
      return;
    }
    try {
      $("built-token").value = await J.sign(claims, $("build-key").value, $("build-alg").value,
        $("build-typ").value.trim());
    } catch (e) {
      $("built-token").value = "";
      showError("build-error", (e.code ? e.code + ": " : "") + e.message);
    }
  }

  function useBuilt() {
    if (!$("built-token").value) return;
    $("token").value = $("built-token").value;
    const pub = $("build-public").value;
    $("verify-key").value = pub.charAt(0) === "{" ? pub : $("build-key").value;
    decodeNow();
    verifyNow();
  }

  function init() {
    for (const alg of J.ALGORITHMS) {
      const option = document.createElement("option");
      option.value = option.textContent = alg;
      $("build-alg").appendChild(option);
    }
    $("build-alg").value = "EdDSA";
    $("build-claims").value = JSON.stringify(defaultClaims(), null, 2);
    $("token").addEventListener("input", decodeNow);
    $("verify").addEventListener("click", verifyNow);
    $("use-server-jwks").addEventListener("click", useServerJWKS);
    $("generate-key").addEventListener("click", generateKey);
    $("build-times").addEventListener("click", setTimes);
    $("sign").addEventListener("click", signNow);
    $("use-built").addEventListener("click", useBuilt);
    document.body.dataset.ready = "true";
  }

  init();
})();

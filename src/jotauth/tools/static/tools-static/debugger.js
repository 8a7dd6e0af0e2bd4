/* The debugger page: wires the encoded, decoded, verify and build panels to JotauthJWT.
 * The DOM is only ever filled with textContent, never innerHTML: a token is untrusted input.
 *
 * Three rules keep what the page shows true:
 * - every result belongs to the token on screen: changing the token, the key or the expected
 *   values clears the verify result at once, and verification runs again after a short pause;
 * - building (a new key, a new signed token) clears it too, so a green result never sits next
 *   to a token it was not about;
 * - an edit of the decoded header or payload that is not a JSON object changes nothing: the
 *   token stays as it was and the editor says why.
 */
"use strict";

(function () {
  const J = window.JotauthJWT;
  const $ = function (id) { return document.getElementById(id); };
  const VERIFY_DELAY_MS = 350;   // verification as you type: after this pause in typing
  const ERROR_DELAY_MS = 400;    // half-typed JSON is invalid at most keystrokes: wait to say so
  const LEGENDS = {
    jws: [["header", "Header"], ["payload", "Payload"], ["signature", "Signature"]],
    jwe: [["header", "Protected header"], ["encrypted-key", "Encrypted key"], ["iv", "IV"],
      ["ciphertext", "Ciphertext"], ["tag", "Tag"]],
  };
  const EMPTY_NOTE = "Paste a token on the left, or build one below: its header and payload appear " +
    "here, ready to edit.";
  const state = {
    verifySeq: 0,      // bumped by every change: a verification finishing later is dropped
    verifyTimer: 0,
    editSeq: 0,        // likewise for a re-sign that finishes after the next edit
    errorTimer: 0,
    input: "",         // header.payload of the token on screen, as encoded
    signature: "",
    decryptSeq: 0,     // bumped by every change of the token or the decryption key
    decryptTimer: 0,
    inner: "",         // the JWS a decrypted token holds, for "Decode and verify the inner token"
  };

  function now() { return Date.now() / 1000; }

  function span(className, text) {
    const el = document.createElement("span");
    if (className) el.className = className;
    el.textContent = text;
    return el;
  }

  /* ---- Highlighted editors: a transparent textarea over a <pre> painted in colour. ---- */

  /** Size a textarea to its content, so that it never scrolls away from its painted layer. */
  function grow(textarea) {
    if (!textarea.getClientRects().length) return;  // hidden: measured again when shown
    const scroll = window.scrollY;
    textarea.style.height = "auto";
    textarea.style.height = (textarea.scrollHeight + textarea.offsetHeight - textarea.clientHeight) + "px";
    window.scrollTo(window.scrollX, scroll);
  }

  /** JSON text (valid or half typed) as spans classed key, string, number and literal. */
  function paintJSON(target, text) {
    const pattern = /("(?:\\.|[^"\\])*")(\s*:)?|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\btrue\b|\bfalse\b|\bnull\b/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) target.appendChild(document.createTextNode(text.slice(last, match.index)));
      const className = match[1] ? (match[2] ? "j-key" : "j-str") : /^[-\d]/.test(match[0]) ? "j-num" : "j-lit";
      target.appendChild(span(className, match[1] ? match[1] : match[0]));
      if (match[2]) target.appendChild(document.createTextNode(match[2]));
      last = match.index + match[0].length;
    }
    target.appendChild(document.createTextNode(text.slice(last)));
  }

  /** A token as spans, one per segment, classed by what the segment is. */
  function paintToken(target, text) {
    const cut = J.segments(text);
    for (const piece of cut.pieces) {
      const el = span(piece.part ? "seg-" + piece.part : "", piece.text);
      if (piece.part && piece.part !== "dot") el.dataset.part = piece.part;
      target.appendChild(el);
    }
    return cut.kind;
  }

  /** Repaint a textarea's layer from its value; returns the token kind for token fields. */
  function repaint(textarea) {
    const layer = textarea.previousElementSibling;
    const text = textarea.value;
    layer.textContent = "";
    const kind = layer.classList.contains("json") ? (paintJSON(layer, text), null) : paintToken(layer, text);
    // A trailing line break only takes up a line in the <pre> when something follows it.
    if (text.slice(-1) === "\n") layer.appendChild(document.createTextNode(" "));
    grow(textarea);
    return kind;
  }

  function setEditor(textarea, text) {
    textarea.value = text;
    return repaint(textarea);
  }

  function showLegend(kind) {
    const legend = $("token-legend");
    legend.textContent = "";
    legend.hidden = !LEGENDS[kind];
    if (!LEGENDS[kind]) return;
    legend.appendChild(document.createTextNode(kind === "jwe" ? "Encrypted token (JWE):" : "Segments:"));
    for (const entry of LEGENDS[kind]) legend.appendChild(span("seg-" + entry[0], entry[1]));
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

  function setStatus(id, status, message) {
    const el = $(id);
    el.dataset.status = status;
    el.textContent = message;
    el.hidden = !message;
  }

  /* ---- Decoding: the token on the left, its parts on the right. ---- */

  /** Show the decoded parts, or in their place why there are none. */
  function showDecoded(visible, why) {
    $("decoded").hidden = !visible;
    $("decoded-empty").hidden = visible;
    $("decoded-empty").textContent = why || EMPTY_NOTE;
  }

  /** Times, expiry, hints and size: everything that follows from the token as it now is. */
  function renderFacts(decoded) {
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
    const hints = J.hints(decoded);
    list($("hints"), hints, "hint");
    $("hints-block").hidden = hints.length === 0;
    $("size").textContent = decoded.size + " bytes";
    state.input = decoded.parts[0] + "." + decoded.parts[1];
    state.signature = decoded.parts[2];
  }

  function clearEditErrors() {
    clearTimeout(state.errorTimer);
    for (const id of ["header", "claims"]) {
      showError(id + "-error", "");
      $(id + "-json").removeAttribute("aria-invalid");
    }
  }

  function onTokenInput() {
    state.editSeq++;  // a re-sign still under way was for the previous token
    showLegend(repaint($("token")));
    decodeNow();
  }

  /* ---- Encrypted tokens (JWE): the protected header and parts, and decryption. ---- */

  const PART_NAMES = ["Protected header", "Encrypted key", "IV", "Ciphertext", "Tag"];

  function paintPre(target, value) {
    target.textContent = "";
    paintJSON(target, JSON.stringify(value, null, 2));
  }

  function clearDecrypt() {
    state.decryptSeq++;
    clearTimeout(state.decryptTimer);
    state.inner = "";
    setStatus("decrypt-result", "none", "");
    $("jwe-inner").hidden = true;
    $("open-inner").hidden = true;
  }

  /** Show a JWE: nothing of it is decoded as a JWS, and the verify panel waits for the inner
   * token. Returns false when the text is no readable JWE (the error says why). */
  function showJWE(text) {
    let jwe;
    try {
      jwe = J.decodeJWE(text);
    } catch (e) {
      $("jwe").hidden = true;
      $("decrypt-form").hidden = true;
      showDecoded(false, "Nothing to decode: see the message under the token.");
      showError("decode-error", "An encrypted JWE that cannot be read: " + e.message);
      return;
    }
    showError("decode-error", "");
    $("decoded").hidden = true;
    $("decoded-empty").hidden = true;
    $("jwe").hidden = false;
    $("decrypt-form").hidden = false;
    paintPre($("jwe-header"), jwe.header);
    list($("jwe-parts"), jwe.parts.map(function (part, i) {
      return PART_NAMES[i] + ": " + (part.length ? part.length + " characters" : "empty");
    }).concat([jwe.size + " bytes in all"]), "part");
    scheduleDecrypt();
  }

  function scheduleDecrypt() {
    clearDecrypt();
    if (!$("decrypt-key").value.trim()) return;
    state.decryptTimer = setTimeout(decryptNow, VERIFY_DELAY_MS);
  }

  async function decryptNow() {
    clearTimeout(state.decryptTimer);
    const seq = ++state.decryptSeq;
    setStatus("decrypt-result", "pending", "Decrypting...");
    let result;
    try {
      result = await J.decrypt($("token").value, $("decrypt-key").value);
    } catch (e) {
      if (seq === state.decryptSeq) {
        setStatus("decrypt-result", "invalid", "Not decrypted: " + (e.code || "error") + ": " + e.message);
        $("jwe-inner").hidden = true;
      }
      return;
    }
    if (seq !== state.decryptSeq) return;
    let inner = null;
    if (result.text !== null && result.text.split(".").length === 3) {
      try { inner = J.decode(result.text); } catch (e) { inner = null; }
    }
    const how = result.alg + ", " + result.enc + (result.kid ? ", key " + result.kid : "");
    $("jwe-inner").hidden = false;
    $("jwe-inner-header").hidden = !inner;
    if (inner) {
      state.inner = result.text;
      $("jwe-inner-title").textContent = "Inner token (JWS): header and claims, NOT verified";
      paintPre($("jwe-inner-header"), inner.header);
      if (inner.claims) paintPre($("jwe-inner-claims"), inner.claims);
      else $("jwe-inner-claims").textContent = inner.payloadText;
      $("open-inner").hidden = false;
      setStatus("decrypt-result", "valid", "Decrypted (" + how + "). It holds a JWS signed with " +
        String(inner.header.alg).slice(0, 20) + ": not verified yet; decode and verify it with the issuer's key.");
    } else {
      $("jwe-inner-title").textContent = "Decrypted content";
      $("jwe-inner-claims").textContent = result.text !== null ? result.text : "(" + result.plaintext.length + " bytes, not UTF-8)";
      setStatus("decrypt-result", "valid", "Decrypted (" + how + ").");
    }
  }

  function openInner() {
    if (!state.inner) return;
    setEditor($("token"), state.inner);
    onTokenInput();
    $("token").focus();
  }

  function decodeNow() {
    const text = $("token").value;
    clearVerify();
    clearEditErrors();
    clearDecrypt();
    setStatus("edit-note", "none", "");
    const encrypted = J.segments(text).kind === "jwe";
    if (!encrypted) {
      $("jwe").hidden = true;
      $("decrypt-form").hidden = true;
    }
    if (!text.trim()) {
      showDecoded(false);
      showError("decode-error", "");
      return;
    }
    if (encrypted) {
      showJWE(text);
      return;
    }
    let decoded;
    try {
      decoded = J.decode(text);
    } catch (e) {
      showDecoded(false, "Nothing to decode: see the message under the token.");
      showError("decode-error", e.message);
      return;
    }
    showError("decode-error", "");
    showDecoded(true);
    setEditor($("header-json"), JSON.stringify(decoded.header, null, 2));
    setEditor($("claims-json"), decoded.claims ? JSON.stringify(decoded.claims, null, 2) : decoded.payloadText);
    showError("claims-error", decoded.claims ? "" : decoded.claimsError + " (a JWS, but not a JWT)");
    renderFacts(decoded);
    scheduleVerify();
  }

  /* ---- Editing the decoded parts: re-encode, and re-sign with the builder's key. ---- */

  function parseEditor(id, what) {
    let value;
    try {
      value = JSON.parse($(id).value);
    } catch (e) {
      return { error: what + " is not valid JSON (" + e.message + "); the token is unchanged" };
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { error: what + " must be a JSON object; the token is unchanged" };
    }
    return { value: value };
  }

  function onEditorInput(event) {
    repaint(event.target);
    reencode();
  }

  function reencode() {
    const seq = ++state.editSeq;
    const header = parseEditor("header-json", "The header");
    const claims = parseEditor("claims-json", "The payload");
    clearEditErrors();
    if (header.error || claims.error) {
      setStatus("edit-note", "none", "");
      state.errorTimer = setTimeout(function () {
        for (const [id, parsed] of [["header", header], ["claims", claims]]) {
          showError(id + "-error", parsed.error);
          if (parsed.error) $(id + "-json").setAttribute("aria-invalid", "true");
        }
      }, ERROR_DELAY_MS);
      return;
    }
    const input = J.b64urlEncode(JSON.stringify(header.value)) + "." + J.b64urlEncode(JSON.stringify(claims.value));
    if (input === state.input) return;  // only the layout of the JSON changed
    const unsigned = input + "." + state.signature;
    if (!$("build-key").value.trim()) {
      applyEdit(unsigned, "stale", "Re-encoded. The signature is still the old one, so it no longer " +
        "matches: generate or paste a key in the builder below to re-sign as you edit.");
      return;
    }
    J.resign(header.value, claims.value, $("build-key").value).then(function (result) {
      if (seq !== state.editSeq) return;
      applyEdit(result.token, "valid", "Re-encoded and re-signed with the builder's key (kid " + result.kid + ").");
    }, function (e) {
      if (seq !== state.editSeq) return;
      applyEdit(unsigned, "stale", "Re-encoded, but not re-signed with the builder's key: " +
        (e.code ? e.code + ": " : "") + e.message + ". The old signature no longer matches.");
    });
  }

  function applyEdit(token, status, note) {
    setEditor($("token"), token);
    showLegend("jws");
    showError("decode-error", "");
    clearVerify();
    renderFacts(J.decode(token));
    setStatus("edit-note", status, note);
    scheduleVerify();
  }

  /* ---- Verifying, as you type. ---- */

  function setVerify(status, message) {
    const el = $("verify-result");
    el.dataset.status = status;
    el.textContent = message;
    $("unverified").hidden = status === "valid";
  }

  /** Drop the result (and any verification still running): it was about something else. */
  function clearVerify() {
    state.verifySeq++;
    clearTimeout(state.verifyTimer);
    setVerify("none", "");
  }

  function scheduleVerify() {
    clearTimeout(state.verifyTimer);
    if (!$("token").value.trim() || !$("verify-key").value.trim()) return;
    if (J.segments($("token").value).kind === "jwe") return;  // the inner token is verified
    state.verifyTimer = setTimeout(verifyNow, VERIFY_DELAY_MS);
  }

  function onVerifyInput() {
    clearVerify();
    scheduleVerify();
  }

  async function verifyNow() {
    clearTimeout(state.verifyTimer);
    const seq = ++state.verifySeq;
    if (J.segments($("token").value).kind === "jwe") {
      setVerify("invalid", "The token is encrypted: decrypt it above, then decode and verify the inner token.");
      return;
    }
    setVerify("pending", "Verifying...");
    let message;
    let status;
    try {
      const expected = { issuer: $("verify-iss").value.trim(), audience: $("verify-aud").value.trim() };
      const result = await J.verify($("token").value, $("verify-key").value, now(), expected);
      status = "valid";
      message = "Signature verified (" + result.alg + (result.kid ? ", kid " + result.kid : "") +
        ") and the token is within its validity times" +
        (result.claims.iss !== undefined ? "; issuer " + result.claims.iss : "") + ".";
    } catch (e) {
      status = "invalid";
      message = "Invalid: " + (e.code || "error") + ": " + e.message;
    }
    if (seq === state.verifySeq) setVerify(status, message);
  }

  async function useServerJWKS() {
    setStatus("key-note", "pending", "Fetching this server's /.well-known/jwks.json...");
    try {
      const response = await fetch(new URL("/.well-known/jwks.json", window.location.href), {
        credentials: "omit",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const jwks = await response.json();
      $("verify-key").value = JSON.stringify(jwks, null, 2);
      const count = (jwks.keys || []).length;
      setStatus("key-note", "none", "Loaded " + count + (count === 1 ? " key" : " keys") + " from this server.");
    } catch (e) {
      setStatus("key-note", "invalid", "Could not load this server's JWKS: " + e.message +
        (window.location.protocol === "file:" ? " (opened as a file: paste the JWKS instead)" : ""));
      return;
    }
    clearVerify();
    if ($("token").value.trim()) await verifyNow();
  }

  /* ---- Building. ---- */

  function defaultClaims() {
    const t = Math.floor(now());
    return { sub: "42", name: "John Doe", iat: t, exp: t + 900 };
  }

  async function generateKey() {
    clearVerify();
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

  function builderClaims() {
    let claims;
    try {
      claims = JSON.parse($("build-claims").value || "{}");
    } catch (e) {
      showError("build-error", "the claims are not valid JSON (" + e.message + ")");
      return null;
    }
    if (claims === null || typeof claims !== "object" || Array.isArray(claims)) {
      showError("build-error", "the claims must be a JSON object");
      return null;
    }
    return claims;
  }

  function setTimes() {
    showError("build-error", "");
    const claims = builderClaims();
    if (!claims) return;
    const t = Math.floor(now());
    claims.iat = t;
    claims.exp = t + 900;
    setEditor($("build-claims"), JSON.stringify(claims, null, 2));
  }

  async function signNow() {
    clearVerify();
    showError("build-error", "");
    const claims = builderClaims();
    if (!claims) return;
    try {
      setEditor($("built-token"), await J.sign(claims, $("build-key").value, $("build-alg").value,
        $("build-typ").value.trim()));
    } catch (e) {
      setEditor($("built-token"), "");
      showError("build-error", (e.code ? e.code + ": " : "") + e.message);
    }
  }

  function useBuilt() {
    if (!$("built-token").value) return;
    $("token").value = $("built-token").value;
    const pub = $("build-public").value;
    $("verify-key").value = pub.charAt(0) === "{" ? pub : $("build-key").value;
    setStatus("key-note", "none", "");
    onTokenInput();
    verifyNow();
  }

  function submitted(handler) {
    return function (event) {
      event.preventDefault();
      handler();
    };
  }

  function init() {
    for (const alg of J.ALGORITHMS) {
      const option = document.createElement("option");
      option.value = option.textContent = alg;
      $("build-alg").appendChild(option);
    }
    $("build-alg").value = "EdDSA";
    setEditor($("build-claims"), JSON.stringify(defaultClaims(), null, 2));
    setEditor($("built-token"), "");
    repaint($("token"));
    $("token").addEventListener("input", onTokenInput);
    $("header-json").addEventListener("input", onEditorInput);
    $("claims-json").addEventListener("input", onEditorInput);
    $("build-claims").addEventListener("input", function () { repaint($("build-claims")); });
    $("verify-key").addEventListener("input", function () {
      setStatus("key-note", "none", "");
      onVerifyInput();
    });
    $("verify-iss").addEventListener("input", onVerifyInput);
    $("verify-aud").addEventListener("input", onVerifyInput);
    $("verify-form").addEventListener("submit", submitted(verifyNow));
    $("use-server-jwks").addEventListener("click", useServerJWKS);
    $("generate-key").addEventListener("click", generateKey);
    $("build-times").addEventListener("click", setTimes);
    $("build-form").addEventListener("submit", submitted(signNow));
    $("use-built").addEventListener("click", useBuilt);
    $("decrypt-key").addEventListener("input", scheduleDecrypt);
    $("decrypt-form").addEventListener("submit", submitted(decryptNow));
    $("open-inner").addEventListener("click", openInner);
    window.addEventListener("resize", function () {
      for (const textarea of document.querySelectorAll(".paint > textarea")) grow(textarea);
    });
    document.body.dataset.ready = "true";
  }

  init();
})();

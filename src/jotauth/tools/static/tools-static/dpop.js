/* DPoP (RFC 9449) in the browser: a non-extractable ES256 key kept in IndexedDB, and a proof
 * per request signed with it. The private key is made with extractable=false, so no script
 * (this page's included, or one injected by an XSS) can read it out: it can only ask the
 * browser to sign while the page is open. A token stolen from this page is useless elsewhere.
 */
"use strict";

(function (global) {
  const J = global.JotauthJWT;
  const enc = new TextEncoder();
  const DB = "jotauth-demo";
  const STORE = "keys";
  const NAME = "dpop-es256";

  function request(operation) {
    return new Promise(function (resolve, reject) {
      operation.onsuccess = function () { resolve(operation.result); };
      operation.onerror = function () { reject(operation.error); };
    });
  }

  async function database() {
    const opening = indexedDB.open(DB, 1);
    opening.onupgradeneeded = function () { opening.result.createObjectStore(STORE); };
    return request(opening);
  }

  /** The page's key pair: the one in IndexedDB, or a new one stored there. */
  async function loadKey() {
    const db = await database();
    try {
      const kept = await request(db.transaction(STORE).objectStore(STORE).get(NAME));
      if (kept) return kept;
      const pair = await crypto.subtle.generateKey(
        { name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
      await request(db.transaction(STORE, "readwrite").objectStore(STORE).put(pair, NAME));
      return pair;
    } finally {
      db.close();
    }
  }

  async function publicJwk(pair) {
    const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);  // a public key always exports
    return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  }

  /** RFC 7638 thumbprint of the key: what the server puts in cnf.jkt. */
  async function jkt(pair) {
    return J.thumbprint(await publicJwk(pair));
  }

  function randomId() {
    return J.b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
  }

  /** A proof for one request: method, absolute URL (no query), the token's hash, the nonce. */
  async function proof(pair, method, url, options) {
    const opts = options || {};
    const header = { typ: "dpop+jwt", alg: "ES256", jwk: await publicJwk(pair) };
    const claims = { jti: randomId(), htm: method, htu: url.split(/[?#]/)[0],
      iat: Math.floor(Date.now() / 1000) };
    if (opts.accessToken) {
      claims.ath = J.b64urlEncode(await crypto.subtle.digest("SHA-256", enc.encode(opts.accessToken)));
    }
    if (opts.nonce) claims.nonce = opts.nonce;
    const input = J.b64urlEncode(JSON.stringify(header)) + "." + J.b64urlEncode(JSON.stringify(claims));
    // WebCrypto's ECDSA signature is r||s, exactly the JWS form (RFC 7518 3.4).
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey,
      enc.encode(input));
    return input + "." + J.b64urlEncode(signature);
  }

  /** Whether the private key can be read out (it must not: the test of this page checks). */
  async function privateKeyExportable() {
    const pair = await loadKey();
    try {
      await crypto.subtle.exportKey("jwk", pair.privateKey);
      return true;
    } catch (e) {
      return false;
    }
  }

  global.JotauthDPoP = { loadKey: loadKey, jkt: jkt, proof: proof, privateKeyExportable: privateKeyExportable };
})(window);

/* jotauth token tools: JWT decoding, verification and signing, and JWE decryption, in the browser with WebCrypto.
 *
 * Nothing here sends a token or a key anywhere: every operation is local. The rules follow the
 * jotauth core: the key decides the algorithm, "none" is never accepted, an HMAC secret is never
 * taken from a public key, keys never come from the token (jku/x5u/jwk are ignored), and tokens
 * over 8 KiB are refused before decoding.
 */
"use strict";

(function (global) {
  const MAX_SIZE = 8192;
  const HASHES = { "256": "SHA-256", "384": "SHA-384", "512": "SHA-512" };
  const CURVES = { ES256: "P-256", ES384: "P-384", ES512: "P-521" };
  const ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
    "PS512", "ES256", "ES384", "ES512", "EdDSA"];
  const enc = new TextEncoder();
  const dec = new TextDecoder("utf-8", { fatal: true });

  class JoseError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  function b64urlDecode(text, what) {
    if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      throw new JoseError("malformed_token", what + " is not base64url");
    }
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(padded);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function b64urlEncode(bytes) {
    if (typeof bytes === "string") bytes = enc.encode(bytes);
    bytes = new Uint8Array(bytes);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function parseObject(bytes, what) {
    let value;
    try {
      value = JSON.parse(dec.decode(bytes));
    } catch (e) {
      throw new JoseError("malformed_token", what + " is not JSON");
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new JoseError("malformed_token", what + " is not a JSON object");
    }
    return value;
  }

  const BEARER = /^\s*bearer\s+/i;
  const JWS_PARTS = ["header", "payload", "signature"];
  const JWE_PARTS = ["header", "encrypted-key", "iv", "ciphertext", "tag"];

  /** A JWS never contains whitespace: drop a "Bearer " prefix and line breaks from pasting. */
  function clean(token) {
    return token.replace(BEARER, "").replace(/\s+/g, "");
  }

  /** The pasted text cut into pieces for colouring: [{text, part}], where part names the
   * segment ("header", "payload", "signature"; for a five-part JWE "header", "encrypted-key",
   * "iv", "ciphertext", "tag"), "dot", or null for a Bearer prefix and text that is no segment.
   * Concatenating the pieces' text gives the input back unchanged, whitespace included. */
  function segments(text) {
    const out = [];
    const prefix = BEARER.exec(text);
    const start = prefix ? prefix[0].length : 0;
    if (start) out.push({ text: text.slice(0, start), part: null });
    const pieces = text.slice(start).split(".");
    const names = pieces.length === 3 ? JWS_PARTS : pieces.length === 5 ? JWE_PARTS : null;
    pieces.forEach(function (piece, index) {
      if (index) out.push({ text: ".", part: "dot" });
      if (piece) out.push({ text: piece, part: names ? names[index] : null });
    });
    return { kind: names === JWS_PARTS ? "jws" : names === JWE_PARTS ? "jwe" : null, pieces: out };
  }

  /** What a five-part token's protected header says, for the message (it stays encrypted). */
  function describeJWE(part) {
    try {
      const header = parseObject(b64urlDecode(part, "the header"), "the header");
      const words = ["alg", "enc"].filter(function (name) { return typeof header[name] === "string"; })
        .map(function (name) { return name + " " + header[name].slice(0, 40); });
      return words.length ? " (" + words.join(", ") + ")" : "";
    } catch (e) {
      return "";
    }
  }

  /** Split and decode a compact JWS without verifying anything. */
  function decode(token) {
    token = clean(token);
    if (!token) throw new JoseError("malformed_token", "paste a token");
    const parts = token.split(".");
    if (parts.length === 5) {
      throw new JoseError("malformed_token", "five parts: an encrypted JWE" + describeJWE(parts[0]) +
        ", unreadable without its key");
    }
    if (parts.length !== 3) {
      throw new JoseError("malformed_token",
        "a JWS has 3 dot-separated parts (header.payload.signature); this has " + parts.length);
    }
    const header = parseObject(b64urlDecode(parts[0], "the header"), "the header");
    let claims = null;
    let claimsError = null;
    let payloadText = "";
    try {
      const payload = b64urlDecode(parts[1], "the payload");
      try {
        payloadText = dec.decode(payload);
      } catch (e) {
        payloadText = "";
      }
      claims = parseObject(payload, "the payload");
    } catch (e) {
      claimsError = e.message;
    }
    return {
      token: token,
      parts: parts,
      size: enc.encode(token).length,
      header: header,
      claims: claims,
      claimsError: claimsError,
      payloadText: payloadText,
      signingInput: enc.encode(parts[0] + "." + parts[1]),
      signature: b64urlDecode(parts[2], "the signature"),
    };
  }

  function relative(seconds) {
    const s = Math.abs(seconds);
    if (s < 90) return Math.round(s) + " s";
    if (s < 90 * 60) return Math.round(s / 60) + " min";
    if (s < 36 * 3600) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " days";
  }

  /** Phrases for the time claims: [{name, date, phrase, problem}]. */
  function times(claims, now) {
    const out = [];
    for (const name of ["exp", "nbf", "iat"]) {
      if (!claims || !(name in claims)) continue;
      const value = claims[name];
      if (typeof value !== "number" || !isFinite(value)) {
        out.push({ name: name, date: String(value), phrase: "not a number of seconds", problem: true });
        continue;
      }
      const delta = value - now;
      const when = delta >= 0 ? "in " + relative(delta) : relative(delta) + " ago";
      let phrase = when;
      let problem = false;
      if (name === "exp") {
        problem = delta <= 0;
        phrase = problem ? "expired " + when : "expires " + when;
      } else if (name === "nbf") {
        problem = delta > 0;
        phrase = problem ? "not valid yet, starts " + when : "valid since " + when;
      } else {
        problem = delta > 60;
        phrase = "issued " + when;
      }
      let date;
      try {
        date = new Date(value * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
      } catch (e) {
        date = String(value);
      }
      out.push({ name: name, date: date, phrase: phrase, problem: problem });
    }
    return out;
  }

  const SENSITIVE = /pass(word|wd)?|secret|private|credit.?card|card.?number|cvv|ssn|api.?key|salary|iban/i;

  /** Hints about a decoded token, as the CLI gives them. */
  function hints(decoded) {
    const out = [];
    const alg = decoded.header.alg;
    if (typeof alg !== "string" || alg.toLowerCase() === "none") {
      out.push('alg is "none" (or missing): the token is unsigned; never accept it');
    } else if (ALGORITHMS.indexOf(alg) < 0) {
      out.push("alg " + alg.slice(0, 20) + " is not supported");
    } else if (alg.indexOf("HS") === 0) {
      out.push("HMAC (shared secret): every verifier can also mint tokens");
    }
    if (!("kid" in decoded.header)) out.push("no kid in the header: verifiers cannot pick a key after a rotation");
    for (const name of ["jku", "x5u", "jwk", "x5c"]) {
      if (name in decoded.header) out.push('header "' + name + '" names a key source; it is never trusted');
    }
    if (decoded.size > MAX_SIZE) {
      out.push("the token is " + decoded.size + " bytes, over the 8192 byte (8 KiB) limit: verifiers reject it");
    }
    if (decoded.claimsError) out.push("the payload is not a JSON object: a JWS but not a JWT");
    if (decoded.claims) {
      if (!("exp" in decoded.claims)) out.push('no "exp" claim: this token never expires');
      const names = Object.keys(decoded.claims).filter(function (n) { return SENSITIVE.test(n); });
      if (names.length) {
        out.push("sensitive-looking claims (" + names.join(", ") + "): anyone holding the token can read them");
      }
    }
    return out;
  }

  function hashOf(alg) {
    return HASHES[alg.slice(-3)];
  }

  /** WebCrypto parameters for import and for sign/verify. */
  function params(alg, jwk) {
    if (alg.indexOf("HS") === 0) return [{ name: "HMAC", hash: hashOf(alg) }, { name: "HMAC" }];
    if (alg.indexOf("RS") === 0) {
      return [{ name: "RSASSA-PKCS1-v1_5", hash: hashOf(alg) }, { name: "RSASSA-PKCS1-v1_5" }];
    }
    if (alg.indexOf("PS") === 0) {
      const bytes = parseInt(alg.slice(-3), 10) / 8;
      return [{ name: "RSA-PSS", hash: hashOf(alg) }, { name: "RSA-PSS", saltLength: bytes }];
    }
    if (alg.indexOf("ES") === 0) {
      return [{ name: "ECDSA", namedCurve: CURVES[alg] }, { name: "ECDSA", hash: hashOf(alg) }];
    }
    if (alg === "EdDSA") {
      const crv = (jwk && jwk.crv) || "Ed25519";
      if (crv !== "Ed25519") throw new JoseError("unsupported_algorithm", crv + " is not available in browsers");
      return [{ name: "Ed25519" }, { name: "Ed25519" }];
    }
    throw new JoseError("unsupported_algorithm", "unsupported algorithm " + String(alg).slice(0, 20));
  }

  const KTY = { HS: "oct", RS: "RSA", PS: "RSA", ES: "EC", Ed: "OKP" };

  function checkFamily(alg, jwk) {
    const kty = KTY[alg.slice(0, 2)];
    if (jwk.kty !== kty) {
      throw new JoseError("algorithm_not_allowed",
        "the token is signed with " + alg + ", but the key is " + jwk.kty + (kty === "oct" ?
          " (a public key is never used as an HMAC secret)" : ""));
    }
    if (kty === "EC" && jwk.crv !== CURVES[alg]) {
      throw new JoseError("algorithm_not_allowed", alg + " needs curve " + CURVES[alg] + ", the key is " + jwk.crv);
    }
  }

  function unsupported(e, alg) {
    if (e instanceof JoseError) return e;
    if (alg === "EdDSA") return new JoseError("unsupported_algorithm", "this browser has no Ed25519 in WebCrypto");
    return new JoseError("invalid_key", "the key could not be imported: " + e.message);
  }

  async function importJWK(jwk, alg, usage) {
    const pub = {};
    for (const name of Object.keys(jwk)) {
      if (["alg", "use", "key_ops", "kid", "ext"].indexOf(name) < 0) pub[name] = jwk[name];
    }
    if (usage === "verify" && jwk.kty !== "oct") {
      for (const name of ["d", "p", "q", "dp", "dq", "qi", "oth"]) delete pub[name];
    }
    if (jwk.kty === "oct" && b64urlDecode(jwk.k || "", "the secret").length < parseInt(alg.slice(-3), 10) / 8) {
      throw new JoseError("invalid_key", "the HMAC secret is shorter than the hash; it is too weak");
    }
    try {
      return await crypto.subtle.importKey("jwk", pub, params(alg, jwk)[0], true, [usage]);
    } catch (e) {
      throw unsupported(e, alg);
    }
  }

  function pemBody(text) {
    const match = /-----BEGIN ([A-Z ]+)-----([\s\S]+?)-----END \1-----/.exec(text);
    if (!match) throw new JoseError("invalid_key", "not a PEM block");
    return { label: match[1], der: b64urlDecode(match[2].replace(/\s+/g, "").replace(/\+/g, "-")
      .replace(/\//g, "_").replace(/=+$/, ""), "the PEM body") };
  }

  /** Parse pasted key text into a list of JWKs (a JWK, a JWK Set, PEM or a raw secret). */
  async function parseKeys(text, alg) {
    text = text.trim();
    if (!text) throw new JoseError("invalid_key", "paste a key, a JWK Set or a secret");
    if (text[0] === "{") {
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new JoseError("invalid_key", "the key looks like JSON but does not parse");
      }
      if (Array.isArray(value.keys)) return value.keys.filter(function (k) { return k && k.use !== "enc"; });
      return [value];
    }
    if (text.indexOf("-----BEGIN") >= 0) {
      const pem = pemBody(text);
      const format = pem.label === "PUBLIC KEY" ? "spki" : pem.label === "PRIVATE KEY" ? "pkcs8" : null;
      if (!format) {
        throw new JoseError("invalid_key", pem.label + " is not supported here; use PKCS#8 or SPKI PEM");
      }
      if (!alg || alg.indexOf("HS") === 0) throw new JoseError("invalid_key", "a PEM key needs an asymmetric token alg");
      let key;
      try {
        key = await crypto.subtle.importKey(format, pem.der, params(alg)[0], true,
          [format === "spki" ? "verify" : "sign"]);
      } catch (e) {
        throw new JoseError("algorithm_not_allowed", "this PEM key cannot verify " + alg + " tokens");
      }
      return [await crypto.subtle.exportKey("jwk", key)];
    }
    return [{ kty: "oct", k: b64urlEncode(text) }];
  }

  function checkExpected(claims, expected) {
    if (expected.issuer) {
      if (claims.iss === undefined) throw new JoseError("missing_claim", 'required claim "iss" is missing');
      if (claims.iss !== expected.issuer) {
        throw new JoseError("invalid_claim", "issuer is " + JSON.stringify(String(claims.iss).slice(0, 80)) +
          "; expected " + JSON.stringify(expected.issuer));
      }
    }
    if (expected.audience) {
      const found = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : null;
      if (!found) throw new JoseError("missing_claim", 'required claim "aud" is missing');
      if (found.indexOf(expected.audience) < 0) {
        throw new JoseError("invalid_claim", "audience is " + found.map(function (a) {
          return JSON.stringify(String(a).slice(0, 80));
        }).join(", ") + "; expected " + JSON.stringify(expected.audience));
      }
    }
  }

  /** Verify a token with pasted key text; resolves to the claims or rejects with a JoseError.
   * ``expected`` may name an ``issuer`` and an ``audience`` to check after the signature. */
  async function verify(token, keyText, now, expected) {
    const decoded = decode(token);
    if (decoded.size > MAX_SIZE) throw new JoseError("token_too_large", "token is over the 8 KiB size limit");
    const alg = decoded.header.alg;
    if (typeof alg !== "string" || ALGORITHMS.indexOf(alg) < 0) {
      throw new JoseError("unsupported_algorithm", 'algorithm "' + String(alg).slice(0, 20) + '" is never accepted');
    }
    if (decoded.header.crit !== undefined) {
      throw new JoseError("unsupported_critical_header", "crit extensions are not understood");
    }
    const keys = await parseKeys(keyText, alg);
    const kid = decoded.header.kid;
    let jwk;
    if (keys.length === 1 && (kid === undefined || keys[0].kid === undefined || keys[0].kid === kid)) {
      jwk = keys[0];
    } else {
      const found = keys.filter(function (k) { return kid !== undefined ? k.kid === kid : k.alg === alg; });
      if (found.length !== 1) {
        throw new JoseError("no_matching_key", kid !== undefined
          ? "no key with kid " + JSON.stringify(String(kid).slice(0, 64)) + " (known: " +
            keys.map(function (k) { return k.kid; }).join(", ") + ")"
          : "the token has no kid and " + found.length + " keys fit " + alg);
      }
      jwk = found[0];
    }
    if (jwk.alg !== undefined && jwk.alg !== alg) {
      throw new JoseError("algorithm_not_allowed", "the token is signed with " + alg + ", but the key is for " + jwk.alg);
    }
    checkFamily(alg, jwk);
    const key = await importJWK(jwk, alg, "verify");
    let ok;
    try {
      ok = await crypto.subtle.verify(params(alg, jwk)[1], key, decoded.signature, decoded.signingInput);
    } catch (e) {
      ok = false;
    }
    if (!ok) throw new JoseError("bad_signature", "signature verification failed");
    if (!decoded.claims) throw new JoseError("malformed_token", "the payload is not a JSON object");
    for (const t of times(decoded.claims, now)) {
      if (t.problem && t.name !== "iat") {
        throw new JoseError(t.name === "exp" ? "expired_token" : "immature_token",
          "signature is good, but the token " + t.phrase + " (" + t.date + ")");
      }
    }
    checkExpected(decoded.claims, expected || {});
    return { claims: decoded.claims, kid: jwk.kid, alg: alg };
  }

  /** RFC 7638 thumbprint of a public JWK. */
  async function thumbprint(jwk) {
    const members = { oct: ["k", "kty"], RSA: ["e", "kty", "n"], EC: ["crv", "kty", "x", "y"], OKP: ["crv", "kty", "x"] }[jwk.kty];
    const required = {};
    for (const name of members) required[name] = jwk[name];
    return b64urlEncode(await crypto.subtle.digest("SHA-256", enc.encode(JSON.stringify(required))));
  }

  /** Generate a key for alg: {privateJwk, publicJwk} with kid and alg set. */
  async function generate(alg) {
    const gen = params(alg)[0];
    let pair;
    try {
      if (alg.indexOf("HS") === 0) {
        pair = { privateKey: await crypto.subtle.generateKey(gen, true, ["sign", "verify"]) };
      } else {
        const options = alg.indexOf("RS") === 0 || alg.indexOf("PS") === 0
          ? Object.assign({ modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, gen) : gen;
        pair = await crypto.subtle.generateKey(options, true, ["sign", "verify"]);
      }
    } catch (e) {
      throw unsupported(e, alg);
    }
    const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
    const publicJwk = pair.publicKey ? await crypto.subtle.exportKey("jwk", pair.publicKey) : null;
    for (const jwk of [privateJwk, publicJwk]) {
      if (!jwk) continue;
      delete jwk.key_ops;
      delete jwk.ext;
    }
    const kid = await thumbprint(publicJwk || privateJwk);
    Object.assign(privateJwk, { kid: kid, alg: alg, use: "sig" });
    if (publicJwk) Object.assign(publicJwk, { kid: kid, alg: alg, use: "sig" });
    return { privateJwk: privateJwk, publicJwk: publicJwk };
  }

  /** One private key from pasted text, checked against alg: {jwk, key, kid}. */
  async function signingKey(keyText, alg) {
    const keys = await parseKeys(keyText, alg);
    if (keys.length !== 1) throw new JoseError("invalid_key", "paste exactly one private key to sign");
    const jwk = keys[0];
    alg = alg || jwk.alg;
    if (!alg) throw new JoseError("invalid_key", "choose an algorithm");
    if (ALGORITHMS.indexOf(alg) < 0) {
      throw new JoseError("unsupported_algorithm", 'algorithm "' + String(alg).slice(0, 20) + '" cannot sign');
    }
    if (jwk.alg !== undefined && jwk.alg !== alg) {
      throw new JoseError("algorithm_not_allowed", "the key is for " + jwk.alg + ", not " + alg);
    }
    checkFamily(alg, jwk);
    if (jwk.kty !== "oct" && jwk.d === undefined) throw new JoseError("invalid_key", "this is a public key; signing needs the private key");
    const key = await importJWK(jwk, alg, "sign");
    const publicJwk = Object.assign({}, jwk);
    delete publicJwk.d;
    return { jwk: jwk, key: key, alg: alg, kid: jwk.kid || await thumbprint(publicJwk) };
  }

  async function signInput(signer, header, claims) {
    const input = b64urlEncode(JSON.stringify(header)) + "." + b64urlEncode(JSON.stringify(claims));
    const signature = await crypto.subtle.sign(params(signer.alg, signer.jwk)[1], signer.key, enc.encode(input));
    return input + "." + b64urlEncode(signature);
  }

  /** Sign claims with a private JWK (or PEM/secret text); header gets alg, kid and typ. */
  async function sign(claims, keyText, alg, typ) {
    const signer = await signingKey(keyText, alg);
    return signInput(signer, { alg: signer.alg, typ: typ || "JWT", kid: signer.kid }, claims);
  }

  /** Sign an edited header and claims as they are (the header is not rewritten), with the key
   * the header's alg names. A header whose kid names another key is refused: the token would
   * claim a key that did not sign it. */
  async function resign(header, claims, keyText) {
    if (typeof header.alg !== "string") throw new JoseError("unsupported_algorithm", "the header has no alg");
    const signer = await signingKey(keyText, header.alg);
    if (header.kid !== undefined && header.kid !== signer.kid) {
      throw new JoseError("no_matching_key", "the header's kid " + JSON.stringify(String(header.kid).slice(0, 64)) +
        " is not the builder key's kid " + JSON.stringify(signer.kid));
    }
    return { token: await signInput(signer, header, claims), kid: signer.kid };
  }


  /* ---- JWE: the protected header and parts, and decryption in WebCrypto. ---- */

  const JWE_NAMES = ["the protected header", "the encrypted key", "the IV", "the ciphertext", "the tag"];
  const CONTENT = {
    A128GCM: { gcm: true, bytes: 16 }, A192GCM: { gcm: true, bytes: 24 }, A256GCM: { gcm: true, bytes: 32 },
    "A128CBC-HS256": { bytes: 32, hash: "SHA-256" }, "A192CBC-HS384": { bytes: 48, hash: "SHA-384" },
    "A256CBC-HS512": { bytes: 64, hash: "SHA-512" },
  };
  const WRAP_BYTES = { A128KW: 16, A192KW: 24, A256KW: 32 };
  const NOT_HERE = {
    RSA1_5: "RSA1_5 is not in WebCrypto (and its padding is open to Bleichenbacher's attack); " +
      "decrypt it with `jotauth token decode --key FILE`",
  };
  const MIN_P2C = 1000;
  const MAX_P2C = 10000;

  function decryptionFailed() {
    return new JoseError("decryption_failed", "decryption failed");
  }

  function concat() {
    let length = 0;
    for (const part of arguments) length += part.length;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const part of arguments) { out.set(part, offset); offset += part.length; }
    return out;
  }

  function uint32(n) {
    return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  }

  function lengthPrefixed(bytes) { return concat(uint32(bytes.length), bytes); }

  /** A compact JWE taken apart without decrypting: its protected header and its parts. */
  function decodeJWE(token) {
    token = clean(token);
    const size = enc.encode(token).length;
    if (size > MAX_SIZE) {
      throw new JoseError("token_too_large", "the token is " + size + " bytes, over the " + MAX_SIZE + " byte limit");
    }
    const parts = token.split(".");
    if (parts.length !== 5) {
      throw new JoseError("malformed_token", "a JWE has 5 dot-separated parts; this has " + parts.length);
    }
    const bytes = parts.map(function (part, i) { return b64urlDecode(part, JWE_NAMES[i]); });
    const header = parseObject(bytes[0], "the protected header");
    return {
      token: token, parts: parts, size: size, header: header,
      encryptedKey: bytes[1], iv: bytes[2], ciphertext: bytes[3], tag: bytes[4],
    };
  }

  function isPrivate(jwk) {
    return jwk.kty === "oct" ? typeof jwk.k === "string" : typeof jwk.d === "string";
  }

  function fits(jwk, alg) {
    if (alg.indexOf("ECDH-ES") === 0) return jwk.kty === "EC" || jwk.kty === "OKP";
    if (alg.indexOf("RSA") === 0) return jwk.kty === "RSA";
    return jwk.kty === "oct";
  }

  /** The private JWK for this token: a single JWK (whatever its kid, as the CLI's --key), or
   * from a JWK Set the key with the token's kid (or, with no kid, the first that fits). */
  function decryptionKey(keyText, header) {
    const alg = header.alg;
    const text = keyText.trim();
    if (!text) throw new JoseError("no_matching_key", "paste the recipient's private key");
    if (text.charAt(0) !== "{") {
      if (alg.indexOf("PBES2") === 0) return { kty: "oct", k: b64urlEncode(text) };  // the password
      throw new JoseError("invalid_key", "paste a private JWK or a JWK Set (a PBES2 token takes its password)");
    }
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new JoseError("invalid_key", "the key is not valid JSON");
    }
    if (value === null || typeof value !== "object") throw new JoseError("invalid_key", "the key is not a JWK");
    let jwk = value;
    if (Array.isArray(value.keys)) {
      const candidates = value.keys.filter(function (k) { return k && typeof k === "object" && k.use !== "sig"; });
      jwk = typeof header.kid === "string"
        ? candidates.filter(function (k) { return k.kid === header.kid; })[0]
        : candidates.filter(function (k) { return (k.alg === undefined || k.alg === alg) && fits(k, alg); })[0];
      if (!jwk) {
        throw new JoseError("no_matching_key", typeof header.kid === "string"
          ? "no key with kid " + JSON.stringify(header.kid.slice(0, 64)) + " in the pasted set"
          : "no key in the pasted set fits " + alg);
      }
    }
    if (jwk.use === "sig") throw new JoseError("invalid_key", "this is a signature key (use sig); decrypting needs a use:enc key");
    if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === "dir" && jwk.alg === header.enc)) {
      throw new JoseError("algorithm_not_allowed", "the token is encrypted with " + alg + ", but the key is for " + String(jwk.alg).slice(0, 40));
    }
    if (!fits(jwk, alg)) throw new JoseError("invalid_key", "a " + jwk.kty + " key cannot be used for " + alg);
    if (!isPrivate(jwk)) throw new JoseError("invalid_key", "this is a public key; decrypting needs the private key");
    return jwk;
  }

  async function unwrapAESKW(kekBytes, wrapped) {
    const kek = await crypto.subtle.importKey("raw", kekBytes, "AES-KW", false, ["unwrapKey"]);
    const bits = (wrapped.length - 8) * 8;
    if (bits <= 0) throw decryptionFailed();
    const key = await crypto.subtle.unwrapKey("raw", wrapped, kek, "AES-KW",
      { name: "HMAC", hash: "SHA-256", length: bits }, true, ["sign"]);
    return new Uint8Array(await crypto.subtle.exportKey("raw", key));
  }

  /** RFC 7518 4.6.2: the Concat KDF over the ECDH shared secret, with SHA-256. */
  async function concatKDF(z, algorithmId, header, bytes) {
    const part = function (name) {
      return typeof header[name] === "string" ? b64urlDecode(header[name], "the header's " + name) : new Uint8Array(0);
    };
    const other = concat(lengthPrefixed(enc.encode(algorithmId)), lengthPrefixed(part("apu")),
      lengthPrefixed(part("apv")), uint32(bytes * 8));
    let out = new Uint8Array(0);
    for (let round = 1; out.length < bytes; round++) {
      out = concat(out, new Uint8Array(await crypto.subtle.digest("SHA-256", concat(uint32(round), z, other))));
    }
    return out.slice(0, bytes);
  }

  async function ecdhSecret(jwk, epk) {
    if (!epk || typeof epk !== "object" || epk.kty !== jwk.kty || epk.crv !== jwk.crv) {
      throw new JoseError("malformed_token", "the header's epk is not a " + jwk.crv + " public key");
    }
    const curve = jwk.kty === "EC" ? { name: "ECDH", namedCurve: jwk.crv } : { name: jwk.crv };
    if (jwk.kty === "OKP" && jwk.crv !== "X25519") {
      throw new JoseError("unsupported_algorithm", jwk.crv + " is not in WebCrypto: use `jotauth token decode --key FILE`");
    }
    const strip = function (k, secret) {
      const out = { kty: k.kty, crv: k.crv, x: k.x };
      if (k.kty === "EC") out.y = k.y;
      if (secret) out.d = k.d;
      return out;
    };
    let mine, theirs;
    try {
      mine = await crypto.subtle.importKey("jwk", strip(jwk, true), curve, false, ["deriveBits"]);
    } catch (e) {
      throw new JoseError("unsupported_algorithm", "this browser cannot use a " + jwk.crv + " key for ECDH (" + e.name + ")");
    }
    try {
      theirs = await crypto.subtle.importKey("jwk", strip(epk, false), curve, false, []);
    } catch (e) {
      throw new JoseError("malformed_token", "the header's epk is not a point on " + jwk.crv);
    }
    const bits = { "P-256": 256, "P-384": 384, "P-521": 528, X25519: 256 }[jwk.crv];
    return new Uint8Array(await crypto.subtle.deriveBits(Object.assign({ public: theirs }, curve), mine, bits));
  }

  /** The content encryption key, by the token's key-management algorithm. */
  async function contentKey(jwe, jwk, content) {
    const header = jwe.header;
    const alg = header.alg;
    const wrapped = jwe.encryptedKey;
    if (alg === "dir") {
      if (wrapped.length) throw new JoseError("malformed_token", "dir tokens have an empty encrypted key");
      return b64urlDecode(jwk.k, "the key");
    }
    if (WRAP_BYTES[alg]) return unwrapAESKW(b64urlDecode(jwk.k, "the key"), wrapped);
    const gcmkw = /^A(128|192|256)GCMKW$/.exec(alg);
    if (gcmkw) {
      const kek = await crypto.subtle.importKey("raw", b64urlDecode(jwk.k, "the key"), "AES-GCM", false, ["decrypt"]);
      const iv = b64urlDecode(String(header.iv || ""), "the header's iv");
      const tag = b64urlDecode(String(header.tag || ""), "the header's tag");
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: iv, tagLength: 128 }, kek, concat(wrapped, tag)));
    }
    if (alg === "RSA-OAEP" || alg === "RSA-OAEP-256") {
      const params = { name: "RSA-OAEP", hash: alg === "RSA-OAEP" ? "SHA-1" : "SHA-256" };
      const clean = { kty: "RSA", n: jwk.n, e: jwk.e, d: jwk.d, p: jwk.p, q: jwk.q, dp: jwk.dp, dq: jwk.dq, qi: jwk.qi };
      const key = await crypto.subtle.importKey("jwk", clean, params, false, ["decrypt"]);
      return new Uint8Array(await crypto.subtle.decrypt(params, key, wrapped));
    }
    if (alg === "ECDH-ES" || /^ECDH-ES\+A(128|192|256)KW$/.test(alg)) {
      const z = await ecdhSecret(jwk, header.epk);
      if (alg === "ECDH-ES") {
        if (wrapped.length) throw new JoseError("malformed_token", "ECDH-ES tokens have an empty encrypted key");
        return concatKDF(z, header.enc, header, content.bytes);
      }
      const kw = alg.slice(8);
      return unwrapAESKW(await concatKDF(z, alg, header, WRAP_BYTES[kw]), wrapped);
    }
    const pbes2 = /^PBES2-HS(256|384|512)\+A(128|192|256)KW$/.exec(alg);
    if (pbes2) {
      const p2c = header.p2c;
      if (typeof p2c !== "number" || p2c < MIN_P2C || p2c > MAX_P2C || p2c % 1) {
        throw new JoseError("malformed_token", "p2c must be an iteration count from " + MIN_P2C + " to " + MAX_P2C);
      }
      const salt = concat(enc.encode(alg), new Uint8Array([0]), b64urlDecode(String(header.p2s || ""), "the header's p2s"));
      const password = await crypto.subtle.importKey("raw", b64urlDecode(jwk.k, "the password"), "PBKDF2", false, ["deriveBits"]);
      const kek = await crypto.subtle.deriveBits({ name: "PBKDF2", salt: salt, iterations: p2c, hash: "SHA-" + pbes2[1] },
        password, Number(pbes2[2]));
      return unwrapAESKW(new Uint8Array(kek), wrapped);
    }
    throw new JoseError("unsupported_algorithm", "unknown JWE algorithm " + JSON.stringify(String(alg).slice(0, 40)));
  }

  async function decryptContent(jwe, cek, content) {
    if (cek.length !== content.bytes) throw decryptionFailed();
    const aad = enc.encode(jwe.parts[0]);
    if (content.gcm) {
      const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: jwe.iv, additionalData: aad, tagLength: 128 },
        key, concat(jwe.ciphertext, jwe.tag)));
    }
    const half = content.bytes / 2;
    const macKey = await crypto.subtle.importKey("raw", cek.slice(0, half), { name: "HMAC", hash: content.hash }, false, ["sign"]);
    const bits = aad.length * 8;
    const al = concat(uint32(Math.floor(bits / 4294967296)), uint32(bits >>> 0));
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", macKey, concat(aad, jwe.iv, jwe.ciphertext, al)));
    let diff = jwe.tag.length ^ half;
    for (let i = 0; i < half; i++) diff |= mac[i] ^ (jwe.tag[i] || 0);
    if (diff) throw decryptionFailed();
    const key = await crypto.subtle.importKey("raw", cek.slice(half), "AES-CBC", false, ["decrypt"]);
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv: jwe.iv }, key, jwe.ciphertext));
  }

  /** Decrypt a compact JWE with a pasted private JWK (or JWK Set, or a PBES2 password).
   * Every failure of the cryptography itself is the one "decryption failed", as in the core;
   * what anyone can see in the header (an unknown or unsupported algorithm) is said plainly. */
  async function decrypt(token, keyText) {
    const jwe = decodeJWE(token);
    const header = jwe.header;
    if (typeof header.alg !== "string" || typeof header.enc !== "string") {
      throw new JoseError("malformed_token", "a JWE header needs alg and enc");
    }
    if (header.crit !== undefined) throw new JoseError("unsupported_critical_header", "crit is not supported");
    if (header.zip !== undefined) {
      throw new JoseError("algorithm_not_allowed", "compressed content (zip) is refused, as by jotauth: it leaks the plaintext's length");
    }
    if (NOT_HERE[header.alg]) throw new JoseError("unsupported_algorithm", NOT_HERE[header.alg]);
    const content = CONTENT[header.enc];
    if (!content) throw new JoseError("unsupported_algorithm", "unknown content encryption " + JSON.stringify(header.enc.slice(0, 40)));
    const jwk = decryptionKey(keyText, header);
    if ((header.alg + header.enc).indexOf("192") !== -1) {
      try {
        await crypto.subtle.importKey("raw", new Uint8Array(24), "AES-GCM", false, ["decrypt"]);
      } catch (e) {
        throw new JoseError("unsupported_algorithm", "this browser has no 192-bit AES (Chromium left it out): " +
          "decrypt it with `jotauth token decode --key FILE`");
      }
    }
    let plaintext;
    try {
      plaintext = await decryptContent(jwe, await contentKey(jwe, jwk, content), content);
    } catch (e) {
      if (e instanceof JoseError) throw e;
      if (e && e.name === "NotSupportedError") {
        throw new JoseError("unsupported_algorithm", header.alg + " / " + header.enc + " is not supported by this browser's WebCrypto");
      }
      throw decryptionFailed();
    }
    let text = null;
    try { text = dec.decode(plaintext); } catch (e) { text = null; }
    return { header: header, plaintext: plaintext, text: text, kid: jwk.kid, alg: header.alg, enc: header.enc };
  }

  global.JotauthJWT = {
    ALGORITHMS: ALGORITHMS,
    JoseError: JoseError,
    MAX_SIZE: MAX_SIZE,
    b64urlEncode: b64urlEncode,
    decode: decode,
    decodeJWE: decodeJWE,
    decrypt: decrypt,
    generate: generate,
    hints: hints,
    resign: resign,
    segments: segments,
    sign: sign,
    thumbprint: thumbprint,
    times: times,
    verify: verify,
  };
})(window);

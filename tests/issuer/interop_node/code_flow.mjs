// panva's openid-client (v6) as a real relying party of jotauth. Its own checks judge every
// response: discovery (issuer match), the authorization response (state, RFC 9207 iss), the
// ID token (signature via the JWKS with enableNonRepudiationChecks, iss, aud, azp, nonce, exp),
// userinfo (sub), refresh, introspection, revocation, RP-initiated logout; then
// client_credentials with client_secret_basic, client_secret_post and private_key_jwt.
//
// The browser is the Python test's (Playwright Chromium): this script prints what to open and
// runs the relying party's callback server on 127.0.0.1, where the browser lands.
// Input (stdin, one JSON object): {"issuer", "callback_port", "web": {"client_id",
//   "client_secret"}, "spa": {"client_id"}, "services": {method: {"client_id",
//   "client_secret"?, "jwk"?}}}
// Output (stdout, JSON lines): {"open": url, "expect": "login"|"redirect"} for each page the
// browser must open, then {"result": {...}}; on failure {"error": "..."} and exit code 1.
import * as client from "openid-client";
import http from "node:http";

const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => { data += chunk; });
  process.stdin.on("end", () => resolve(data));
}));
const issuer = new URL(input.issuer);
const base = `http://127.0.0.1:${input.callback_port}`;
// Plain HTTP is allowed only because both servers are on 127.0.0.1 for the test.
const options = { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] };

// The relying party's callback server: each path resolves the promise waiting for it.
const waiting = new Map();
const callbacks = http.createServer((request, response) => {
  const url = new URL(request.url, base);
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(`<!doctype html><title>rp</title><p id="landed">${url.pathname}</p>`);
  const resolve = waiting.get(url.pathname);
  if (resolve) { waiting.delete(url.pathname); resolve(url); }
});
await new Promise((resolve) => callbacks.listen(input.callback_port, "127.0.0.1", resolve));

function landing(path) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the browser never reached ${path}`)), 60_000);
    waiting.set(path, (url) => { clearTimeout(timer); resolve(url); });
  });
}

async function refused(promise) {
  // What an openid-client call that must fail failed with (its error code), or "accepted".
  try {
    await promise;
    return "accepted";
  } catch (error) {
    const challenge = Array.isArray(error.cause) ? error.cause[0]?.parameters?.error : undefined;
    return error.error ?? challenge ?? error.code ?? error.name;
  }
}

async function signIn(config, path) {
  // Authorization code + PKCE S256 + state + nonce through the browser; the grant validated.
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: base + path, scope: "openid profile", state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const landed = landing(path);
  say({ open: url.href, expect: "login" });
  const callback = await landed;
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  return { tokens, claims: tokens.claims(), iss: callback.searchParams.get("iss") };
}

const active = async (config, token) => (await client.tokenIntrospection(config, token)).active;

async function webApp(registered) {
  // A confidential server-side app (client_secret_basic): the whole life of a sign-in.
  const config = await client.discovery(
    issuer, registered.client_id, registered.client_secret,
    client.ClientSecretBasic(registered.client_secret), options,
  );
  const { tokens, claims, iss } = await signIn(config, "/web/callback");
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const first = {
    access: await active(config, tokens.access_token),
    refresh: await active(config, tokens.refresh_token),
  };
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const afterRefresh = {
    old_refresh: await active(config, tokens.refresh_token),  // rotated: spent
    refresh: await active(config, refreshed.refresh_token),
    access: await active(config, refreshed.access_token),
  };
  await client.tokenRevocation(config, tokens.access_token);
  const revokedAccess = await active(config, tokens.access_token);
  const state = client.randomState();
  const out = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: base + "/web/signed-out", state,
  });
  const signedOut = landing("/web/signed-out");
  say({ open: out.href, expect: "redirect" });
  const back = await signedOut;
  return {
    iss,
    metadata_issuer: config.serverMetadata().issuer,
    claims: {
      sub: claims.sub, aud: claims.aud, azp: claims.azp, preferred_username:
        claims.preferred_username, has_sid: typeof claims.sid === "string",
      has_at_hash: typeof claims.at_hash === "string",
    },
    userinfo,
    first,
    after_refresh: afterRefresh,
    refreshed_rotates: refreshed.refresh_token !== tokens.refresh_token,
    revoked_access: revokedAccess,
    logout_state: back.searchParams.get("state") === state,
    after_logout: {
      access: await active(config, refreshed.access_token),
      refresh: await active(config, refreshed.refresh_token),
      userinfo: await refused(client.fetchUserInfo(config, refreshed.access_token, claims.sub)),
      refresh_grant: await refused(client.refreshTokenGrant(config, refreshed.refresh_token)),
    },
  };
}

async function singlePageApp(registered) {
  // A public client (no secret, PKCE alone protects the code), after the logout above: the
  // browser must see the login page again.
  const config = await client.discovery(
    issuer, registered.client_id, {}, client.None(), options,
  );
  const { tokens, claims } = await signIn(config, "/spa/callback");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  // Revoking the refresh token ends its whole session, the access tokens with it.
  await client.tokenRevocation(config, refreshed.refresh_token);
  return {
    sub: claims.sub,
    aud: claims.aud,
    userinfo,
    refresh_after_revoke: await refused(
      client.refreshTokenGrant(config, refreshed.refresh_token),
    ),
    userinfo_after_revoke: await refused(
      client.fetchUserInfo(config, refreshed.access_token, claims.sub),
    ),
  };
}

async function service(method, registered) {
  // client_credentials with one authentication method; introspection and revocation with it.
  let auth;
  if (method === "client_secret_basic") auth = client.ClientSecretBasic(registered.client_secret);
  else if (method === "client_secret_post") auth = client.ClientSecretPost(registered.client_secret);
  else {
    const key = await crypto.subtle.importKey(
      "jwk", registered.jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"],
    );
    auth = client.PrivateKeyJwt({ key, kid: registered.jwk.kid });
  }
  const config = await client.discovery(issuer, registered.client_id, {}, auth, options);
  const token = await client.clientCredentialsGrant(config, { scope: "reports:read" });
  const claims = JSON.parse(Buffer.from(token.access_token.split(".")[1], "base64url"));
  const introspected = await client.tokenIntrospection(config, token.access_token);
  await client.tokenRevocation(config, token.access_token);
  return {
    claims_sub: claims.sub,
    scope: token.scope,
    active: introspected.active,
    introspected_client_id: introspected.client_id,
    after_revoke: await active(config, token.access_token),
  };
}

try {
  const web = await webApp(input.web);
  const spa = await singlePageApp(input.spa);
  const services = {};
  for (const [method, registered] of Object.entries(input.services)) {
    services[method] = await service(method, registered);
  }
  say({ result: { web, spa, services } });
} catch (error) {
  const detail = JSON.stringify(error.cause ?? null);
  say({ error: `${error.name}: ${error.message} ${error.code ?? ""} ${detail}\n${error.stack}` });
  process.exitCode = 1;
} finally {
  callbacks.close();
  callbacks.closeAllConnections();
}

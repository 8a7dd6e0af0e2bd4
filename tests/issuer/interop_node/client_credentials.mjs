// panva/oauth4webapi as a real client of jotauth: RFC 8414 discovery, client_credentials with
// client_secret_basic, client_secret_post and private_key_jwt, introspection and revocation.
// Input (stdin, JSON): {"issuer", "clients": {method: {"client_id", "client_secret"?, "jwk"?}}}
// Output (stdout, JSON): {method: {"claims_sub", "active", "after_revoke"}} or {"error"}.
import * as oauth from "oauth4webapi";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => { data += chunk; });
  process.stdin.on("end", () => resolve(data));
}));
const insecure = { [oauth.allowInsecureRequests]: true };  // 127.0.0.1 only, plain HTTP
const issuer = new URL(input.issuer);
const as = await oauth.processDiscoveryResponse(
  issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
);
const results = {};
for (const [method, registered] of Object.entries(input.clients)) {
  const client = { client_id: registered.client_id };
  let auth;
  if (method === "client_secret_basic") auth = oauth.ClientSecretBasic(registered.client_secret);
  else if (method === "client_secret_post") auth = oauth.ClientSecretPost(registered.client_secret);
  else {
    const key = await crypto.subtle.importKey(
      "jwk", registered.jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"],
    );
    auth = oauth.PrivateKeyJwt({ key, kid: registered.jwk.kid });
  }
  const response = await oauth.clientCredentialsGrantRequest(
    as, client, auth, new URLSearchParams({ scope: "reports:read" }), insecure,
  );
  const token = await oauth.processClientCredentialsResponse(as, client, response);
  const claims = JSON.parse(Buffer.from(token.access_token.split(".")[1], "base64url"));
  const active = await oauth.processIntrospectionResponse(
    as, client, await oauth.introspectionRequest(as, client, auth, token.access_token, insecure),
  );
  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, auth, token.access_token, insecure),
  );
  const after = await oauth.processIntrospectionResponse(
    as, client, await oauth.introspectionRequest(as, client, auth, token.access_token, insecure),
  );
  results[method] = { claims_sub: claims.sub, active: active.active, after_revoke: after.active };
}
process.stdout.write(JSON.stringify(results));

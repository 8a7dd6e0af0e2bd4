// panva/oauth4webapi with DPoP (RFC 9449) against jotauth: client_credentials and, for a public
// client, the password grant (generic token request) and refresh_token, every request proved by
// oauth4webapi's own DPoP handle (ES256, a non-extractable WebCrypto key), retried once when
// the server asks for a nonce; then a call to jotauth's guarded /profile with the bound token,
// and the same token without the proof (must be refused).
// Input (stdin, JSON): {"issuer", "service": {"client_id", "client_secret"}, "public":
//   {"client_id"}, "username", "password"}
// Output (stdout, JSON): {"jkt", "service", "login", "refreshed", "profile", "stolen"}.
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
const keyPair = await oauth.generateKeyPair("ES256");

async function withNonceRetry(request) {
  try {
    return await request();
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await request();  // the handle kept the nonce
    throw err;
  }
}

function summary(token) {
  const claims = JSON.parse(Buffer.from(token.access_token.split(".")[1], "base64url"));
  return { token_type: token.token_type, cnf: claims.cnf ?? null };
}

const service = { client_id: input.service.client_id };
const serviceDPoP = oauth.DPoP(service, keyPair);
const serviceAuth = oauth.ClientSecretBasic(input.service.client_secret);
const serviceToken = await withNonceRetry(async () => oauth.processClientCredentialsResponse(
  as, service, await oauth.clientCredentialsGrantRequest(
    as, service, serviceAuth, new URLSearchParams({ scope: "reports:read" }),
    { DPoP: serviceDPoP, ...insecure },
  ),
));

const app = { client_id: input.public.client_id };
const appDPoP = oauth.DPoP(app, keyPair);
const login = await withNonceRetry(async () => oauth.processGenericTokenEndpointResponse(
  as, app, await oauth.genericTokenEndpointRequest(
    as, app, oauth.None(), "password",
    new URLSearchParams({ username: input.username, password: input.password }),
    { DPoP: appDPoP, ...insecure },
  ),
));
const refreshed = await withNonceRetry(async () => oauth.processRefreshTokenResponse(
  as, app, await oauth.refreshTokenGrantRequest(
    as, app, oauth.None(), login.refresh_token, { DPoP: appDPoP, ...insecure },
  ),
));

const profileUrl = new URL("/profile", issuer);
let profile = await oauth.protectedResourceRequest(
  refreshed.access_token, "GET", profileUrl, new Headers(), null, { DPoP: appDPoP, ...insecure },
);
const stolen = await fetch(profileUrl, { headers: { authorization: `Bearer ${refreshed.access_token}` } });

process.stdout.write(JSON.stringify({
  jkt: await appDPoP.calculateThumbprint(),
  service: summary(serviceToken),
  login: summary(login),
  refreshed: summary(refreshed),
  profile: { status: profile.status, body: await profile.json() },
  stolen: { status: stolen.status, challenge: stolen.headers.get("www-authenticate") },
}));

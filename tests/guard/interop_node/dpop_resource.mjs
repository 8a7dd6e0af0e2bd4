// panva/oauth4webapi as a DPoP client of a jotauth guard: protectedResourceRequest with its own
// DPoP handle (its proofs, its ath, its nonce cache), then the same token without a proof.
// Input (stdin, JSON): {"url", "nonce_url", "token", "jwk"} (jwk: the private P-256 key).
// Output (stdout, JSON): {"first", "second", "nonce_challenge", "nonce_retry", "bearer"}.
import * as oauth from "oauth4webapi";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => { data += chunk; });
  process.stdin.on("end", () => resolve(data));
}));
const { d, ...publicJwk } = input.jwk;
const curve = { name: "ECDSA", namedCurve: "P-256" };
const keyPair = {
  privateKey: await crypto.subtle.importKey("jwk", input.jwk, curve, false, ["sign"]),
  publicKey: await crypto.subtle.importKey("jwk", publicJwk, curve, true, ["verify"]),
};
const insecure = { [oauth.allowInsecureRequests]: true };  // 127.0.0.1 only, plain HTTP
const dpop = oauth.DPoP({}, keyPair);

async function call(url, options) {
  try {
    const response = await oauth.protectedResourceRequest(
      input.token, "GET", new URL(url), undefined, undefined, { ...insecure, ...options },
    );
    return { status: response.status, body: await response.json() };
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) {
      const [challenge] = err.cause;
      return {
        status: err.response.status, scheme: challenge.scheme, error: challenge.parameters.error,
        algs: challenge.parameters.algs, nonce_error: oauth.isDPoPNonceError(err),
      };
    }
    throw err;
  }
}

const first = await call(input.url, { DPoP: dpop });
const second = await call(input.url, { DPoP: dpop });
const nonceChallenge = await call(input.nonce_url, { DPoP: dpop });
const nonceRetry = await call(input.nonce_url, { DPoP: dpop });  // the handle cached the nonce
const bearer = await call(input.url, {});
process.stdout.write(JSON.stringify({
  first, second, nonce_challenge: nonceChallenge, nonce_retry: nonceRetry, bearer,
}));

// App B: a single-page app signing in through jotauth with oidc-client-ts (a public client:
// authorization code + PKCE S256, no secret). The library keeps the user (ID token, access
// token, refresh token) in this tab's sessionStorage; nothing is sent anywhere but to the
// issuer and the articles API, which the server's Content-Security-Policy enforces.
"use strict";

const element = (id) => document.getElementById(id);

function showUser(user) {
  const signedIn = user !== null && !user.expired;
  const status = element("status");
  status.dataset.signedIn = String(signedIn);
  status.textContent = signedIn
    ? `Signed in as ${user.profile.preferred_username ?? user.profile.sub}.`
    : "You are not signed in.";
  element("login").hidden = signedIn;
  element("call-api").hidden = !signedIn;
  element("logout").hidden = !signedIn;
}

function showResult(status, text) {
  const result = element("api-result");
  result.dataset.status = status;
  result.textContent = text;
}

async function callApi(manager, config) {
  const user = await manager.getUser();
  if (user === null) {
    showUser(null);
    return;
  }
  const answer = await fetch(`${config.articles_api}/articles`, {
    headers: { Authorization: `Bearer ${user.access_token}` },
  });
  if (answer.ok) {
    const body = await answer.json();
    showResult("ok", `Articles: ${body.articles.map((article) => article.title).join(", ")}`);
  } else {
    const why = answer.headers.get("WWW-Authenticate") ?? "";
    showResult("refused", `The articles API refused the token: ${answer.status} ${why}`);
  }
}

async function main() {
  const config = await (await fetch("/config.json")).json();
  const manager = new oidc.UserManager({
    authority: config.authority, // its /.well-known/openid-configuration is read from here
    client_id: config.client_id,
    redirect_uri: config.redirect_uri,
    post_logout_redirect_uri: config.post_logout_redirect_uri,
    response_type: "code",
    scope: config.scope,
    automaticSilentRenew: false, // a refresh would hide a logout elsewhere from this demo
  });
  if (location.pathname === "/callback") {
    await manager.signinRedirectCallback(); // checks state, exchanges the code with PKCE
    history.replaceState(null, "", "/");
  } else if (location.pathname === "/signed-out") {
    await manager.signoutRedirectCallback(); // checks the state the logout came back with
    history.replaceState(null, "", "/");
  }
  element("login").addEventListener("click", () => manager.signinRedirect());
  // The state makes the library check that the answer is to this logout (signoutCallback).
  element("logout").addEventListener("click", () =>
    manager.signoutRedirect({ state: { signedOutFrom: "app-b" } }),
  );
  element("call-api").addEventListener("click", () =>
    callApi(manager, config).catch(fail),
  );
  showUser(await manager.getUser());
  document.body.dataset.ready = "true";
}

function fail(error) {
  element("error").textContent = String(error);
  console.error(error);
}

main().catch(fail);

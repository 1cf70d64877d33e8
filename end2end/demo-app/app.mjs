// A small clinic app that signs people in with Tessera ("Sign in with Tessera"), as any
// app would: the `openid-client` library (not ours) does discovery, the code flow with
// PKCE, state and nonce, and checks the ID token. The browser tests start it; it shows
// who signed in and how (`amr`).
//
//   ISSUER=http://localhost:3000 CLIENT_ID=… CLIENT_SECRET=… PORT=3100 node app.mjs
// Without CLIENT_SECRET it is a public app (PKCE alone), as the demo data registers it.
// It waits for Tessera to answer discovery (up to a minute) before it listens.
import http from 'node:http';
import crypto from 'node:crypto';
import * as client from 'openid-client';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, PORT = '3100' } = process.env;
const base = `http://127.0.0.1:${PORT}`;
// Plain http is allowed only because the tests run Tessera on localhost.
const options = ISSUER.startsWith('http://') ? { execute: [client.allowInsecureRequests] } : undefined;
const auth = CLIENT_SECRET ? undefined : client.None();
let config;
for (let tries = 0; !config; tries++) {
  try {
    config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, auth, options);
  } catch (e) {
    if (tries >= 120) throw e;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const pending = new Map(); // browser id → { verifier, state, nonce }
const sessions = new Map(); // browser id → claims

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (body) =>
  `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Demo notes</title></head><body><main>${body}</main></body></html>`;

function browserId(req, res) {
  const found = /(?:^|;\s*)demo_app=([a-f0-9]{32})/.exec(req.headers.cookie ?? '');
  if (found) return found[1];
  const id = crypto.randomBytes(16).toString('hex');
  res.setHeader('set-cookie', `demo_app=${id}; Path=/; HttpOnly; SameSite=Lax`);
  return id;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const id = browserId(req, res);
  try {
    if (url.pathname === '/login') {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      pending.set(id, { verifier, state, nonce });
      const to = client.buildAuthorizationUrl(config, {
        redirect_uri: `${base}/callback`,
        scope: 'openid email profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      res.writeHead(302, { location: to.href }).end();
    } else if (url.pathname === '/callback') {
      const wait = pending.get(id);
      pending.delete(id);
      if (url.searchParams.get('error')) {
        res.writeHead(403, { 'content-type': 'text/html' }).end(
          page(`<h1>Not signed in</h1><p id="error">${escape(url.searchParams.get('error'))}</p>`));
        return;
      }
      const tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: wait?.verifier,
        expectedState: wait?.state,
        expectedNonce: wait?.nonce,
        idTokenExpected: true,
      });
      sessions.set(id, tokens.claims());
      res.writeHead(302, { location: '/' }).end();
    } else if (url.pathname === '/') {
      const claims = sessions.get(id);
      res.writeHead(200, { 'content-type': 'text/html' }).end(page(claims
        ? `<h1>Demo notes</h1><p>Signed in as <span id="name">${escape(claims.name)}</span>
           (<span id="email">${escape(claims.email)}</span>)</p>
           <p>How: <span id="amr">${escape((claims.amr ?? []).join(' '))}</span></p>`
        : `<h1>Demo notes</h1><p><a id="sign-in" href="/login">Sign in with Tessera</a></p>`));
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`sign-in failed: ${e.message}`);
  }
});
server.listen(Number(PORT), '127.0.0.1', () => console.log(`demo app on ${base}`));

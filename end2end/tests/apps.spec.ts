import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { test, expect, waitForHydration, addAuthenticator, accessibilityViolations } from './fixtures';

// "Sign in with Tessera" from another app: a small demo app (end2end/demo-app, built on
// the openid-client library) registered with the operator's command line. This file's
// account is made here; nothing else in the suite touches it.
const USER = { email: 'apps.nurse@riverside.example', password: 'apps nurse passphrase', name: 'Ada Apps' };

function tessera(args: string[], input?: string): string {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set: run the browser tests with `cargo xtask e2e`');
  return execFileSync(bin, args, { encoding: 'utf8', input });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((closed) => server.close(closed));
  return port;
}

let demo: ChildProcess | undefined;
let demoUrl = '';

test.beforeAll(async () => {
  try {
    tessera(['user', 'create', '--email', USER.email, '--name', USER.name, '--role', 'staff', '--password-stdin'], `${USER.password}\n`);
  } catch (e) {
    if (!String(e).includes('already exists')) throw e;
  }
  const port = await freePort();
  demoUrl = `http://127.0.0.1:${port}`;
  const out = tessera(['app', 'add', '--name', `Demo notes ${port}`, '--redirect-uri', `${demoUrl}/callback`]);
  const clientId = /client_id\s+(\S+)/.exec(out)?.[1];
  const secret = /client_secret\s+(\S+)/.exec(out)?.[1];
  if (!clientId || !secret) throw new Error(`tessera app add printed no credentials:\n${out}`);
  demo = spawn(process.execPath, [path.join(__dirname, '..', 'demo-app', 'app.mjs')], {
    env: {
      ...process.env,
      ISSUER: process.env.TESSERA_URL ?? 'http://localhost:3000',
      CLIENT_ID: clientId,
      CLIENT_SECRET: secret,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((ready, failed) => {
    demo!.stdout!.on('data', (chunk) => String(chunk).includes('demo app on') && ready());
    demo!.on('exit', (code) => failed(new Error(`the demo app stopped (${code})`)));
  });
});

test.afterAll(() => {
  demo?.kill();
});

test('an app signs people in through Tessera: refused with the password alone, in with a passkey', async ({ page }) => {
  const authenticator = await addAuthenticator(page);

  // Not signed in anywhere: the app sends the browser to Tessera's sign-in.
  await page.goto(demoUrl);
  await page.getByRole('link', { name: 'Sign in with Tessera' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.locator('#signing-in-to')).toContainText('Signing you in to Demo notes');
  await waitForHydration(page);
  await page.locator('#email').fill(USER.email);
  await page.locator('#password').fill(USER.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();

  // The password alone does not open a two-step app: Tessera says why, in words.
  await expect(page.getByRole('heading', { name: 'You cannot sign in to Demo notes', exact: false })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('needs two-step sign-in');
  expect(await accessibilityViolations(page)).toEqual([]);

  // A passkey, set up in the profile.
  await page.goto('/security');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByLabel('Name').fill('Clinic laptop');
  await page.getByLabel('Your current password').fill(USER.password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('#backup-codes li')).toHaveCount(10);
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);

  // Back to the app: password, passkey, and the app knows who and how.
  await page.goto(demoUrl);
  await page.getByRole('link', { name: 'Sign in with Tessera' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await waitForHydration(page);
  await page.locator('#email').fill(USER.email);
  await page.locator('#password').fill(USER.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await expect(page).toHaveURL(`${demoUrl}/`);
  await expect(page.locator('#name')).toHaveText(USER.name);
  await expect(page.locator('#email')).toHaveText(USER.email);
  await expect(page.locator('#amr')).toHaveText('pwd pop user mfa');
  expect(await authenticator.credentials()).toHaveLength(1);
  await authenticator.remove();
});

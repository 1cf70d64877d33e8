import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { test, expect, signIn, waitForHydration, mailWith, linkQuery } from './fixtures';

// What each page makes the browser download (every file under /pkg/), recorded with the
// browser cache off, as a first visit would. Each staff page may load only the files listed
// for it below: a new file there — an admin island leaking into a staff page, a lazy part
// loaded too early — fails this test until someone decides it belongs.
//
// `cargo xtask bench` runs this file against the release build with TESSERA_PAGE_LOADS
// set, and prints the sizes of what was recorded.
//
// This file's accounts are its own, created here with the operator's command line.

const PASSWORD = 'page loads passphrase';
const WITH_PASSKEY = 'page.loads@riverside.example';
const NEW_STARTER = 'new.starter@riverside.example';
const INVITED = 'invited.page@riverside.example';

function tessera(args: string[], input?: string): string {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set: run the browser tests with `cargo xtask e2e`');
  return execFileSync(bin, args, { encoding: 'utf8', input });
}

/** The files every page loads: the stylesheet, the wasm, its JS glue and the loader of
 *  the lazily loaded parts. */
const BASE = [
  '/pkg/tessera.css',
  '/pkg/tessera.js',
  '/pkg/tessera_bg.wasm',
  '/pkg/__wasm_split.______________________.js',
];

/** The lazily loaded islands each staff page may load (by their split's name). The files
 *  each needs come from the build's manifest, so chunk numbering does not matter; a file
 *  outside these (an admin island's, another page's) does. */
const ISLANDS: Record<string, string[]> = {
  'sign-in': [],
  home: ['sign_out_button_loader'],
  profile: ['security_panel_loader'],
  'change password': ['change_password_form_loader'],
  'second step': ['second_step_form_loader'],
  'setup wizard': ['setup_wizard_loader'],
  invitation: ['accept_invitation_form_loader'],
};

/** Every file `islands` may bring, from `/pkg/__wasm_split_manifest.json`. */
function allowedFiles(manifest: Record<string, string[]>, islands: string[]): string[] {
  const files = new Set(BASE);
  for (const island of islands) {
    const splits = Object.keys(manifest).filter((name) => name.startsWith(`${island}_`));
    expect(splits, `the build has one split for ${island}`).toHaveLength(1);
    for (const stem of manifest[splits[0]]) files.add(`/pkg/${stem}.wasm`);
  }
  return [...files].sort();
}

const recorded: Record<string, string[]> = {};

/** Opens `path`, waits for its islands, and records its /pkg/ files. */
async function visit(page: Page, label: string, path: string, landsOn = path): Promise<void> {
  const files = new Set<string>();
  const record = (request: { url(): string }) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/pkg/')) files.add(url.pathname);
  };
  page.on('request', record);
  await page.goto(path);
  await expect(page).toHaveURL(landsOn);
  await waitForHydration(page);
  page.off('request', record);
  recorded[label] = [...files].sort();
}

test.beforeAll(() => {
  for (const [email, name] of [
    [WITH_PASSKEY, 'Page Loads'],
    [NEW_STARTER, 'New Starter'],
  ]) {
    tessera(['user', 'create', '--email', email, '--name', name, '--password-stdin'], `${PASSWORD}\n`);
  }
});

test.afterAll(() => {
  tessera(['organisation', 'require-two-factor', 'off']);
  const out = process.env.TESSERA_PAGE_LOADS;
  if (out) writeFileSync(out, JSON.stringify(recorded, null, 2));
});

test('each staff page downloads only its own files', async ({ page, authenticator }) => {
  // Every visit is a first visit: nothing comes from the browser's cache.
  await authenticator.cdp.send('Network.enable');
  await authenticator.cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await visit(page, 'sign-in', '/signin');

  await signIn(page, WITH_PASSKEY, PASSWORD);
  await expect(page).toHaveURL('/');
  await visit(page, 'home', '/');
  await visit(page, 'change password', '/password');
  await visit(page, 'profile', '/security');

  // A passkey, so the next sign-in has a second step.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByLabel('Name').fill('Page loads key');
  await page.getByLabel('Your current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();
  expect(await authenticator.credentials()).toHaveLength(1);

  await page.context().clearCookies();
  await signIn(page, WITH_PASSKEY, PASSWORD);
  await expect(page).toHaveURL('/signin/verify');
  await visit(page, 'second step', '/signin/verify');

  // The setup wizard, for someone without two-step authentication once it is required.
  tessera(['organisation', 'require-two-factor', 'on']);
  await page.context().clearCookies();
  await signIn(page, NEW_STARTER, PASSWORD);
  await expect(page).toHaveURL('/setup-2fa');
  await visit(page, 'setup wizard', '/setup-2fa');

  // An invitation's page, as the mailed link opens it.
  tessera(['user', 'invite', '--email', INVITED, '--name', 'Invited Page']);
  let mail: string | undefined;
  await expect.poll(() => (mail = mailWith(INVITED, '/invitation?token='))).toBeTruthy();
  const query = linkQuery(mail, '/invitation');
  await page.context().clearCookies();
  await visit(page, 'invitation', `/invitation${query}`);

  const manifest = await (await page.request.get('/pkg/__wasm_split_manifest.json')).json();
  for (const [label, islands] of Object.entries(ISLANDS)) {
    expect(recorded[label], `${label} was not visited`).toBeDefined();
    for (const file of recorded[label]) {
      expect(allowedFiles(manifest, islands), `the ${label} page downloaded ${file}`).toContain(file);
    }
    // Its own islands' files did come (so the list above is not stale).
    for (const island of islands) {
      expect(
        recorded[label].some((f) => f.includes(`split_${island}_`)),
        `the ${label} page loaded ${island}`,
      ).toBe(true);
    }
  }
});

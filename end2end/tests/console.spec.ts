import { execFileSync } from 'node:child_process';
import type { Browser, Page } from '@playwright/test';
import {
  test,
  expect,
  signIn,
  waitForHydration,
  accessibilityViolations,
  addAuthenticator,
  mailWith,
  linkQuery,
} from './fixtures';

// The admin console in the browser. This file's accounts are its own, created with the
// operator's command line: an admin, an auditor and a nurse (the demo admin stays as the
// wizard test needs it).
const ADMIN = { email: 'console.admin@riverside.example', password: 'console admin passphrase' };
const AUDITOR = { email: 'console.auditor@riverside.example', password: 'console auditor passphrase' };
const NURSE = { email: 'console.nurse@riverside.example', password: 'console nurse passphrase' };

function tessera(args: string[], input?: string): string {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set: run the browser tests with `cargo xtask e2e`');
  return execFileSync(bin, args, { encoding: 'utf8', input });
}

test.beforeAll(() => {
  for (const [who, name, role] of [
    [ADMIN, 'Casey Console (admin)', 'admin'],
    [AUDITOR, 'Avery Audit (auditor)', 'auditor'],
    [NURSE, 'Nora Nurse', 'staff'],
  ] as const) {
    // After a failed test Playwright starts a new worker, and this runs again.
    try {
      tessera(['user', 'create', '--email', who.email, '--name', name, '--role', role, '--password-stdin'], `${who.password}\n`);
    } catch (e) {
      if (!String(e).includes('already exists')) throw e;
    }
  }
});

/** Adds a passkey to the signed-in account on `page` from its profile. */
async function addPasskey(page: Page, password: string, name: string): Promise<void> {
  await page.goto('/security');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Your current password').fill(password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('#passkey-list .passkey-name')).toHaveText([name]);
}

async function newPage(browser: Browser): Promise<Page> {
  return (await browser.newContext()).newPage();
}

test('an admin reminds those not set up, and resets a nurse who lost her phone', async ({
  page,
  authenticator,
  browser,
}) => {
  // The nurse has a passkey on her (soon lost) phone.
  const nursePage = await newPage(browser);
  const nurseKey = await addAuthenticator(nursePage);
  await signIn(nursePage, NURSE.email, NURSE.password);
  await expect(nursePage).toHaveURL('/');
  await addPasskey(nursePage, NURSE.password, 'Nora phone');
  await nurseKey.remove();

  // The admin signs in, sets up a passkey of their own, and opens the console.
  await signIn(page, ADMIN.email, ADMIN.password);
  await expect(page).toHaveURL('/');
  await addPasskey(page, ADMIN.password, 'Admin laptop');
  expect(await authenticator.credentials()).toHaveLength(1);
  await page.goto('/');
  await page.getByRole('link', { name: 'Open the console' }).click();
  await expect(page).toHaveURL('/admin/users');
  await waitForHydration(page);
  expect(await accessibilityViolations(page)).toEqual([]);

  // "Not set up" filters the list (the count is a link; the view goes into the URL).
  await page.getByRole('link', { name: /Not set up/ }).click();
  await expect(page).toHaveURL(/two_step=not_set_up/);
  await waitForHydration(page);
  // Narrowed by a name: the filter stays (the form carries the view).
  await page.getByLabel('Name or email starts with').fill('jordan');
  await page.getByLabel('Name or email starts with').press('Enter');
  await expect(page).toHaveURL(/two_step=not_set_up.*q=jordan|q=jordan.*two_step=not_set_up/);
  await waitForHydration(page);
  const rows = page.locator('table.users tbody tr');
  await expect(rows.filter({ hasText: 'reception@riverside.example' })).toHaveCount(1);
  await expect(rows.filter({ hasText: NURSE.email })).toHaveCount(0);

  // The table by keyboard alone: focus the row's checkbox, Space selects it, Enter on
  // the button sends; the step-up prompt asks for the password and the passkey.
  await page.getByLabel('Select Jordan Lee (demo staff)').focus();
  await page.keyboard.press('Space');
  await expect(page.getByRole('button', { name: 'Send reminder to 1 selected' })).toBeEnabled();
  await page.getByRole('button', { name: 'Send reminder to 1 selected' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
  await page.getByLabel('Your password').fill(ADMIN.password);
  await page.getByLabel('Your password').press('Enter');
  await expect(page.locator('#remind-result')).toContainText('Sent 1');
  await expect.poll(() => mailWith('reception@riverside.example', 'Please set up two-step authentication')).toBeTruthy();

  // The nurse's page, found by searching for her name.
  await page.goto('/admin/users');
  await page.getByLabel('Name or email starts with').fill('nora');
  await page.getByLabel('Name or email starts with').press('Enter');
  await expect(page).toHaveURL(/q=nora/);
  await page.getByRole('link', { name: 'Nora Nurse' }).click();
  await waitForHydration(page);
  await expect(page.locator('#user-methods')).toContainText('Nora phone');
  expect(await accessibilityViolations(page)).toEqual([]);

  // Reset: a reason, then the one-time setup code (the step-up above is still fresh).
  await page.getByRole('button', { name: 'Reset two-step authentication' }).click();
  await page.getByLabel('Reason (kept in the audit trail)').fill('lost phone; identity checked in person');
  await page.getByRole('button', { name: 'Reset', exact: true }).click();
  const code = (await page.locator('#setup-code').textContent())?.trim() ?? '';
  expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  await expect.poll(() => mailWith(NURSE.email, 'reset the two-step authentication')).toBeTruthy();

  // Her next sign-in: the password, then the setup code, then the wizard.
  const again = await newPage(browser);
  await signIn(again, NURSE.email, NURSE.password);
  await expect(again).toHaveURL('/setup-2fa');
  await waitForHydration(again);
  await expect(again.getByRole('heading', { name: 'Enter your setup code' })).toBeVisible();
  expect(await accessibilityViolations(again)).toEqual([]);
  await again.getByRole('textbox', { name: 'Setup code' }).fill('AAAA-BBBB-CCCC-DDDD');
  await again.getByRole('button', { name: 'Continue' }).click();
  await expect(again.getByRole('alert')).toContainText('not right');
  await again.getByRole('textbox', { name: 'Setup code' }).fill(code);
  await again.getByRole('button', { name: 'Continue' }).click();
  await expect(again.getByRole('heading', { name: 'Set up two-step authentication' })).toBeVisible();
  await expect(again.getByRole('button', { name: 'Use a passkey (recommended)' })).toBeVisible();
});

test('an auditor sees the list without actions, and the server refuses a forged action', async ({ page }) => {
  await signIn(page, AUDITOR.email, AUDITOR.password);
  await expect(page).toHaveURL('/');
  await page.goto('/admin/users?q=jordan');
  await waitForHydration(page);
  await expect(page.locator('table.users tbody tr').first()).toBeVisible();
  await expect(page.locator('#remind-selected')).toHaveCount(0);
  await expect(page.locator('table.users input[type=checkbox]')).toHaveCount(0);
  await page.getByRole('link', { name: 'Jordan Lee (demo staff)' }).click();
  await waitForHydration(page);
  await expect(page.locator('#no-actions')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Reset two-step authentication' })).toHaveCount(0);
  // The buttons are not there, and calling the server directly does not help either.
  const id = page.url().split('/').pop();
  const forged = await page.request.post('/api/admin/reset_two_factor', {
    data: { id, reason: 'forged' },
    headers: { origin: new URL(page.url()).origin },
  });
  expect(forged.status()).toBe(403);
  // A staff member gets the console's 403 page.
  const staff = await (await page.context().browser()!.newContext()).newPage();
  await signIn(staff, 'reception@riverside.example', 'demo staff passphrase');
  await expect(staff).toHaveURL('/');
  const response = await staff.goto('/admin/users');
  expect(response?.status()).toBe(403);
  await expect(staff.getByRole('heading', { name: 'You do not have access to this page' })).toBeVisible();
});

test('an admin invites a colleague, who chooses a password from the mailed link', async ({
  page,
  authenticator,
  browser,
}) => {
  const INVITER = { email: 'console.inviter@riverside.example', password: 'console inviter passphrase' };
  try {
    tessera(['user', 'create', '--email', INVITER.email, '--name', 'Ines Inviter (admin)', '--role', 'admin', '--password-stdin'], `${INVITER.password}\n`);
  } catch (e) {
    if (!String(e).includes('already exists')) throw e;
  }
  const colleague = `robin.${Date.now()}@riverside.example`;
  await signIn(page, INVITER.email, INVITER.password);
  await expect(page).toHaveURL('/');
  await addPasskey(page, INVITER.password, 'Inviter laptop');
  expect(await authenticator.credentials()).toHaveLength(1);

  await page.goto('/admin/users');
  await page.getByRole('link', { name: 'Add user' }).click();
  await expect(page).toHaveURL('/admin/users/new');
  await waitForHydration(page);
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.getByLabel('Email').fill(colleague);
  await page.getByLabel('Name').fill('Robin New');
  await page.getByLabel('Role').selectOption('staff');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  // The server asks for a step-up; the passkey answers it, and the invitation goes.
  await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
  await page.getByLabel('Your password').fill(INVITER.password);
  await page.getByLabel('Your password').press('Enter');
  await expect(page.locator('#invite-sent')).toContainText(`Invitation sent to ${colleague}`);

  let mail: string | undefined;
  await expect.poll(() => (mail = mailWith(colleague, '/invitation?token='))).toBeTruthy();
  const token = linkQuery(mail, '/invitation');

  // The colleague opens the link in their own browser and chooses a password.
  const robin = await newPage(browser);
  await robin.goto(`/invitation${token}`);
  await waitForHydration(robin);
  await expect(robin.getByText('Hello Robin New.')).toBeVisible();
  expect(await accessibilityViolations(robin)).toEqual([]);
  await robin.getByLabel('Password', { exact: true }).fill('robin chooses a long passphrase');
  await robin.getByLabel('Password again').fill('robin chooses a long passphrase');
  await robin.getByRole('button', { name: 'Set password and continue' }).click();
  await expect(robin).toHaveURL(/\/(setup-2fa)?$/);
  // The link worked once.
  const later = await newPage(browser);
  await later.goto(`/invitation${token}`);
  await expect(later.locator('#link-refused')).toContainText('already used');

  // The list shows the colleague, no longer pending; the import page is clean too.
  await page.goto(`/admin/users?q=${encodeURIComponent(colleague)}`);
  await expect(page.locator('table.users tbody tr')).toHaveCount(1);
  await expect(page.locator('table.users tbody tr')).not.toContainText('Pending invitation');
  await page.goto('/admin/users/import');
  await waitForHydration(page);
  expect(await accessibilityViolations(page)).toEqual([]);
});

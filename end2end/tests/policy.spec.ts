import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Browser, Page, TestInfo } from '@playwright/test';
import { test, expect, signIn, waitForHydration, accessibilityViolations } from './fixtures';

// The two-step policy in the browser, with the server's clock moved by the test (the
// browser tests' build has a test-only clock hook). This file's accounts are its own; it
// puts the organisation's policy and the clock back as they were when it ends, because
// the files after it share the server.
const ADMIN = { email: 'policy.admin@riverside.example', password: 'policy admin passphrase' };
const NURSE = { email: 'policy.nurse@riverside.example', password: 'policy nurse passphrase' };
const DAY = 24 * 60 * 60;

function tessera(args: string[], input?: string): string {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set: run the browser tests with `cargo xtask e2e`');
  return execFileSync(bin, args, { encoding: 'utf8', input });
}

/** Moves the server's clock to the real time plus `days`. */
async function clockAt(days: number): Promise<void> {
  const url = `${process.env.TESSERA_URL ?? 'http://127.0.0.1:3000'}/__test__/clock`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ offset_secs: Math.round(days * DAY) }),
  });
  if (!response.ok) throw new Error(`the test clock did not move: ${response.status}`);
}

/** `YYYY-MM-DD` (UTC), `days` from today. */
function dateIn(days: number): string {
  return new Date(Date.now() + days * DAY * 1000).toISOString().slice(0, 10);
}

async function shot(page: Page, name: string, testInfo: TestInfo) {
  const file = path.join(testInfo.project.outputDir, 'screenshots', `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

async function newPage(browser: Browser): Promise<Page> {
  return (await browser.newContext()).newPage();
}

/** The admin signs in with the password and the passkey (the virtual authenticator). */
async function adminSignIn(page: Page) {
  await signIn(page, ADMIN.email, ADMIN.password);
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await expect(page).toHaveURL('/');
}

/** Answers the console's step-up prompt: the password, then the passkey. */
async function stepUp(page: Page) {
  await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
  await page.getByLabel('Your password').fill(ADMIN.password);
  await page.getByLabel('Your password').press('Enter');
}

test.beforeAll(() => {
  for (const [who, name, role] of [
    [ADMIN, 'Pat Policy (admin)', 'admin'],
    [NURSE, 'Nell Nurse', 'staff'],
  ] as const) {
    try {
      tessera(['user', 'create', '--email', who.email, '--name', name, '--role', role, '--password-stdin'], `${who.password}\n`);
    } catch (e) {
      if (!String(e).includes('already exists')) throw e;
    }
  }
});

test.afterAll(async () => {
  await clockAt(0);
  tessera(['organisation', 'policy', '--require', 'off']);
});

test.describe.configure({ timeout: 120_000 });

test('a deadline, a countdown, the wizard after it, an exception, the audit trail and the report', async ({
  page,
  authenticator,
  browser,
}, testInfo) => {
  // The admin adds a passkey, then sets a deadline two weeks out.
  await signIn(page, ADMIN.email, ADMIN.password);
  await expect(page).toHaveURL('/');
  await page.goto('/security');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByLabel('Name').fill('Policy laptop');
  await page.getByLabel('Your current password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();
  expect(await authenticator.credentials()).toHaveLength(1);

  await page.goto('/admin/settings');
  await waitForHydration(page);
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.getByRole('radio', { name: 'On' }).check();
  const deadline = dateIn(14);
  await page.getByLabel('Deadline (optional)').fill(deadline);
  await page.getByRole('button', { name: 'Review changes' }).click();
  const review = page.locator('#settings-review');
  await expect(review).toContainText('have not set up two-step authentication; they may put it off until');
  expect(await accessibilityViolations(page)).toEqual([]);
  await shot(page, 'settings-review', testInfo);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await stepUp(page);
  await expect(page.locator('#settings-saved')).toContainText(`deadline: none → ${deadline}`);

  // The nurse without two-step authentication: the wizard, which she may put off; then a
  // countdown on every page, and she works.
  const nurse = await newPage(browser);
  await signIn(nurse, NURSE.email, NURSE.password);
  await expect(nurse).toHaveURL('/setup-2fa');
  await waitForHydration(nurse);
  await expect(nurse.locator('#grace-offer')).toContainText('14 days left');
  expect(await accessibilityViolations(nurse)).toEqual([]);
  await nurse.getByRole('button', { name: 'Not now, remind me later' }).click();
  await expect(nurse).toHaveURL('/');
  const banner = nurse.locator('#policy-banner');
  await expect(banner).toContainText('Set up two-step authentication before');
  await expect(banner).toContainText('14 days left');
  expect(await accessibilityViolations(nurse)).toEqual([]);
  await shot(nurse, 'grace-banner', testInfo);
  await nurse.goto('/security');
  await expect(nurse).toHaveURL('/security');
  await expect(banner).toBeVisible();

  // Past the deadline: the same person reaches only the wizard, with no way past it.
  await clockAt(15);
  await signIn(nurse, NURSE.email, NURSE.password);
  await expect(nurse).toHaveURL('/setup-2fa');
  await waitForHydration(nurse);
  await expect(nurse.getByRole('heading', { name: 'Set up two-step authentication' })).toBeVisible();
  await expect(nurse.locator('#grace-offer')).toHaveCount(0);
  await nurse.goto('/');
  await expect(nurse).toHaveURL('/setup-2fa');

  // Her phone is broken: the admin grants a temporary exception from her page.
  await adminSignIn(page);
  await page.goto('/admin/users?q=policy.nurse');
  await page.getByRole('link', { name: 'Nell Nurse' }).click();
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Grant a temporary exception' }).click();
  await page.getByLabel('Reason (kept in the audit trail)').fill('phone broken; new one on Monday');
  await page.getByRole('button', { name: 'Grant exception' }).click();
  await stepUp(page);
  await expect(page.locator('#action-result')).toContainText('Exception granted');

  const excused = await newPage(browser);
  await signIn(excused, NURSE.email, NURSE.password);
  await expect(excused).toHaveURL('/');
  await expect(excused.locator('#policy-banner')).toContainText('password alone');

  // The audit trail, filtered to her: every row is about her.
  await page.goto('/admin/audit');
  await page.getByLabel('Person (email)').fill(NURSE.email);
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/user=policy\.nurse/);
  const rows = page.locator('#audit-table tbody tr');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThan(3);
  for (const row of await rows.all()) {
    await expect(row).toContainText(NURSE.email);
  }
  await expect(page.locator('#audit-table')).toContainText('Temporary exception granted');
  expect(await accessibilityViolations(page)).toEqual([]);

  // The report: its coverage agrees with the users list's own counts.
  const counts = await (await page.request.post('/api/admin/count_users', {
    data: {},
    headers: { origin: new URL(page.url()).origin },
  })).json();
  const inScope = counts.all - counts.pending - counts.disabled;
  const percent = Math.round((counts.two_step_on * 1000) / inScope) / 10;
  await page.goto('/admin/report');
  await expect(page.locator('#report-in-scope')).toHaveText(String(inScope));
  await expect(page.locator('#report-coverage')).toHaveText(`${counts.two_step_on} (${percent}%)`);
  await expect(page.locator('#report-exceptions')).toContainText('Nell Nurse');
  await expect(page.locator('#coverage-chart')).toBeVisible();
  expect(await accessibilityViolations(page)).toEqual([]);
  await shot(page, 'report', testInfo);
  // Printed: no navigation; Chromium's print to PDF, and how the printed page looks.
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('.console-bar')).toBeHidden();
  await expect(page.locator('.print-header')).toBeVisible();
  await shot(page, 'report-printed', testInfo);
  const pdf = path.join(testInfo.project.outputDir, 'screenshots', 'report.pdf');
  await page.pdf({ path: pdf, format: 'A4' });
  await testInfo.attach('report.pdf', { path: pdf, contentType: 'application/pdf' });
});

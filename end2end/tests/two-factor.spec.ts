import path from 'node:path';
import * as OTPAuth from 'otpauth';
import { test, expect, signIn, waitForHydration, accessibilityViolations } from './fixtures';

// dr.patel is this file's account: nothing else in the suite touches it.
const USER = { email: 'dr.patel@riverside.example', password: 'demo staff passphrase' };

/** A code computed here, by an independent TOTP library, from the key the page showed. */
function code(key: string, offsetSteps = 0): string {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(key.replace(/\s+/g, '')),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

async function shot(page: import('@playwright/test').Page, name: string, testInfo: import('@playwright/test').TestInfo) {
  const file = path.join(testInfo.project.outputDir, 'screenshots', `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

async function signOut(page: import('@playwright/test').Page) {
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
}

/** Waits until the next 30-second step, so a fresh code is not the one just used. */
async function nextStep(page: import('@playwright/test').Page) {
  const wait = 30_000 - (Date.now() % 30_000) + 500;
  await page.waitForTimeout(wait);
}

// Two tests wait for the next 30-second TOTP step, so they get more than the default 30 s.
test.describe.configure({ mode: 'serial', timeout: 90_000 });

let key = '';
let backupCodes: string[] = [];

test('add an authenticator app, see the codes once', async ({ page }, testInfo) => {
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/');
  await page.getByRole('link', { name: 'Manage' }).click();
  await expect(page).toHaveURL('/security');
  await waitForHydration(page);
  await expect(page.locator('#tf-status')).toContainText('off');
  await shot(page, 'profile-two-factor-off', testInfo);
  expect(await accessibilityViolations(page)).toEqual([]);

  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  await page.getByLabel('Your current password').fill(USER.password);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
  key = (await page.locator('#totp-key').innerText()).trim();
  expect(key.replace(/\s+/g, '')).toMatch(/^[A-Z2-7]{32}$/);
  await shot(page, 'authenticator-qr', testInfo);
  expect(await accessibilityViolations(page)).toEqual([]);

  await page.getByLabel('Enter the 6-digit code the app shows').fill('000000');
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('alert')).toContainText('does not match');

  await page.getByLabel('Enter the 6-digit code the app shows').fill(code(key));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const codes = page.locator('#backup-codes li');
  await expect(codes).toHaveCount(10);
  backupCodes = (await codes.allInnerTexts()).map((c) => c.trim());
  expect(backupCodes[0]).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  await expect(page.getByRole('link', { name: 'Download .txt' })).toHaveAttribute('download', 'tessera-backup-codes.txt');
  await shot(page, 'backup-codes', testInfo);
  expect(await accessibilityViolations(page)).toEqual([]);
  const done = page.getByRole('button', { name: 'Done' });
  await expect(done).toBeDisabled();
  await page.getByLabel('I have saved these codes').check();
  await done.click();
  await expect(page.locator('#tf-status')).toContainText('on');
  await expect(page.locator('#codes-left')).toHaveText('10 unused');
  expect(await accessibilityViolations(page)).toEqual([]);
});

test('sign in with the authenticator app', async ({ page }, testInfo) => {
  await nextStep(page);
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  await shot(page, 'second-step', testInfo);
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.getByLabel('6-digit code from your authenticator app').fill(code(key));
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL('/');
  await expect(page.locator('#me-email')).toHaveText(USER.email);
  await signOut(page);
});

test('sign in with a backup code and see the count drop', async ({ page }) => {
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Use a backup code' }).click();
  await page.getByLabel('Backup code').fill(backupCodes[0].toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL('/');
  await page.goto('/security');
  await expect(page.locator('#codes-left')).toHaveText('9 unused');
});

test('a used backup code is refused with a plain message', async ({ page }) => {
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Use a backup code' }).click();
  await page.getByLabel('Backup code').fill(backupCodes[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toContainText('not right');
  await expect(page).toHaveURL('/signin/verify');
});

test('regenerate backup codes, then turn two-step authentication off', async ({ page }) => {
  await nextStep(page);
  await signIn(page, USER.email, USER.password);
  // Wait for the second-step page itself: the sign-in page is hydrated too, and a
  // click before the new page hydrates would be lost.
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  await page.getByLabel('6-digit code from your authenticator app').fill(code(key));
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL('/');
  await page.goto('/security');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Create new codes' }).click();
  await page.getByLabel('Your current password').fill(USER.password);
  await page.getByRole('button', { name: 'Create new codes' }).click();
  const codes = page.locator('#backup-codes li');
  await expect(codes).toHaveCount(10);
  const fresh = (await codes.allInnerTexts()).map((c) => c.trim());
  expect(fresh).not.toContain(backupCodes[1]);
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('#codes-left')).toHaveText('10 unused');

  await page.getByRole('button', { name: 'Turn off two-step authentication' }).click();
  await page.getByLabel('Your current password').fill(USER.password);
  await page.getByRole('button', { name: 'Turn off', exact: true }).click();
  await expect(page.locator('#tf-status')).toContainText('off');
  await signOut(page);
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/', { timeout: 10_000 });
});

import path from 'node:path';
import { test, expect, signIn, waitForHydration, accessibilityViolations } from './fixtures';

const ADMIN = { email: 'admin@riverside.example', password: 'demo admin passphrase' };
const GENERIC_ERROR = 'Email or password is wrong.';

// The sign-in page, possibly with a query string (e.g. after being signed out).
const SIGNIN_URL = /\/signin(\?.*)?$/;

// No test here depends on another one: each uses its own account or leaves its account
// unchanged, so the default (non-serial) mode is kept and one failure does not skip the rest.
// workers: 1 in playwright.config.ts still runs them one at a time, in file order.

test('demo admin signs in, sees home, signs out', async ({ page }, testInfo) => {
  await signIn(page, ADMIN.email, ADMIN.password);
  await expect(page).toHaveURL('/');
  await expect(page.locator('#me-email')).toHaveText(ADMIN.email);
  await expect(page.locator('#me-role')).toHaveText('Administrator');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Alex Morgan');

  const screenshot = path.join(testInfo.project.outputDir, 'screenshots', 'home.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  await testInfo.attach('home', { path: screenshot, contentType: 'image/png' });

  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(SIGNIN_URL);

  // The session is gone: the home page sends us back to sign in.
  await page.goto('/');
  await expect(page).toHaveURL(SIGNIN_URL);
});

test('wrong password shows the generic error', async ({ page }) => {
  await signIn(page, ADMIN.email, 'not the password at all');
  await expect(page.getByRole('alert')).toContainText(GENERIC_ERROR);
  await expect(page).toHaveURL('/signin');
});

test('unknown email shows the same generic error', async ({ page }) => {
  await signIn(page, 'nobody@riverside.example', 'not the password at all');
  await expect(page.getByRole('alert')).toContainText(GENERIC_ERROR);
  await expect(page).toHaveURL('/signin');
});

test('pages hydrate without console errors', async ({ page, consoleErrors }) => {
  await page.goto('/signin');
  await waitForHydration(page);
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeEnabled();
  expect(consoleErrors).toEqual([]);
});

test('sign-in page has no accessibility violations', async ({ page }) => {
  await page.goto('/signin');
  await waitForHydration(page);
  expect(await accessibilityViolations(page)).toEqual([]);
});

test('virtual authenticator is attached', async ({ page, authenticator }) => {
  await page.goto('/signin');
  await waitForHydration(page);
  expect(authenticator.authenticatorId).toBeTruthy();
  expect(await page.evaluate(() => typeof window.PublicKeyCredential)).toBe('function');
  expect(await authenticator.credentials()).toHaveLength(0);
});

test.describe('password change', () => {
  // Uses the reception account only, so the other tests' accounts keep their passwords.
  // Note: the password stays changed, so a re-run needs a fresh database (the xtask gives one).
  const RECEPTION = { email: 'reception@riverside.example', password: 'demo staff passphrase' };
  const NEW_PASSWORD = 'a brand new reception passphrase';

  test('staff member changes password, old password stops working', async ({ page }) => {
    await signIn(page, RECEPTION.email, RECEPTION.password);
    await expect(page).toHaveURL('/');
    await expect(page.locator('#me-role')).toHaveText('Staff');

    await waitForHydration(page);
    await page.getByRole('link', { name: 'Change password' }).click();
    await expect(page).toHaveURL('/password');
    await waitForHydration(page);
    await page.locator('#current').fill(RECEPTION.password);
    await page.locator('#new').fill(NEW_PASSWORD);
    await page.locator('#confirm').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByRole('status')).toContainText('Your password was changed');

    await page.goto('/');
    await waitForHydration(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(SIGNIN_URL);

    await signIn(page, RECEPTION.email, RECEPTION.password);
    await expect(page.getByRole('alert')).toContainText(GENERIC_ERROR);
    await expect(page).toHaveURL('/signin');

    await signIn(page, RECEPTION.email, NEW_PASSWORD);
    await expect(page).toHaveURL('/');
    await expect(page.locator('#me-email')).toHaveText(RECEPTION.email);
  });
});

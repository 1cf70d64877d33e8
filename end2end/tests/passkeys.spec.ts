import path from 'node:path';
import { test, expect, signIn, waitForHydration, accessibilityViolations } from './fixtures';

// nurse.jones is this file's account: nothing else in the suite touches it.
const USER = { email: 'nurse.jones@riverside.example', password: 'demo staff passphrase' };

// One test: the virtual authenticator (and the passkey in it) lives as long as the page.
test('add a passkey, see it listed, sign in with it; a cancelled prompt says so plainly; removing it turns 2FA off', async ({
  page,
  authenticator,
}, testInfo) => {
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/');
  await page.goto('/security');
  await waitForHydration(page);
  await expect(page.locator('#no-passkeys')).toBeVisible();

  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByLabel('Name').fill('Work MacBook Touch ID');
  await page.getByLabel('Your current password').fill(USER.password);
  await page.getByRole('button', { name: 'Continue' }).click();

  // The first factor turns two-step authentication on: codes are shown once.
  await expect(page.locator('#backup-codes li')).toHaveCount(10);
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('#passkey-list .passkey-name')).toHaveText(['Work MacBook Touch ID']);
  await expect(page.locator('#tf-status')).toContainText('on');
  expect(await authenticator.credentials()).toHaveLength(1);
  const shot = path.join(testInfo.project.outputDir, 'screenshots', 'profile-with-passkey.png');
  await page.screenshot({ path: shot, fullPage: true });
  expect(await accessibilityViolations(page)).toEqual([]);

  // Sign out, and back in with the passkey.
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/signin/verify');
  await waitForHydration(page);
  const usePasskey = page.getByRole('button', { name: 'Use your passkey' });
  await expect(usePasskey).toBeVisible();

  // The fingerprint does not match: the prompt fails, and the page says so in words.
  await authenticator.setUserVerified(false);
  await usePasskey.click();
  await expect(page.getByRole('alert')).toContainText('cancelled or timed out');
  await expect(page).toHaveURL('/signin/verify');

  await authenticator.setUserVerified(true);
  await usePasskey.click();
  await expect(page).toHaveURL('/');
  await expect(page.locator('#me-email')).toHaveText(USER.email);
  const [credential] = await authenticator.credentials();
  expect(credential.signCount).toBeGreaterThan(0);

  await page.goto('/security');
  await waitForHydration(page);
  await expect(page.locator('#passkey-list')).toContainText('Last used');

  // Removing the only method warns first, then turns two-step authentication off.
  await page.getByRole('button', { name: 'Remove the passkey Work MacBook Touch ID' }).click();
  await expect(page.locator('#last-method-warning')).toContainText('turns two-step authentication off');
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.getByLabel('Your current password').fill(USER.password);
  await page.getByRole('button', { name: 'Remove passkey' }).click();
  await expect(page.locator('#tf-status')).toContainText('off');
  await expect(page.locator('#no-passkeys')).toBeVisible();

  // Back to the password alone: signing in goes straight home.
  await page.goto('/');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await signIn(page, USER.email, USER.password);
  await expect(page).toHaveURL('/');
});

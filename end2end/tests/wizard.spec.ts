import { execFileSync } from 'node:child_process';
import { test, expect, signIn, waitForHydration, accessibilityViolations } from './fixtures';

// The admin is this file's account, and it runs last (files run in name order, one worker):
// it turns the organisation's requirement on with the operator's command line, and off again.
const ADMIN = { email: 'admin@riverside.example', password: 'demo admin passphrase' };

/** `tessera organisation require-two-factor on|off` against the running server's database. */
function requireTwoFactor(state: 'on' | 'off'): string {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set: run the browser tests with `cargo xtask e2e`');
  return execFileSync(bin, ['organisation', 'require-two-factor', state], { encoding: 'utf8' });
}

test.afterAll(() => {
  requireTwoFactor('off');
});

test('required two-step authentication: a user without it reaches only the wizard, sets up a passkey, then gets in', async ({
  page,
  authenticator,
}) => {
  expect(requireTwoFactor('on')).toContain('required for everyone');

  await signIn(page, ADMIN.email, ADMIN.password);
  await expect(page).toHaveURL('/setup-2fa');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Set up two-step authentication' })).toBeVisible();
  expect(await accessibilityViolations(page)).toEqual([]);

  // Nothing else opens until setup is done.
  for (const path of ['/', '/security', '/password']) {
    await page.goto(path);
    await expect(page).toHaveURL('/setup-2fa');
  }
  await waitForHydration(page);

  await page.getByRole('button', { name: 'Use a passkey (recommended)' }).click();
  await page.getByLabel('Name').fill('Front desk Windows Hello');
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.locator('#backup-codes li')).toHaveCount(10);
  expect(await authenticator.credentials()).toHaveLength(1);
  await page.getByLabel('I have saved these codes').check();
  await page.getByRole('button', { name: 'Done' }).click();

  await expect(page).toHaveURL('/');
  await expect(page.locator('#me-email')).toHaveText(ADMIN.email);
  await page.goto('/security');
  await expect(page.locator('#passkey-list .passkey-name')).toHaveText(['Front desk Windows Hello']);
  // Required: the way out is explained, not offered.
  await expect(page.getByText('Your organisation requires two-step authentication')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Turn off two-step authentication' })).toHaveCount(0);
});

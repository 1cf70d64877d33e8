import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type CDPSession, type Page } from '@playwright/test';

/** A CDP virtual platform authenticator: the stand-in for Touch ID / Windows Hello. */
export type VirtualAuthenticator = {
  cdp: CDPSession;
  authenticatorId: string;
  /** The credentials the authenticator holds (WebAuthn.getCredentials). */
  credentials(): Promise<any[]>;
  /** `false` makes Chromium refuse user verification, as if the fingerprint did not match. */
  setUserVerified(isUserVerified: boolean): Promise<void>;
};

type Fixtures = {
  /** Console `error` messages and uncaught page errors seen on `page` since the test began. */
  consoleErrors: string[];
  authenticator: VirtualAuthenticator;
};

export const test = base.extend<Fixtures>({
  consoleErrors: [async ({ page }, use, testInfo) => {
    const errors: string[] = [];
    const ignored = (text: string, url = '') => text.includes('favicon') || url.includes('favicon');
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const url = msg.location().url;
      if (ignored(msg.text(), url)) return;
      errors.push(url ? `${msg.text()} (${url})` : msg.text());
    });
    page.on('pageerror', (err) => {
      const text = `pageerror: ${err.stack ?? err.message}`;
      if (!ignored(text)) errors.push(text);
    });
    // Not counted as errors (a navigation aborts requests), but printed with a failure.
    const network: string[] = [];
    page.on('requestfailed', (request) => {
      network.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
    });
    page.on('response', async (response) => {
      if (response.status() >= 500) network.push(`HTTP ${response.status()}: ${response.url()}`);
      if (response.request().isNavigationRequest()) {
        const csp = (await response.allHeaders())['content-security-policy'] ?? 'none';
        network.push(`page ${response.status()} ${response.url()} csp: ${csp.slice(0, 40)}`);
      }
    });
    await use(errors);
    // When a test fails, what the browser saw is printed with it.
    const seen = [...errors, ...network];
    if (testInfo.status !== testInfo.expectedStatus && seen.length > 0) {
      console.log(`browser errors during "${testInfo.title}":\n${seen.join('\n')}`);
    }
  }, { auto: true }],

  authenticator: async ({ page }, use) => {
    const authenticator = await addAuthenticator(page);
    await use(authenticator);
    await authenticator.remove();
  },
});

/** Attaches a virtual platform authenticator to `page` (one per page; `remove` detaches it). */
export async function addAuthenticator(page: Page): Promise<VirtualAuthenticator & { remove(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    setUserVerified: async (isUserVerified: boolean) => {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
    // The page may already be closed at teardown; then the authenticator went with it.
    remove: async () => {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId }).catch(() => {});
      await cdp.send('WebAuthn.disable').catch(() => {});
      await cdp.detach().catch(() => {});
    },
  };
}

export { expect };

/** Waits until the app has hydrated: it sets `data-hydrated="true"` on <body> then. */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body?.dataset.hydrated === 'true');
}

/** Opens /signin, waits for hydration, fills the form and submits it. Callers assert the outcome. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/signin');
  await waitForHydration(page);
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** axe-core's WCAG checks on the page as it is now; violations listed by rule and element. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
}

/** Mail the server wrote to its outbox folder (the embedded default) that mentions all of
 *  `needles`, with quoted-printable soft line breaks and `=XX` escapes undone. */
export function mailWith(...needles: string[]): string | undefined {
  const dir = path.join(process.env.TESSERA_DATA_DIR ?? '', 'outbox');
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return undefined;
  }
  return files
    .map((f) =>
      readFileSync(path.join(dir, f), 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    )
    .find((m) => needles.every((n) => m.includes(n)));
}

/** The `?token=…` of the first `path` link in `mail`. */
export function linkQuery(mail: string | undefined, path: string): string {
  const escaped = path.replace(/[/]/g, '\\/');
  const link = new RegExp(`https?://[^\\s]+${escaped}\\?token=[A-Za-z0-9_-]+`).exec(mail ?? '')?.[0] ?? '';
  return new URL(link).search;
}

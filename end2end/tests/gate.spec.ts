import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test, expect, waitForHydration } from './fixtures';

// The forward-auth gate in a browser: Debian's nginx, on the configuration operators are
// given (deploy/nginx/tessera.conf and protected-site.conf), in front of a Tessera of this
// file's own (https behind nginx, TESSERA_GATE_DOMAIN=tessera.test) and of a small site
// that answers with the Remote-* headers it received. Chromium resolves *.tessera.test to
// 127.0.0.1 and accepts the throwaway certificate.

const USER = { email: 'dr.patel@riverside.example', password: 'demo staff passphrase' };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((closed) => server.close(closed));
  return port;
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const open = await new Promise<boolean>((answer) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); answer(true); });
      socket.on('error', () => answer(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on ${port}`);
}

const port = { nginx: 0, plain: 0, tessera: 0, site: 0 };
let dir = '';
let tesseraProcess: ChildProcess | undefined;
let nginx: ChildProcess | undefined;
let site: http.Server | undefined;
const origin = () => `https://tessera.test:${port.nginx}`;
const wiki = (p = '/') => `https://wiki.tessera.test:${port.nginx}${p}`;

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TESSERA_DATA_DIR: path.join(dir, 'data'),
    TESSERA_PUBLIC_URL: origin(),
    TESSERA_GATE_DOMAIN: 'tessera.test',
    TESSERA_TRUST_FORWARDED_FOR: 'true',
    LEPTOS_SITE_ADDR: `127.0.0.1:${port.tessera}`,
    LEPTOS_SITE_ROOT: process.env.TESSERA_SITE_ROOT,
    RUST_LOG: 'warn',
  };
}

function tessera(args: string[]): string {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set: run the browser tests with `cargo xtask e2e`');
  return execFileSync(bin, args, { encoding: 'utf8', env: env() });
}

/** The deploy files with this test's names, ports and certificate put in. */
function nginxConfig(): string {
  const deploy = (name: string) => readFileSync(path.join(__dirname, '..', '..', 'deploy', 'nginx', name), 'utf8');
  const put = (text: string, pairs: [string, string][]) =>
    pairs.reduce((t, [from, to]) => {
      if (!t.includes(from)) throw new Error(`the deploy file no longer has ${from}`);
      return t.split(from).join(to);
    }, text);
  const certs: [string, string][] = [
    ['/etc/ssl/tessera/fullchain.pem', path.join(dir, 'cert.pem')],
    ['/etc/ssl/tessera/privkey.pem', path.join(dir, 'key.pem')],
  ];
  const front = put(deploy('tessera.conf'), [
    ['server 127.0.0.1:3001', `server 127.0.0.1:${port.tessera}`],
    ['server 127.0.0.1:3002', `server 127.0.0.1:${port.tessera}`],
    ['listen 80;', `listen 127.0.0.1:${port.plain};`],
    ['listen 443 ssl;', `listen 127.0.0.1:${port.nginx} ssl;`],
    ['tessera.clinic.example', 'tessera.test'],
    ...certs,
  ]);
  const gated = put(deploy('protected-site.conf'), [
    ['wiki.clinic.example', 'wiki.tessera.test'],
    ['listen 443 ssl;', `listen 127.0.0.1:${port.nginx} ssl;`],
    ['http://127.0.0.1:8080', `http://127.0.0.1:${port.site}`],
    ...certs,
  ]);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((n) => `${n}_temp_path ${dir}/${n};`).join(' ');
  return `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\n` +
    `events { worker_connections 256; }\nhttp {\n access_log off;\n ${temp}\n${front}\n${gated}\n}\n`;
}

test.use({
  ignoreHTTPSErrors: true,
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
      '--host-resolver-rules=MAP tessera.test 127.0.0.1, MAP *.tessera.test 127.0.0.1'],
  },
});

test.beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-gate-'));
  port.nginx = await freePort();
  port.plain = await freePort();
  port.tessera = await freePort();
  // The protected site: says which Remote-* headers reached it.
  site = http.createServer((req, res) => {
    const h = (n: string) => String(req.headers[n] ?? '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!DOCTYPE html><html lang="en"><head><title>Wiki</title></head><body><main><h1>Wiki</h1>` +
      `<p id="seen">user=${h('remote-user')}|email=${h('remote-email')}|role=${h('remote-role')}</p></main></body></html>`);
  });
  await new Promise<void>((ready) => site!.listen(0, '127.0.0.1', ready));
  port.site = (site.address() as net.AddressInfo).port;

  tesseraProcess = spawn(process.env.TESSERA_BIN!, ['serve', '--demo'], { env: env(), stdio: 'ignore' });
  await listening(port.tessera);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=tessera.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig());
  const binary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => { try { readFileSync(p); return true; } catch { return false; } });
  nginx = spawn(binary!, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  await listening(port.nginx);
});

test.afterAll(() => {
  nginx?.kill('SIGTERM');
  tesseraProcess?.kill('SIGTERM');
  site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a site behind the gate: sign in at Tessera, back at the page as Tessera says, and its rules hold', async ({ page, browser }) => {
  tessera(['gate', 'add', '--name', 'Procedures wiki', '--host', `wiki.tessera.test:${port.nginx}`, '--password-enough']);

  // Not signed in: nginx sends the browser to Tessera's sign-in.
  await page.goto(wiki('/procedures'));
  await expect(page).toHaveURL(`${origin()}/signin`);
  await expect(page.locator('#signing-in-to')).toContainText('Signing you in to Procedures wiki');
  await waitForHydration(page);
  await page.locator('#email').fill(USER.email);
  await page.locator('#password').fill(USER.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();

  // Back at the page, seen by the site as the person Tessera signed in.
  await expect(page).toHaveURL(wiki('/procedures'));
  await expect(page.locator('#seen')).toHaveText(`user=${USER.email}|email=${USER.email}|role=staff`);

  // A Remote-User the browser sends itself is replaced by Tessera's answer…
  await page.setExtraHTTPHeaders({ 'remote-user': 'admin@riverside.example', 'remote-role': 'admin' });
  await page.reload();
  await expect(page.locator('#seen')).toHaveText(`user=${USER.email}|email=${USER.email}|role=staff`);
  // …and without a Tessera session it gets nobody through.
  const stranger = await browser.newContext({ ignoreHTTPSErrors: true, extraHTTPHeaders: { 'remote-user': 'admin@riverside.example' } });
  const other = await stranger.newPage();
  await other.goto(wiki('/procedures'));
  await expect(other).toHaveURL(`${origin()}/signin`);
  await stranger.close();

  // The site now requires two steps: the same password-only session is refused, and
  // Tessera says why.
  tessera(['gate', 'remove', `wiki.tessera.test:${port.nginx}`]);
  tessera(['gate', 'add', '--name', 'Procedures wiki', '--host', `wiki.tessera.test:${port.nginx}`]);
  await page.setExtraHTTPHeaders({});
  await page.goto(wiki('/procedures'));
  await expect(page.getByRole('heading', { name: 'Not open to you' }).or(page.getByRole('heading', { name: /You cannot open/ }))).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('needs two-step sign-in');
});

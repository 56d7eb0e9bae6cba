// Uploaders who are an application's users, by tokens it signs (UPLOAD_AUTH=token): minted here
// with `jose`, as an application would. The page takes the token from its address's fragment,
// exchanges it for a session and removes it; uploads go under the user's own prefix, with their
// name stored beside them; signing out ends it; the application's sign-in page (played by the
// test, at UPLOAD_SIGN_IN_URL) sends the person back with a fresh token, and an upload in parts
// cut off by the end of a session resumes, sending only what the bucket lacks. Two users in one
// browser, one after the other, cannot use each other's uploads.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Page, type Route } from '@playwright/test';
import { SignJWT } from 'jose';
import { backendFor, need } from './bucket';

const MiB = 1024 * 1024;
const backend = () => backendFor(test.info().project.name);

/** A token for `subject`, as the application signs it. */
async function tokenFor(subject: string): Promise<string> {
  return new SignJWT({ roles: ['uploader'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer(need('TOKEN_ISSUER'))
    .setAudience(need('TOKEN_AUDIENCE'))
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(need('TOKEN_HS256_SECRET')));
}

/** The prefix the service derives for a user: SHA-256 of issuer, a zero byte and subject. */
function prefixOf(subject: string): string {
  const id = createHash('sha256').update(`${need('TOKEN_ISSUER')}\0${subject}`).digest('hex').slice(0, 32);
  return `uploads/${id}/`;
}

/** The application's sign-in page: it signs in whoever `who()` names and sends them back. */
async function playSignInPage(page: Page, who: () => string) {
  await page.route('http://127.0.0.1:3118/sign-in**', async (route) => {
    const back = new URL(route.request().url()).searchParams.get('return_to');
    expect(back, 'the page says where to come back to').toBeTruthy();
    await route.fulfill({ status: 302, headers: { location: `${back}#token=${await tokenFor(who())}` } });
  });
}

/** Follows the page's sign-in link once the wasm has made it say where to come back to: before,
 * it is the bare sign-in URL (the way without JavaScript). */
async function followSignIn(page: Page) {
  const link = page.locator('a.sign-in-link');
  await expect(link).toHaveAttribute('href', /^http:\/\/127\.0\.0\.1:3118\/sign-in\?return_to=http%3A%2F%2F/);
  await link.click();
}

async function signedInAs(page: Page, name: string) {
  await expect(page.locator('.account-name')).toHaveText(name);
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  expect(page.url(), 'the token leaves the address bar').not.toContain('token');
}

test('a token in the address becomes a session; uploads go under its user; sign-out ends it', async ({ page }) => {
  const signRequests: string[] = [];
  page.on('request', (req) => {
    if (req.url().includes('/api/')) signRequests.push(req.url());
  });
  await page.goto(`/#token=${await tokenFor('ada')}`);
  await signedInAs(page, 'ada');
  expect(signRequests.join(' '), 'the token never travels in a URL').not.toContain('ey');

  await page.setInputFiles('.picker input[type=file]', { name: 'ada.txt', mimeType: 'text/plain', buffer: Buffer.from('from ada') });
  const row = page.locator('.upload', { hasText: 'ada.txt' });
  await expect(row).toHaveAttribute('data-status', 'done');
  const key = (await row.getAttribute('data-key'))!;
  expect(key.startsWith(prefixOf('ada'))).toBe(true);
  const stored = await backend().getObject(key);
  expect(stored.body.toString()).toBe('from ada');
  expect(stored.metadata.uploader, 'who uploaded is stored with the object').toBe('ada');
  await expect(page.locator('.your-uploads li', { hasText: 'ada.txt' })).toBeVisible();

  // Signed out: nothing signs, and the page says how to sign in again.
  await page.locator('button.sign-out').click();
  await expect(page.locator('.account.signed-out')).toContainText('you are not signed in');
  // The link says where to come back to (without JavaScript it is the bare sign-in URL).
  await expect(page.locator('a.sign-in-link')).toHaveAttribute(
    'href',
    `http://127.0.0.1:3118/sign-in?return_to=${encodeURIComponent(new URL('/', page.url()).href)}`,
  );
  const refused = await page.request.post('/api/my_uploads', { headers: { accept: 'application/json' } });
  expect(refused.status()).toBe(401);
  expect(refused.headers()['www-authenticate']).toBe('Bearer');
  expect((await refused.json()).SignIn.reason).toBe('missing');

  // Choosing a file now sends the person to sign in; back as someone else, who sees none of
  // ada's uploads.
  await playSignInPage(page, () => 'bob');
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await page.setInputFiles('.picker input[type=file]', { name: 'bob.txt', mimeType: 'text/plain', buffer: Buffer.from('from bob') });
  await signedInAs(page, 'bob');
  await expect(page.locator('.your-uploads .empty')).toHaveText('Nothing yet.');
});

test('an upload in parts cut off by the end of a session resumes after signing in, and only as its user', async ({ page, context }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'identity-e2e-'));
  try {
    // Five parts of 8 MiB (this instance sends files over 5 MiB in parts).
    const file = path.join(dir, 'long.bin');
    const fd = openSync(file, 'w');
    const bytes = randomBytes(40 * MiB);
    writeSync(fd, bytes);
    closeSync(fd);
    const sha256 = createHash('sha256').update(bytes).digest('hex');

    let user = 'ada';
    await playSignInPage(page, () => user);
    await page.goto(`/#token=${await tokenFor('ada')}`);
    await signedInAs(page, 'ada');
    // Two parts reach the bucket; the session ends while the rest are on their way.
    let letThrough = 2;
    const held: Route[] = [];
    await page.route(/partNumber=/, (route) => {
      if (letThrough > 0) {
        letThrough -= 1;
        return route.continue();
      }
      held.push(route);
    });
    const stored: number[] = [];
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (res.request().method() === 'PUT' && url.searchParams.has('partNumber') && res.status() === 200) {
        stored.push(Number(url.searchParams.get('partNumber')));
      }
    });
    await page.setInputFiles('.picker input[type=file]', file);
    await expect.poll(() => stored.length, { timeout: 60_000 }).toBe(2);
    const before = [...stored];
    // The route stays until the page that asked for the parts is gone: a part asked for just
    // before would otherwise go through (as in multipart.spec.ts).
    await context.clearCookies();
    await page.goto('/');
    for (const route of held) await route.abort().catch(() => {});
    await page.unroute(/partNumber=/);
    await expect(page.locator('.account.signed-out')).toBeVisible();

    // Someone else signs in on this browser: the unfinished upload is listed (it is this
    // browser's), but it is not theirs to resume.
    user = 'bob';
    await followSignIn(page);
    await signedInAs(page, 'bob');
    const entry = page.locator('.unfinished-upload', { hasText: 'long.bin' });
    await expect(entry).toBeVisible();
    const puts: number[] = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (req.method() === 'PUT' && url.searchParams.has('partNumber')) puts.push(Number(url.searchParams.get('partNumber')));
    });
    await entry.locator('input[type=file]').setInputFiles(file);
    const row = page.locator('.upload', { hasText: 'long.bin' });
    await expect(row).toHaveAttribute('data-status', 'failed');
    expect(puts, 'nothing is sent for another user').toEqual([]);
    expect(await backend().keysUnder(prefixOf('bob'))).toEqual([]);

    // Back as ada: the upload resumes with the three parts the bucket lacks.
    await page.locator('button.sign-out').click();
    await expect(page.locator('.account.signed-out')).toBeVisible();
    user = 'ada';
    await followSignIn(page);
    await signedInAs(page, 'ada');
    await page.locator('.unfinished-upload', { hasText: 'long.bin' }).locator('input[type=file]').setInputFiles(file);
    const resumed = page.locator('.upload', { hasText: 'long.bin' });
    await expect(resumed).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    const sent = [...new Set(puts)].sort((a, b) => a - b);
    expect(sent).toEqual([1, 2, 3, 4, 5].filter((n) => !before.includes(n)));
    const key = (await resumed.getAttribute('data-key'))!;
    expect(key.startsWith(prefixOf('ada'))).toBe(true);
    const { body } = await backend().getObject(key);
    expect(createHash('sha256').update(body).digest('hex')).toBe(sha256);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

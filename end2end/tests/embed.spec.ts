// The embeddable uploader (docs/embed.md) in the host application of examples/host-app, served
// on another origin (localhost) than the uploader (127.0.0.1): its backend mints the tokens, its
// page frames /embed/avatars and hands the token over, and it receives the webhooks. The
// uploader runs with UPLOAD_AUTH=token, UPLOAD_EMBED_ORIGINS naming the host app's origin
// only, and a dev bucket (scripts/test.sh).
import { createHash, randomBytes } from 'node:crypto';
import { expect, test, type Locator, type Page } from '@playwright/test';

const uploader = process.env.EMBED_APP_URL ?? 'http://127.0.0.1:3124';
const host = process.env.EMBED_HOST_URL ?? 'http://localhost:3126';
/** The same host app on an origin the uploader does not list. */
const elsewhere = host.replace('localhost', '127.0.0.1');

const said = (page: Page, type: string) => page.locator(`#messages li[data-type="${type}"]`);
const message = async (item: Locator) => JSON.parse((await item.textContent())!);

function frameAnswer(page: Page) {
  return page.waitForResponse((res) => res.url().startsWith(`${uploader}/embed/`));
}

// A picture as far as its first bytes go: the avatars profile's files must show PNG's magic
// numbers (content_check, lenient by default).
const picture = (bytes: number) => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(bytes - 8)]);

async function upload(page: Page, name: string, body: Buffer) {
  const frame = page.frameLocator('#uploader');
  await expect(frame.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await frame.locator('input[type=file]').setInputFiles({ name, mimeType: 'image/png', buffer: body });
  await expect(said(page, 'upload:verified')).toHaveCount(1, { timeout: 30_000 });
  return message(said(page, 'upload:verified'));
}

test('framed by the host app, the uploader takes its token, uploads, and says what the bucket checked', async ({ page }) => {
  const body = picture(3000);
  const sha256 = createHash('sha256').update(body).digest('base64');
  const answered = frameAnswer(page);
  await page.goto(host);
  const answer = await answered;
  expect(answer.status()).toBe(200);
  expect(answer.headers()['content-security-policy']).toBe(`frame-ancestors ${host}`);
  expect(answer.headers()['x-frame-options']).toBeUndefined();
  await expect(said(page, 'upload:ready')).toHaveCount(1);
  // With the token the frame knows whom it uploads for; the profile's limits are shown.
  const frame = page.frameLocator('#uploader');
  await expect(frame.locator('.limits')).toContainText('Profile avatars');
  await expect(frame.locator('.waiting')).toHaveCount(0);

  const verified = await upload(page, 'me.png', body);
  expect(verified).toMatchObject({ v: 1, name: 'me.png', size: 3000, checksum_sha256: sha256 });
  expect(verified.key).toMatch(/^uploads\/[0-9a-f]{32}\/avatars\/ffff[0-9a-f]{28}\/me\.png$/);
  expect(await message(said(page, 'upload:queued'))).toMatchObject({ v: 1, name: 'me.png', size: 3000 });
  const steps = await Promise.all((await said(page, 'upload:progress').all()).map(message));
  expect(steps.map((s) => s.percent)).toContain(100);
  expect(steps.every((s) => s.percent % 25 === 0)).toBe(true);
  expect((await message(said(page, 'upload:height').last())).height).toBeGreaterThan(100);
  // No cookie: every call carried the token.
  expect(await page.context().cookies(uploader)).toEqual([]);

  // The host app's webhook receiver got the same upload, verified by its library.
  const events = async () => (await (await page.request.get(`${host}/events`)).json()) as any[];
  await expect.poll(async () => (await events()).map((e) => e.data.key), { timeout: 15_000 }).toContain(verified.key);
  const event = (await events()).find((e) => e.data.key === verified.key);
  expect(event.type).toBe('upload.verified');
  expect(event.data.checksum.value).toBe(sha256);
  expect(event.data.uploader.subject).toBe('demo-user');
  expect(event.data.profile).toBe('avatars');
});

test('a token that has expired: upload:token-expired, a fresh token, and the upload goes on', async ({ page }) => {
  await page.goto(`${host}/?first_token=expired`);
  const verified = await upload(page, 'late.png', picture(1000));
  expect(verified.key).toMatch(/\/avatars\/.*\/late\.png$/);
  expect(await said(page, 'upload:token-expired').count()).toBeGreaterThanOrEqual(1);
  await expect(said(page, 'upload:failed')).toHaveCount(0);
});

test('a page on an origin not listed cannot frame it, whatever origin it claims, and hears nothing', async ({ page }) => {
  // Honest: the uploader refuses to be served for that origin.
  let answered = frameAnswer(page);
  await page.goto(`${elsewhere}/`);
  let answer = await answered;
  expect(answer.status()).toBe(403);
  expect(answer.headers()['content-security-policy']).toBe("frame-ancestors 'none'");
  // Claiming the listed origin: served for that origin alone, so the browser will not show it
  // here.
  answered = frameAnswer(page);
  await page.goto(`${elsewhere}/?origin=${encodeURIComponent(host)}`);
  answer = await answered;
  expect(answer.headers()['content-security-policy']).toBe(`frame-ancestors ${host}`);
  await page.waitForTimeout(2_000);
  await expect(page.locator('#messages li')).toHaveCount(0);
});

test('a token posted from another origin is ignored', async ({ page }) => {
  // Calls the frame makes with a token.
  const authorized: string[] = [];
  page.on('request', (req) => {
    if (req.url().startsWith(`${uploader}/api/`) && req.headers()['authorization']) authorized.push(req.url());
  });
  // The host hands no token; a page on another origin, framed beside the uploader, posts one.
  await page.goto(`${host}/?first_token=none&other_origin=${encodeURIComponent(elsewhere)}`);
  await expect(said(page, 'upload:ready')).toHaveCount(1);
  const other = () => page.frames().find((f) => f.url().endsWith('/other-origin'));
  // It posts every 250 ms: some after the uploader listens.
  await expect.poll(async () => Number((await other()?.title())?.split(' ')[1] ?? 0)).toBeGreaterThan(8);
  await expect(page.frameLocator('#uploader').locator('.waiting')).toBeVisible();
  expect(authorized).toEqual([]);
});

// Files in parts (multipart upload), end to end: a file above the threshold (64 MiB) goes in
// 8 MiB parts, each PUT straight to the bucket with its own signed URL and SHA-256; it survives
// a reload, a part whose bytes change, an expired URL; cancelling leaves nothing behind; a URL
// or receipt of one uploader is no use to another. Against Garage and the dev bucket.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Locator, type Page, type Request, type Route } from '@playwright/test';
import { backendFor } from './bucket';
import { countNativeDigests, expectFailed, nativeDigests, openUploader } from './page';

const backend = () => backendFor(test.info().project.name);
const MiB = 1024 * 1024;
const PART = 8 * MiB;

test.describe.configure({ timeout: 240_000 });

let dir: string;
test.beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'multipart-e2e-'));
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` random bytes on disk (the page gets it as a real file, with its mtime). */
function bigFile(name: string, size: number): { path: string; sha256: string } {
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  for (let left = size; left > 0; left -= 16 * MiB) {
    const chunk = randomBytes(Math.min(16 * MiB, left));
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  return { path: file, sha256: hash.digest('hex') };
}

const isPartPut = (req: Request) => req.method() === 'PUT' && req.url().includes('partNumber=');
const partNumber = (url: string) => Number(new URL(url).searchParams.get('partNumber'));

/** Every part PUT the page sends, as it happens. */
function recordPartPuts(page: Page): string[] {
  const puts: string[] = [];
  page.on('request', (req) => {
    if (isPartPut(req)) puts.push(req.url());
  });
  return puts;
}

async function expectStored(key: string, sha256: string) {
  const { body } = await backend().getObject(key);
  expect(createHash('sha256').update(body).digest('hex')).toBe(sha256);
}

async function doneKey(page: Page, name: string): Promise<string> {
  const row = page.locator('.upload', { hasText: name });
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  return (await row.getAttribute('data-key'))!;
}

test('a 300 MiB file goes in 38 parts of 8 MiB and arrives byte for byte', async ({ page }) => {
  const file = bigFile('three-hundred.bin', 300 * MiB);
  const puts = recordPartPuts(page);
  const starts: string[] = [];
  page.on('request', (req) => req.url().endsWith('/api/start_multipart') && starts.push(req.url()));
  await countNativeDigests(page);
  await openUploader(page);
  await page.setInputFiles('.picker input[type=file]', file.path);
  const key = await doneKey(page, 'three-hundred.bin');
  expect(starts).toHaveLength(1);
  expect(puts.map(partNumber).sort((a, b) => a - b)).toEqual(Array.from({ length: 38 }, (_, i) => i + 1));
  await expectStored(key, file.sha256);
  expect(await backend().multipartUploads()).not.toContain(key);
  // Each part hashed once, by the browser's own SHA-256.
  expect(await nativeDigests(page)).toBe(38);
  // Listed in "Your uploads", as any upload.
  await expect(page.locator('.your-uploads li', { hasText: 'three-hundred.bin' })).toBeVisible();
});

/** The split-off wasm that holds the code for files in parts (`scripts/build.sh` splits it). */
const isPartsCode = (url: URL) => /^\/pkg\/split_parts\.[\w-]+\.wasm$/.test(url.pathname);

test('the first load does not fetch the code for files in parts; two files in parts fetch it once', async ({ page }) => {
  const partsCode: string[] = [];
  const wasm: string[] = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (isPartsCode(url)) partsCode.push(url.pathname);
    else if (url.pathname.endsWith('.wasm')) wasm.push(url.pathname);
  });
  await openUploader(page);
  const small = path.join(dir, 'one-request.txt');
  writeFileSync(small, 'a file that goes in one request');
  await page.setInputFiles('.picker input[type=file]', small);
  await doneKey(page, 'one-request.txt');
  expect(wasm).toHaveLength(1);
  expect(partsCode).toEqual([]);

  // Both start at once: the second waits for the fetch the first began.
  const first = bigFile('first-in-parts.bin', 70 * MiB);
  const second = bigFile('second-in-parts.bin', 70 * MiB);
  await page.setInputFiles('.picker input[type=file]', [first.path, second.path]);
  await expectStored(await doneKey(page, 'first-in-parts.bin'), first.sha256);
  await expectStored(await doneKey(page, 'second-in-parts.bin'), second.sha256);
  expect(partsCode).toHaveLength(1);
  expect(wasm).toHaveLength(1);
});

test('when the code for files in parts cannot be fetched (a deploy removed it), the row says so and a retry fetches it', async ({ page }) => {
  await page.route(isPartsCode, (route) => route.fulfill({ status: 404, body: 'gone' }));
  await openUploader(page);
  const file = bigFile('after-a-deploy.bin', 70 * MiB);
  await page.setInputFiles('.picker input[type=file]', file.path);
  const row = await expectFailed(page, 'after-a-deploy.bin', 'PageUpdated', /could not be loaded/);
  // The page still works: the code is asked for again on a retry.
  await page.unroute(isPartsCode);
  await row.getByRole('button', { name: 'Retry after-a-deploy.bin' }).click();
  await expectStored(await doneKey(page, 'after-a-deploy.bin'), file.sha256);
});

test('after a reload the same file resumes: only the parts the bucket lacks are sent', async ({ page }) => {
  const file = bigFile('resumed.bin', 120 * MiB); // 15 parts
  // A whole second, so that a lookalike below can have the very same date.
  const mtime = new Date(Math.floor(Date.now() / 1000) * 1000);
  utimesSync(file.path, mtime, mtime);
  // Let six parts through, hold the rest: then reload in the middle.
  let let_through = 6;
  const held: Route[] = [];
  await page.route(/partNumber=/, (route) => {
    if (let_through > 0) {
      let_through -= 1;
      return route.continue();
    }
    held.push(route);
  });
  const stored: number[] = [];
  page.on('response', (res) => {
    if (isPartPut(res.request()) && res.status() === 200) stored.push(partNumber(res.url()));
  });
  await openUploader(page);
  await page.setInputFiles('.picker input[type=file]', file.path);
  await expect.poll(() => stored.length, { timeout: 60_000 }).toBe(6);
  const before = [...stored];
  // The held parts never reach the bucket, nor does any part asked for meanwhile: a request
  // reaches the route some time after the page makes it, so the route stays until the page
  // that made them is gone (with it routed out first, a part asked for just before went
  // through: seen once).
  const partsCode: string[] = [];
  page.on('request', (req) => isPartsCode(new URL(req.url())) && partsCode.push(req.url()));
  await page.reload();
  for (const route of held) await route.abort().catch(() => {});
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  const entry = page.locator('.unfinished-upload', { hasText: 'resumed.bin' });
  await expect(entry).toBeVisible();
  // The list is in the code for files in parts: a returning visitor with something unfinished
  // fetches it once the page is up.
  expect(partsCode).toHaveLength(1);
  // Another file is not taken for it: another name, or the same name, size and date with other
  // contents.
  const other = bigFile('resumed-other.bin', 3);
  await entry.locator('input[type=file]').setInputFiles(other.path);
  await expect(entry.locator('.error')).toContainText('is not the file that was being uploaded');
  mkdirSync(path.join(dir, 'lookalike'), { recursive: true });
  const lookalike = path.join(dir, 'lookalike', 'resumed.bin');
  copyFileSync(file.path, lookalike);
  const fd = openSync(lookalike, 'r+');
  writeSync(fd, Buffer.from('other first bytes'), 0, 17, 0);
  closeSync(fd);
  utimesSync(lookalike, mtime, mtime);
  await entry.locator('input[type=file]').setInputFiles(lookalike);
  await expect(entry.locator('.error')).toContainText('has other contents');

  const puts = recordPartPuts(page);
  await entry.locator('input[type=file]').setInputFiles(file.path);
  const key = await doneKey(page, 'resumed.bin');
  const sent = puts.map(partNumber).sort((a, b) => a - b);
  expect(sent).toHaveLength(15 - 6);
  for (const number of before) expect(sent).not.toContain(number);
  await expectStored(key, file.sha256);
  // Finished: nothing left to resume on the next visit, which does not fetch that code.
  partsCode.length = 0;
  await page.reload();
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await expect(page.locator('.unfinished-upload')).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(partsCode).toEqual([]);
});

test('a part whose bytes change after hashing is refused by the bucket and sent again from the file', async ({ page }) => {
  const file = bigFile('changed.bin', 110 * MiB);
  let tampered = 0;
  await page.route(/partNumber=2&/, (route) => {
    if (tampered++ === 0) return route.continue({ postData: Buffer.alloc(PART, 7) });
    return route.continue();
  });
  const answers: number[] = [];
  page.on('response', (res) => {
    if (isPartPut(res.request()) && partNumber(res.url()) === 2) answers.push(res.status());
  });
  await openUploader(page);
  await page.setInputFiles('.picker input[type=file]', file.path);
  const key = await doneKey(page, 'changed.bin');
  // Refused (AWS and the dev bucket: BadDigest; Garage: InvalidDigest), then accepted.
  expect(answers).toEqual([400, 200]);
  await expectStored(key, file.sha256);
});

/**
 * Starts uploading a file of `size` whose parts go slowly (time to pause and cancel): its row,
 * once the bucket has its multipart upload, and the upload's key.
 */
async function slowUpload(page: Page, name: string, size: number) {
  const file = bigFile(name, size);
  await page.route(/partNumber=/, async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue().catch(() => {});
  });
  await openUploader(page);
  await page.setInputFiles('.picker input[type=file]', file.path);
  const row = page.locator('.upload', { hasText: name });
  await expect(row).toHaveAttribute('data-status', 'uploading');
  const key = (await row.getAttribute('data-key'))!;
  await expect.poll(() => backend().multipartUploads()).toContain(key);
  return { row, key };
}

/** Cancels `row`: the bucket keeps no multipart upload of `key`, and the next visit has nothing to resume. */
async function cancelLeavesNothing(page: Page, row: Locator, name: string, key: string) {
  await row.getByRole('button', { name: `Cancel ${name}` }).click();
  await expect(row).toHaveAttribute('data-status', 'cancelled');
  await expect.poll(() => backend().multipartUploads(), { timeout: 20_000 }).not.toContain(key);
  expect(await backend().exists(key)).toBe(false);
  // Forgotten by this browser too (the list of unfinished uploads appears only once its code is
  // fetched, after the page is ready, so an empty list there alone would prove little).
  const kept = await page.evaluate(() => JSON.parse(localStorage.getItem('s3-uploader.unfinished') ?? '[]'));
  expect(kept).toEqual([]);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await page.reload();
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await expect(page.locator('.unfinished-upload')).toHaveCount(0);
}

test('pause and resume, then cancel: the bucket keeps no multipart upload', async ({ page }) => {
  const { row, key } = await slowUpload(page, 'cancelled.bin', 200 * MiB);
  await row.getByRole('button', { name: 'Pause cancelled.bin' }).click();
  await expect(row).toHaveAttribute('data-status', 'paused');
  await expect(row.locator('.state')).toContainText(/paused at \d+%/);
  await row.getByRole('button', { name: 'Resume cancelled.bin' }).click();
  await expect(row).toHaveAttribute('data-status', 'uploading');
  await cancelLeavesNothing(page, row, 'cancelled.bin', key);
});

test('cancelled while paused: the page drops the parts itself, and nothing is left to resume', async ({ page }) => {
  const { row, key } = await slowUpload(page, 'cancelled-paused.bin', 100 * MiB);
  await row.getByRole('button', { name: 'Pause cancelled-paused.bin' }).click();
  await expect(row).toHaveAttribute('data-status', 'paused');
  // Once the upload's task has wound down (the parts in flight were aborted), no task is under
  // way to notice a cancel: the row aborts the upload in the bucket itself.
  await page.waitForTimeout(2000);
  await cancelLeavesNothing(page, row, 'cancelled-paused.bin', key);
});

test('an expired part URL is signed again', async ({ page }) => {
  // The dev-parts instance signs part URLs for 30 s (UPLOAD_POLICY_TTL_SECS); the fleet in
  // front of Garage for the default 5 minutes.
  test.skip(test.info().project.name !== 'dev-parts', 'needs the instance whose URLs live 30 s');
  const file = bigFile('expired.bin', 101 * MiB);
  let held = 0;
  await page.route(/partNumber=1&/, async (route) => {
    if (held++ === 0) await new Promise((r) => setTimeout(r, 32_000));
    await route.continue();
  });
  const answers: number[] = [];
  const signs: string[] = [];
  page.on('request', (req) => req.url().endsWith('/api/sign_parts') && signs.push(req.postData() ?? ''));
  page.on('response', (res) => {
    if (isPartPut(res.request()) && partNumber(res.url()) === 1) answers.push(res.status());
  });
  await openUploader(page);
  await page.setInputFiles('.picker input[type=file]', file.path);
  const key = await doneKey(page, 'expired.bin');
  expect(answers).toEqual([403, 200]);
  expect(signs.filter((body) => body.includes('"number":1,'))).toHaveLength(2);
  await expectStored(key, file.sha256);
});

test('a receipt or part URL of one uploader is no use to another', async ({ browser, baseURL }) => {
  const alice = await browser.newContext({ baseURL });
  const bob = await browser.newContext({ baseURL });
  try {
    const start = async (ctx: typeof alice, name: string) => {
      await ctx.request.get('/'); // the uploader cookie
      const res = await ctx.request.post('/api/start_multipart', {
        form: { file_name: name, size: String(200 * MiB), content_type: 'application/octet-stream', access_code: '' },
      });
      expect(res.status(), await res.text()).toBe(200);
      return (await res.json()) as { key: string; upload_id: string; receipt: string };
    };
    const sign = (ctx: typeof alice, receipt: string, sha: string) =>
      ctx.request.post('/api/sign_parts', { data: { receipt, parts: [{ number: 1, length: PART, checksum_sha256: sha }] } });
    const part = randomBytes(PART);
    const sha = createHash('sha256').update(part).digest('base64');
    const a = await start(alice, 'alice.bin');
    const b = await start(bob, 'bob.bin');

    // Bob cannot have parts signed with Alice's receipt.
    const refused = await sign(bob, a.receipt, sha);
    expect(refused.status()).toBe(409);
    expect(await refused.text()).toContain('issued to someone else');

    // Alice's URL is for her upload and key only: pointed at Bob's upload, the bucket refuses it.
    const signed = await sign(alice, a.receipt, sha);
    expect(signed.status()).toBe(200);
    const url = ((await signed.json()) as { url: string }[])[0].url;
    // A refusal may come before the body is read, and the connection close under it (Garage).
    const put = (target: string, body: Buffer) =>
      fetch(target, { method: 'PUT', body, headers: { 'x-amz-checksum-sha256': sha } }).then((res) => res.status, () => 'closed');
    const partsOf = async (ctx: typeof alice, receipt: string) => {
      const res = await ctx.request.post('/api/list_parts', { form: { receipt } });
      expect(res.status()).toBe(200);
      return (await res.json()) as { number: number }[];
    };
    const forBob = url.replace(`uploadId=${encodeURIComponent(a.upload_id)}`, `uploadId=${encodeURIComponent(b.upload_id)}`);
    expect(forBob).not.toBe(url);
    expect([403, 'closed']).toContain(await put(forBob, part));
    expect(await partsOf(bob, b.receipt)).toEqual([]);
    // Other bytes than it was signed for: refused too.
    expect([400, 'closed']).toContain(await put(url, randomBytes(PART)));
    // As signed, it works; Alice's upload has the part, Bob's still none.
    expect(await put(url, part)).toBe(200);
    expect((await partsOf(alice, a.receipt)).map((p) => p.number)).toEqual([1]);
    expect(await partsOf(bob, b.receipt)).toEqual([]);

    for (const [ctx, upload] of [[alice, a], [bob, b]] as const) {
      const res = await ctx.request.post('/api/abort_multipart', { form: { receipt: upload.receipt } });
      expect(res.status()).toBe(200);
    }
    await expect.poll(() => backend().multipartUploads()).not.toContain(a.key);
  } finally {
    await alice.close();
    await bob.close();
  }
});

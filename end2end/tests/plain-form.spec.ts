// Before hydration and without JavaScript: the server-rendered page carries a plain form with
// a signed policy; one file goes straight to the bucket, which redirects back to a page where
// the server verifies it. (Garage only: the dev-bucket instance needs an access code, which a
// pre-signed form cannot ask for, so it offers none.)
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { backendFor } from './bucket';
import { postForm, type Field } from './forms';

const backend = () => backendFor(test.info().project.name);

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('the plain form uploads one file to the bucket and comes back verified', async ({ page }) => {
    const { getObject, endpoint } = backend();
    const bytes = randomBytes(200_000);
    await page.goto('/');
    const form = page.locator('form.plain-form');
    await expect(form).toBeVisible();
    expect(await form.getAttribute('action')).toMatch(new RegExp(`^${endpoint}/`));
    await form.locator('input[type=file]').setInputFiles({ name: 'plain form.txt', mimeType: 'text/plain', buffer: bytes });
    await form.getByRole('button', { name: 'Upload' }).click();

    await page.waitForURL(/\/uploaded\?/);
    const verified = page.locator('.verified');
    await expect(verified).toContainText('Uploaded and verified: plain form.txt');
    const key = (await verified.getAttribute('data-key'))!;
    expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/[0-9a-f]{32}\/plain form\.txt$/);
    expect((await getObject(key)).body.equals(bytes)).toBe(true);
  });

  test('a quarantined file\'s return page says it is being checked, and looks again until it passed', async ({ page }) => {
    const { getObject, keysUnder } = backend();
    const bytes = randomBytes(50_000);
    await page.goto('/p/held');
    const form = page.locator('form.plain-form');
    await form.locator('input[type=file]').setInputFiles({ name: 'held.txt', mimeType: 'text/plain', buffer: bytes });
    await form.getByRole('button', { name: 'Upload' }).click();

    // The instances answer "being checked" at once (UPLOAD_CHECK_WAIT_MS=0): the page says so,
    // and refreshes itself (every 5 s) until the checks are done.
    await page.waitForURL(/\/uploaded\?/);
    await expect(page.locator('.checking')).toContainText('checking the file');
    const verified = page.locator('.verified');
    await expect(verified).toContainText('Uploaded and verified: held.txt', { timeout: 30_000 });
    expect(page.url()).toMatch(/[?&]looked=[1-9]/);
    const key = (await verified.getAttribute('data-key'))!;
    expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/held\/[0-9a-f]{32}\/held\.txt$/);
    expect((await getObject(key)).body.equals(bytes)).toBe(true);
    const id = key.split('/')[1];
    expect(await keysUnder(`uploads/.staging/${id}/`)).toEqual([]);
  });

  test('a return page with a forged token names nothing', async ({ page }) => {
    // A token naming an uploader and directory, without the server's seal: the key is inside
    // the uploader and directory it names, so only the seal can make the difference.
    const id = '0123456789abcdef0123456789abcdef';
    const forged = Buffer.from(`${id}:9999999999:uploads/${id}/d/`).toString('base64url') + '.' + '00'.repeat(32);
    await page.goto(`/uploaded?session=${forged}&key=uploads/${id}/d/z.txt&etag=%220123456789abcdef0123456789abcdef%22`);
    await expect(page.locator('.error')).toHaveText('that upload belongs to someone else');
  });

  test('the same plain form POSTed 20 times keeps one file, listed once', async ({ page }) => {
    const { keysUnder } = backend();
    await page.goto('/');
    const form = page.locator('form.plain-form');
    const url = (await form.getAttribute('action'))!;
    const inputs = form.locator('input[type=hidden]');
    const fields: Field[] = [];
    for (let i = 0; i < (await inputs.count()); i++) {
      fields.push([(await inputs.nth(i).getAttribute('name'))!, (await inputs.nth(i).getAttribute('value'))!]);
    }
    // A POST policy can be used again until it expires: the bucket takes all twenty.
    for (let i = 0; i < 20; i++) {
      const answer = await postForm(url, fields, randomBytes(100), fields.length, `copy-${i}.txt`);
      expect(answer.status).toBe(303);
    }
    const key = fields.find(([name]) => name === 'key')![1];
    const directory = key.slice(0, key.lastIndexOf('/') + 1);
    expect((await keysUnder(directory)).length).toBe(20);
    // "Your uploads" lists one, and the bucket keeps one: the form's first file.
    const listed = await page.request.post('/api/my_uploads', { headers: { Accept: 'application/json' } });
    expect((await listed.json()).map((u: { name: string }) => u.name)).toEqual(['copy-0.txt']);
    expect(await keysUnder(directory)).toEqual([`${directory}copy-0.txt`]);
  });
});

test('with JavaScript, the plain form gives way to the uploader once the page is ready', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await expect(page.locator('form.plain-form')).toBeHidden();
});

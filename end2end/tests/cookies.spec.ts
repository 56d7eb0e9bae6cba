// The uploader cookie, settled once: a link from another site arrives with it (SameSite=Lax), so
// the visitor is the same uploader, with the same uploads, and the server never replaces it.
import { expect, test } from '@playwright/test';
import { openUploader } from './page';

test('a link from another site keeps the uploader: same cookie, same uploads', async ({ page, context, baseURL }) => {
  await openUploader(page);
  await page.setInputFiles('input[type=file]', {
    name: 'linked.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('followed a link'),
  });
  await expect(page.locator('.upload', { hasText: 'linked.txt' })).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  const before = (await context.cookies()).find((c) => c.name === 'uploader');
  expect(before?.sameSite).toBe('Lax');

  // A page on another site links here; the browser marks the navigation cross-site.
  await page.route('http://elsewhere.test/**', (route) =>
    route.fulfill({ contentType: 'text/html', body: `<a id="go" href="${baseURL}/">to the uploader</a>` }),
  );
  await page.goto('http://elsewhere.test/page');
  // Interception runs before the network stack adds Sec-Fetch-* (and cookies): with a route still
  // set, Chromium reports the navigation without them. The link is followed with none.
  await page.unrouteAll();
  const arrived = page.waitForResponse((r) => r.url() === `${baseURL}/`);
  await page.click('#go');
  const response = await arrived;
  expect((await response.request().allHeaders())['sec-fetch-site']).toBe('cross-site');
  expect(await response.headerValue('set-cookie')).toBeNull();
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');

  const after = (await context.cookies()).find((c) => c.name === 'uploader');
  expect(after?.value).toBe(before?.value);
  await expect(page.locator('.your-uploads li', { hasText: 'linked.txt' })).toHaveCount(1);
});

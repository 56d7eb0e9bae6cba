// The queue: several files at once with the concurrency limit kept, cancel, and retry.
// Runs against Garage and the dev bucket; uploads are throttled with CDP so they last long enough to watch.
import { randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { backendFor } from './bucket';
import { openUploader, throttleUploads } from './page';

const backend = () => backendFor(test.info().project.name);

async function open(page: Page, uploadBytesPerSecond: number) {
  await openUploader(page);
  await throttleUploads(page, uploadBytesPerSecond);
}

test('six files upload three at a time, and all arrive', async ({ page }) => {
  await open(page, 1024 * 1024);
  // Record how many rows are uploading after every change of any row's state.
  await page.evaluate(() => {
    const seen: number[] = ((window as any).__uploading = []);
    new MutationObserver(() => seen.push(document.querySelectorAll('.upload[data-status=uploading]').length)).observe(
      document.body,
      { subtree: true, attributes: true, attributeFilter: ['data-status'] },
    );
  });
  const files = Array.from({ length: 6 }, (_, i) => ({ name: `q${i}.bin`, mimeType: 'application/octet-stream', buffer: randomBytes(384 * 1024) }));
  await page.setInputFiles('input[type=file]', files);
  await expect(page.locator('.upload[data-status=done]')).toHaveCount(6, { timeout: 60_000 });
  const uploading: number[] = await page.evaluate(() => (window as any).__uploading);
  expect(Math.max(...uploading), `uploading counts seen: ${uploading.join(',')}`).toBe(3);
  for (const row of await page.locator('.upload').all()) {
    expect(await backend().exists((await row.getAttribute('data-key'))!)).toBe(true);
  }
});

test('a cancelled upload stops, says so, and stores nothing', async ({ page }) => {
  await open(page, 256 * 1024);
  await page.setInputFiles('input[type=file]', { name: 'cancel-me.bin', mimeType: 'application/octet-stream', buffer: randomBytes(4 * 1024 * 1024) });
  const row = page.locator('.upload', { hasText: 'cancel-me.bin' });
  await expect(row.getByRole('progressbar')).not.toHaveAttribute('aria-valuenow', '0');
  await row.getByRole('button', { name: 'Cancel cancel-me.bin' }).click();
  await expect(row).toHaveAttribute('data-status', 'cancelled');
  await expect(row.getByRole('button', { name: 'Retry cancel-me.bin' })).toBeVisible();
  const key = (await row.getAttribute('data-key'))!;
  await page.waitForTimeout(1000);
  expect(await backend().exists(key)).toBe(false);
});

test('a failed upload succeeds when retried, with a fresh policy', async ({ page }) => {
  await open(page, -1);
  const { endpoint } = backend();
  let refused = 0;
  // The bucket "goes away" for the first attempt only.
  await page.route(`${endpoint}/**`, (route) => {
    if (route.request().method() === 'POST' && refused++ === 0) return route.abort('connectionreset');
    return route.fallback();
  });
  await page.setInputFiles('input[type=file]', { name: 'again.txt', mimeType: 'text/plain', buffer: Buffer.from('second time lucky') });
  const row = page.locator('.upload', { hasText: 'again.txt' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  const firstKey = await row.getAttribute('data-key');
  await row.getByRole('button', { name: 'Retry again.txt' }).click();
  await expect(row).toHaveAttribute('data-status', 'done');
  const key = (await row.getAttribute('data-key'))!;
  expect(key).not.toBe(firstKey);
  expect((await backend().getObject(key)).body.toString()).toBe('second time lucky');
});

test('files dropped on the picker or pasted into the page are uploaded', async ({ page }) => {
  await open(page, -1);
  const dropped = await page.evaluateHandle(() => {
    const data = new DataTransfer();
    data.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
    return data;
  });
  await page.dispatchEvent('.picker', 'dragover', { dataTransfer: dropped });
  await expect(page.locator('.picker')).toHaveClass(/dragging/);
  await page.dispatchEvent('.picker', 'drop', { dataTransfer: dropped });
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['pasted bytes'], 'pasted.txt', { type: 'text/plain' }));
    window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data }));
  });
  for (const [name, text] of [['dropped.txt', 'dropped bytes'], ['pasted.txt', 'pasted bytes']]) {
    const row = page.locator('.upload', { hasText: name });
    await expect(row).toHaveAttribute('data-status', 'done');
    expect((await backend().getObject((await row.getAttribute('data-key'))!)).body.toString()).toBe(text);
  }
  await expect(page.locator('.picker')).not.toHaveClass(/dragging/);
});

test('an upload can be done with the keyboard alone', async ({ page }) => {
  await open(page, -1);
  // Tab until the file picker has the focus, then open it with the space bar.
  const pickerFocused = () => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type === 'file');
  for (let i = 0; i < 10 && !(await pickerFocused()); i++) {
    await page.keyboard.press('Tab');
  }
  expect(await pickerFocused()).toBe(true);
  const chooser = page.waitForEvent('filechooser');
  await page.keyboard.press('Space');
  await (await chooser).setFiles({ name: 'keyboard.txt', mimeType: 'text/plain', buffer: Buffer.from('typed, not clicked') });
  const row = page.locator('.upload', { hasText: 'keyboard.txt' });
  await expect(row).toHaveAttribute('data-status', 'done');
});

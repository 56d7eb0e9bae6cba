// A 1 GiB upload through the page: the File goes into the form as a handle and is never read
// into JavaScript or wasm, so the page's JS heap must not grow with it (the bound:
// 50 MB). Files this large are above the checksum limit, so they are not hashed. The figure
// is printed for docs/benchmarks.md. Garage only: the dev-bucket instance caps files at 8 MiB.
import { mkdtempSync, openSync, closeSync, ftruncateSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { backendFor } from './bucket';
import { openUploader } from './page';

const GIB = 1024 * 1024 * 1024;

test('a 1 GiB upload keeps the page heap flat', async ({ page }) => {
  test.setTimeout(240_000);
  const { keysUnder } = backendFor(test.info().project.name);
  const dir = mkdtempSync(path.join(tmpdir(), 'heap-'));
  const file = path.join(dir, 'one-gib.bin');
  // Sparse: takes no disk space, reads as zeros.
  const fd = openSync(file, 'w');
  ftruncateSync(fd, GIB);
  closeSync(fd);
  try {
    await openUploader(page);
    const cdp = await page.context().newCDPSession(page);
    const heap = async () => (await cdp.send('Runtime.getHeapUsage')).usedSize;
    await cdp.send('HeapProfiler.collectGarbage');
    const before = await heap();
    let peak = before;
    await page.setInputFiles('input[type=file]', file);
    const row = page.locator('.upload', { hasText: 'one-gib.bin' });
    await expect(row).toHaveAttribute('data-status', /uploading|verifying|done/);
    while ((await row.getAttribute('data-status')) !== 'done') {
      const status = await row.getAttribute('data-status');
      expect(status, await row.innerText()).not.toMatch(/failed|cancelled/);
      peak = Math.max(peak, await heap());
      await page.waitForTimeout(250);
    }
    const growth = (peak - before) / 1e6;
    console.log(`1 GiB upload: JS heap ${(before / 1e6).toFixed(1)} MB before, peak ${(peak / 1e6).toFixed(1)} MB, growth ${growth.toFixed(1)} MB`);
    expect(growth).toBeLessThan(50);
    const key = (await row.getAttribute('data-key'))!;
    expect(await keysUnder(key)).toEqual([key]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Accessibility, as checked by machines: axe (WCAG 2.0/2.1 A and AA, and best practices) on every
// state a person sees; what the live regions say; where the focus goes; reduced motion and
// reflow at 320 CSS pixels. Automated checks do not replace a person with a screen reader.
import { randomBytes } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { backendFor } from './bucket';
import { expectFailed, openUploader, throttleUploads } from './page';

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

/** Fails naming every violation axe finds on the page as it is now. */
async function expectNoViolations(page: Page, state: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  const found = violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(found, `axe violations with ${state}`).toEqual([]);
}

/** Every text the element matching `selector` shows, from now on. */
async function recordTexts(page: Page, selector: string): Promise<() => Promise<string[]>> {
  const slot = `__texts_${selector.replace(/\W/g, '_')}`;
  await page.evaluate(
    ([selector, slot]) => {
      const seen: string[] = ((window as any)[slot] = []);
      const el = document.querySelector(selector)!;
      new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, { subtree: true, childList: true, characterData: true });
    },
    [selector, slot],
  );
  return () => page.evaluate((slot) => (window as any)[slot], slot);
}

const file = (name: string, bytes: number) => ({ name, mimeType: 'application/octet-stream', buffer: randomBytes(bytes) });

test('no axe violations on any state a person sees, light and dark, wide and narrow', async ({ page, browser }) => {
  await openUploader(page);
  await expectNoViolations(page, 'the empty page');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expectNoViolations(page, 'the empty page, dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // Queued and uploading: slow uploads, more files than go at once.
  await throttleUploads(page, 64 * 1024);
  await page.setInputFiles('input[type=file]', [1, 2, 3, 4].map((n) => file(`slow-${n}.bin`, 256 * 1024)));
  await expect(page.locator('.upload[data-status=uploading]')).toHaveCount(3);
  await expect(page.locator('.upload[data-status=queued]')).toHaveCount(1);
  await expectNoViolations(page, 'files uploading and queued');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expectNoViolations(page, 'files uploading and queued, dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.getByRole('button', { name: 'Cancel all' }).click();
  await expect(page.locator('.upload[data-status=cancelled]')).toHaveCount(4);
  await expectNoViolations(page, 'cancelled uploads');

  // Failed, with its error.
  await page.setInputFiles('input[type=file]', { name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  await expectFailed(page, 'empty.txt', 'EmptyFile', 'empty files cannot be uploaded');
  await expectNoViolations(page, 'a failed upload');

  // Done, and listed under "Your uploads".
  await throttleUploads(page, -1);
  await page.setInputFiles('input[type=file]', file('done.bin', 1024));
  await expect(page.locator('.upload', { hasText: 'done.bin' })).toHaveAttribute('data-status', 'done');
  await expect(page.locator('.your-uploads li', { hasText: 'done.bin' })).toHaveCount(1);
  await expectNoViolations(page, 'a finished upload and "Your uploads"');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expectNoViolations(page, 'a finished upload and "Your uploads", dark');

  // A phone.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 390, height: 844 });
  await expectNoViolations(page, 'a 390 px wide phone');

  // The page as it is without JavaScript (axe needs scripts to run, so the wasm is kept out
  // instead: the page never hydrates and shows its plain form where one is offered).
  const context = await browser.newContext();
  const plain = await context.newPage();
  await plain.route('**/pkg/*.wasm', (route) => route.abort());
  await plain.goto(test.info().project.use.baseURL!);
  if (test.info().project.name === 'garage') await expect(plain.locator('.plain-form')).toBeVisible();
  await expectNoViolations(plain, 'the page before (or without) the wasm');
  await context.close();
});

test('the live regions say what happens: queued, progress by quarters, done; failures at once', async ({ page }) => {
  await openUploader(page);
  // The picker says what it is and what it accepts.
  const picker = page.locator('input[name=files]');
  await expect(picker).toHaveAccessibleName('Choose files, drop them here, or paste them');
  await expect(picker).toHaveAccessibleDescription(/^Up to .+ per file; any type\. .*At most \d+ files a minute\.( Files over .+ go in parts, .+ after a reload\.)?$/);

  const polite = await recordTexts(page, '.announce-polite');
  const assertive = await recordTexts(page, '.announce-assertive');
  await throttleUploads(page, 256 * 1024);
  await page.setInputFiles('input[type=file]', file('quarters.bin', 1024 * 1024));
  await expect(page.locator('.upload', { hasText: 'quarters.bin' })).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await expect(page.locator('.announce-polite')).toHaveText('quarters.bin uploaded and verified');
  // Each step once, in order, and nothing between (not every progress event).
  expect(await polite()).toEqual([
    '1 file queued',
    'quarters.bin: 25% uploaded',
    'quarters.bin: 50% uploaded',
    'quarters.bin: 75% uploaded',
    'quarters.bin uploaded and verified',
  ]);

  await page.setInputFiles('input[type=file]', { name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  await expect(page.locator('.announce-assertive')).toHaveText('empty.txt failed: empty files cannot be uploaded');
  expect(await assertive()).toEqual(['empty.txt failed: empty files cannot be uploaded']);
  await page.setInputFiles('input[type=file]', [file('two-a.bin', 10), file('two-b.bin', 10)]);
  await expect(page.locator('.announce-polite')).not.toHaveText('quarters.bin uploaded and verified');
  expect(await polite()).toContain('2 files queued');
});

test('focus stays where the keyboard was: Retry and Remove in the list, Cancel all back to the picker', async ({ page }) => {
  const { endpoint } = backendFor(test.info().project.name);
  await openUploader(page);
  const active = () => page.evaluate(() => {
    const el = document.activeElement!;
    return el.matches('input[name=files]') ? 'picker' : el.matches('.upload') ? `row ${el.getAttribute('aria-label')}` : el.matches('.uploads') ? 'list' : el.tagName;
  });

  // Retry: the button goes away, the row keeps the focus.
  await page.route(`${endpoint}/**`, (route) => route.abort('connectionrefused'));
  await page.setInputFiles('input[type=file]', file('again.bin', 100));
  await expectFailed(page, 'again.bin', 'Unreachable', /could not be reached/);
  await page.unroute(`${endpoint}/**`);
  await page.getByRole('button', { name: 'Retry again.bin' }).focus();
  await page.keyboard.press('Enter');
  expect(await active()).toBe('row again.bin');
  await expect(page.locator('.upload', { hasText: 'again.bin' })).toHaveAttribute('data-status', 'done');

  // Remove: the list keeps the focus while it has rows; then the picker.
  await page.getByRole('button', { name: 'Remove again.bin from the list' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('.upload')).toHaveCount(0);
  expect(await active()).toBe('picker');
  await page.setInputFiles('input[type=file]', [0, 1].map((n) => ({ name: `empty-${n}.txt`, mimeType: 'text/plain', buffer: Buffer.alloc(0) })));
  await page.getByRole('button', { name: 'Remove empty-0.txt from the list' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('.upload')).toHaveCount(1);
  expect(await active()).toBe('list');

  // Cancel all: back to the picker, to choose again.
  await throttleUploads(page, 32 * 1024);
  await page.setInputFiles('input[type=file]', [file('c-1.bin', 256 * 1024), file('c-2.bin', 256 * 1024)]);
  await expect(page.locator('.upload[data-status=uploading]')).toHaveCount(2);
  await page.getByRole('button', { name: 'Cancel all' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('.upload[data-status=cancelled]')).toHaveCount(2);
  expect(await active()).toBe('picker');
});

test('reduced motion and reflow: no animation, and nothing wider than 320 CSS pixels (400% zoom)', async ({ page }) => {
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await openUploader(page);
  await throttleUploads(page, 64 * 1024);
  const long = `${'a-rather-long-file-name-'.repeat(6)}end.bin`;
  await page.setInputFiles('input[type=file]', file(long, 512 * 1024));
  const row = page.locator('.upload', { hasText: 'end.bin' });
  await expect(row).toHaveAttribute('data-status', 'uploading');
  const fill = await row.locator('.fill').evaluate((el) => getComputedStyle(el));
  expect([fill.transitionDuration, fill.animationName]).toEqual(['0s', 'none']);
  for (const width of [320, 640]) {
    await page.setViewportSize({ width, height: 800 });
    // Progress stays readable as text, and nothing scrolls sideways or is cut off.
    await expect(row.locator('.state')).toContainText(/uploading… \d+%/);
    const overflow = await page.evaluate(() => {
      // The live regions are clipped on purpose: they are for screen readers only.
      const shown = [...document.querySelectorAll('.uploader *')].filter((el) => !el.closest('.visually-hidden'));
      const name = (el: Element) => `${el.tagName.toLowerCase()}.${el.className}`;
      const cut = shown.filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible');
      const outside = shown.filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5);
      return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth, cut: cut.map(name), outside: outside.map(name) };
    });
    expect(overflow, `at ${width} px`).toEqual({ page: 0, cut: [], outside: [] });
  }
});

// An uploaded page or SVG must never run its script where it is opened: not in the app's
// origin, not in the bucket's (the dev bucket shares the app's site: cookies ignore ports, so a
// script there could plant the app's uploader cookie). View links for such files download them.
import { expect, test } from '@playwright/test';
import { openUploader } from './page';

const payload = (marker: string) =>
  Buffer.from(`<!doctype html><title>${marker}</title><script>document.cookie = "${marker}=1; path=/"; document.title = "ran";</script>`);

for (const [name, mimeType] of [
  ['page.html', 'text/html'],
  ['drawing.svg', 'image/svg+xml'],
  ['page.png', 'text/html'],
] as const) {
  test(`an uploaded ${name} (${mimeType}) opened from "Your uploads" runs no script`, async ({ page, context }) => {
    const marker = `pwned${name.replace(/\W/g, '')}`;
    const body =
      mimeType === 'image/svg+xml'
        ? Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg"><script>document.cookie = "${marker}=1; path=/"</script></svg>`)
        : payload(marker);
    await openUploader(page);
    await page.setInputFiles('input[type=file]', { name, mimeType, buffer: body });
    await expect(page.locator('.upload', { hasText: name })).toHaveAttribute('data-status', 'done');
    const link = page.locator('.your-uploads li', { hasText: name }).locator('a');
    await expect(link).toHaveCount(1);
    const href = (await link.getAttribute('href'))!;
    // Opened the way a visitor would: in a tab of its own.
    const opened = await context.newPage();
    await opened.goto(href).catch(() => {
      /* a download aborts the navigation: that is the point */
    });
    await opened.waitForTimeout(500);
    expect((await context.cookies()).map((c) => c.name)).not.toContain(marker);
    if (!opened.url().startsWith('about:')) {
      expect(await opened.title().catch(() => '')).not.toBe('ran');
    }
    await opened.close();
  });
}

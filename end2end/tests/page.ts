// What the browser tests do to the page: open it ready to upload, throttle the upload, and
// watch what it sends and which states its rows go through, and check how a row failed.
import { expect, test, type Page } from '@playwright/test';

/**
 * Opens the uploader (at `path`: `/p/NAME` for a profile's) once the wasm has hydrated it, with
 * the access code where one is set.
 */
export async function openUploader(page: Page, accessCode = process.env.DEV_ACCESS_CODE, path = '/') {
  await page.goto(path);
  // The picker is enabled once the wasm has hydrated the page.
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  // Only the dev-bucket instance is set up with an access code; the field shows only there.
  const code = page.locator('input[name=access-code]');
  if (test.info().project.name === 'dev-bucket') {
    await code.fill(accessCode!);
  } else {
    await expect(code).toHaveCount(0);
  }
}

/** On loopback a file leaves in one progress event: throttle uploads to watch them. */
export async function throttleUploads(page: Page, bytesPerSecond: number) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

/** Every POST the page sends to URLs starting with `prefix` (every POST with ''), as it happens. */
export function recordPosts(page: Page, prefix = ''): string[] {
  const posts: string[] = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url().startsWith(prefix)) posts.push(req.url());
  });
  return posts;
}

/** The body of every signing request the page sends, as it happens. */
export function signRequests(page: Page): string[] {
  const bodies: string[] = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url().endsWith('/api/sign_upload')) bodies.push(req.postData() ?? '');
  });
  return bodies;
}

/**
 * Starts recording every value `attribute` takes on elements matching `selector`: an element's
 * first value as it appears (on it or inside a new row), later ones as they change. Read them
 * with `valuesSeen(page, attribute)`.
 */
export async function recordAttribute(page: Page, selector: string, attribute: string) {
  await page.evaluate(
    ([selector, attribute]) => {
      const seen: string[] = ((window as any)[`__seen_${attribute}`] = []);
      const value = (el: Element) => el.getAttribute(attribute) ?? '';
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.type === 'childList') {
            r.addedNodes.forEach((n) => {
              if (!(n instanceof Element)) return;
              if (n.matches(selector)) seen.push(value(n));
              n.querySelectorAll(selector).forEach((el) => seen.push(value(el)));
            });
          } else if ((r.target as Element).matches(selector)) {
            seen.push(value(r.target as Element));
          }
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: [attribute] });
    },
    [selector, attribute],
  );
}

export async function valuesSeen(page: Page, attribute: string): Promise<string[]> {
  return page.evaluate((attribute) => (window as any)[`__seen_${attribute}`], attribute);
}

/** Every state any row enters, from now on: read them with `statesSeen`. */
export const recordStates = (page: Page) => recordAttribute(page, '.upload', 'data-status');
export const statesSeen = (page: Page) => valuesSeen(page, 'data-status');

/**
 * Waits for the row of `fileName` to fail and checks the error it shows: the code exactly, the
 * message exactly (a string) or in part (a RegExp). Returns the row for further checks.
 */
export async function expectFailed(page: Page, fileName: string, code: string | RegExp, message: string | RegExp) {
  const row = page.locator('.upload', { hasText: fileName });
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row.locator('.error .code')).toHaveText(code);
  await expect(row.locator('.error .message')).toHaveText(message);
  return row;
}

/** Counts the blobs the page hands its hashing worker (the browser's own SHA-256, off the
 * page's thread): read them with `nativeDigests`. Call before the page loads. */
export async function countNativeDigests(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { nativeDigests: number };
    const post = Worker.prototype.postMessage;
    w.nativeDigests = 0;
    Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
      if ((message as { blob?: unknown })?.blob instanceof Blob) w.nativeDigests += 1;
      return (post as (...args: unknown[]) => void).call(this, message, ...rest);
    } as typeof post;
  });
}

export const nativeDigests = (page: Page) => page.evaluate(() => (window as unknown as { nativeDigests: number }).nativeDigests);

/** The page as served over plain http on an address other than localhost: not a secure
 * context, so `crypto.subtle` is undefined. Call before the page loads. */
export async function withoutSubtleCrypto(page: Page) {
  await page.addInitScript(() => {
    Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined, configurable: true });
  });
}

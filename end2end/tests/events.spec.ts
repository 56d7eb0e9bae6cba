// Events, end to end: a file uploaded through the page gives one `upload.verified` event, which
// the receiver (scripts/webhook-receiver.py, started by scripts/test.sh) verified with the
// Standard Webhooks reference library and validated against docs/events.md's schema, and whose
// checksum is the file's SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { openUploader } from './page';

const receiver = process.env.WEBHOOK_RECEIVER_URL ?? 'http://127.0.0.1:3123';

type Delivery = { id: string; type: string; verified: boolean; status: number; event?: any };

test('an upload through the page gives one verified event with the file\'s checksum', async ({ page }) => {
  const bytes = randomBytes(64 * 1024);
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'evented.bin', mimeType: 'application/x-e2e-test', buffer: bytes });
  const row = page.locator('.upload', { hasText: 'evented.bin' });
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  const key = (await row.getAttribute('data-key'))!;

  const mine = async () => {
    const deliveries: Delivery[] = await (await fetch(`${receiver}/deliveries`)).json();
    return deliveries.filter((d) => d.event?.data?.key === key);
  };
  await expect.poll(async () => (await mine()).filter((d) => d.status === 204).length, { timeout: 10_000 }).toBe(1);
  const [delivery] = await mine();
  expect(delivery.verified).toBe(true);
  expect(delivery.type).toBe('upload.verified');
  const data = delivery.event.data;
  expect(data.checksum).toEqual({
    algorithm: 'sha256',
    type: 'full_object',
    value: createHash('sha256').update(bytes).digest('base64'),
  });
  expect(data.size).toBe(bytes.length);
  expect(data.content_type).toBe('application/x-e2e-test');
  expect(data.by).toBe('browser');
  expect(data.key).toBe(key);
});

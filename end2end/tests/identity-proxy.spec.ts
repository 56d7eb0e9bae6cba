// Uploaders named by an authenticating proxy (UPLOAD_AUTH=proxy): nginx asks a test
// authenticator about every request (auth_request) and names the signed-in user in
// X-Auth-Request-User; the app believes that header from the proxy's address only. Signed in
// at the proxy (its cookie), the person uploads under their own prefix; the same header sent
// straight to the app is refused.
import { createHash } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { backendFor, need } from './bucket';

test('the proxy names the user; uploads go under them; the header from anyone else is refused', async ({ page, context, request }) => {
  // Signed out at the proxy: it answers, not the app.
  expect((await request.get('/')).status()).toBe(401);
  await context.addCookies([{ name: 'demo_user', value: 'grace', url: need('PROXY_URL') }]);
  await page.goto('/');
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await expect(page.locator('.account-name')).toHaveText('grace');
  // The proxy's session is the proxy's to end: no sign-out here.
  await expect(page.locator('button.sign-out')).toHaveCount(0);

  await page.setInputFiles('.picker input[type=file]', { name: 'grace.txt', mimeType: 'text/plain', buffer: Buffer.from('from grace') });
  const row = page.locator('.upload', { hasText: 'grace.txt' });
  await expect(row).toHaveAttribute('data-status', 'done');
  const key = (await row.getAttribute('data-key'))!;
  const id = createHash('sha256').update('proxy\0grace').digest('hex').slice(0, 32);
  expect(key.startsWith(`uploads/${id}/`)).toBe(true);
  const stored = await backendFor('proxy-dev').getObject(key);
  expect(stored.metadata.uploader).toBe('grace');

  // A client that sends the header itself through the proxy is overwritten by it...
  const through = await page.request.post('/api/my_uploads', {
    headers: { accept: 'application/json', 'x-auth-request-user': 'mallory' },
  });
  expect(through.status()).toBe(200);
  expect((await through.json()).map((u: { key: string }) => u.key)).toContain(key);
  // ...and straight to the app, around the proxy, it is refused.
  const straight = await request.post(`${need('PROXY_APP_URL')}/api/my_uploads`, {
    headers: { accept: 'application/json', 'x-auth-request-user': 'grace' },
  });
  expect(straight.status()).toBe(401);
  expect((await straight.json()).SignIn.reason).toBe('untrusted_proxy');
});

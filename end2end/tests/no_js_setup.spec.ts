// First-run setup without JavaScript: the setup form must work as a plain HTML
// form POST (before or without hydration). Its own fresh server.

import { test, expect } from '@playwright/test';
import { useServer } from './helpers';

test.describe.configure({ mode: 'serial' });
test.use({ javaScriptEnabled: false, locale: 'en-US' });

const server = useServer(test);

test('the setup form works as a plain HTML form POST', async ({ page, request }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  // No script runs, so the page never hydrates.
  await expect(page.locator('[data-hydrated="true"]')).toHaveCount(0);

  const form = page.locator('#setup-form');
  await expect(form).toBeVisible();
  await expect(page.locator('#instance-status')).not.toBeVisible();

  await form.locator('input[name="token"]').fill(server().setupToken);
  await form.locator('input[name="email"]').fill('admin@example.com');
  await form.locator('input[name="name"]').fill('Ada Admin');
  await form.locator('input[name="password"]').fill('correct horse battery staple');
  await form.locator('input[name="password_confirm"]').fill('correct horse battery staple');

  const [post] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    form.locator('button[type="submit"]').click(),
  ]);
  expect(post.status(), `POST ${post.url()}`).toBeLessThan(400);
  await page.waitForLoadState('load');

  await page.goto('/');
  await expect(page.locator('#instance-status')).toBeVisible();
  await expect(page.locator('#instance-status')).toContainText('SQLite');
  await expect(page.locator('#setup-form')).toHaveCount(0);

  const html = await (await request.get('/')).text();
  expect(html).not.toContain('id="setup-form"');
  expect(html).toContain('id="instance-status"');
});

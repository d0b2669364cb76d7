// First-run setup against the real release binary: server rendering, hydration,
// language switch, setup with a wrong and then the right token, and the state
// after setup with and without JavaScript. One fresh server for this file.

import { test, expect } from '@playwright/test';
import { useServer, waitForHydration } from './helpers';

test.describe.configure({ mode: 'serial' });
test.use({ locale: 'en-US' });

const server = useServer(test);

const ADMIN = {
  email: 'admin@example.com',
  name: 'Ada Admin',
  password: 'correct horse battery staple',
};

const CJK = /[\u4e00-\u9fff]/;
const VERSION = /\d+\.\d+\.\d+/;

async function fillSetupForm(page: import('@playwright/test').Page, token: string) {
  const form = page.locator('#setup-form');
  await form.locator('input[name="token"]').fill(token);
  await form.locator('input[name="email"]').fill(ADMIN.email);
  await form.locator('input[name="name"]').fill(ADMIN.name);
  await form.locator('input[name="password"]').fill(ADMIN.password);
  await form.locator('input[name="password_confirm"]').fill(ADMIN.password);
}

test('GET / is server-rendered with the site assets, /healthz is 200', async ({ page, request }) => {
  const response = await page.goto('/');
  expect(response, 'navigation response').not.toBeNull();
  expect(response!.status()).toBe(200);

  const res = await request.get('/');
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toMatch(/<link\b[^>]*\/pkg\/aicarpool(?:\.[\w-]+)?\.css/);
  expect(html).toMatch(/<(?:script|link)\b[^>]*>?[^<]*\/pkg\/aicarpool[\w.-]*\.(?:js|wasm)/);
  expect(html).toContain('id="setup-form"');

  const health = await request.get('/healthz');
  expect(health.status()).toBe(200);
});

test('the page hydrates and the password toggle works', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);

  const password = page.locator('#setup-form input[name="password"]');
  const toggle = page.locator('#toggle-password');
  await expect(password).toHaveAttribute('type', 'password');
  await toggle.click();
  await expect(password).toHaveAttribute('type', 'text');
  await toggle.click();
  await expect(password).toHaveAttribute('type', 'password');
});

test('the language switch changes the page and is remembered', async ({ page }) => {
  const html = page.locator('html');
  const heading = page.locator('h1').first();

  await page.goto('/');
  await waitForHydration(page);
  await expect(html).toHaveAttribute('lang', 'en');
  await expect(heading).toHaveText(/\S/);
  const english = (await heading.textContent())?.trim() ?? '';
  expect(english).not.toBe('');

  await page.locator('a[data-lang="zh-CN"]').first().click();
  await expect(html).toHaveAttribute('lang', 'zh-CN');
  await expect(heading).not.toHaveText(english);
  await expect(heading).toHaveText(CJK);

  await page.reload();
  await expect(html).toHaveAttribute('lang', 'zh-CN');
  await expect(heading).toHaveText(CJK);

  await waitForHydration(page);
  await page.locator('a[data-lang="en"]').first().click();
  await expect(html).toHaveAttribute('lang', 'en');
  await page.reload();
  await expect(html).toHaveAttribute('lang', 'en');
  await expect(heading).toHaveText(english);
});

test('a wrong setup token is refused', async ({ page, request }) => {
  await page.goto('/');
  await waitForHydration(page);

  await fillSetupForm(page, 'wrong-token-000000000000');
  await page.locator('#setup-form button[type="submit"]').click();

  const error = page.locator('#setup-error');
  await expect(error).toBeVisible();
  await expect(error).toHaveText(/\S/);
  await expect(page.locator('#setup-form')).toBeVisible();
  await expect(page.locator('#instance-status')).not.toBeVisible();

  const html = await (await request.get('/')).text();
  expect(html).toContain('id="setup-form"');
});

test('the right setup token creates the admin and shows the instance status', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);

  await fillSetupForm(page, server().setupToken);
  await page.locator('#setup-form button[type="submit"]').click();

  const status = page.locator('#instance-status');
  await expect(status).toBeVisible();
  await expect(status).toContainText('SQLite');
  await expect(status).toContainText(VERSION);
  await expect(page.locator('#setup-form')).toHaveCount(0);
});

test('after a reload the setup form stays gone', async ({ page, request }) => {
  await page.goto('/');
  await waitForHydration(page);
  await expect(page.locator('#setup-form')).toHaveCount(0);
  await expect(page.locator('#instance-status')).toBeVisible();

  const html = await (await request.get('/')).text();
  expect(html).not.toContain('id="setup-form"');
});

test('without JavaScript the status is server-rendered and no setup form is shown', async ({
  browser,
}) => {
  const context = await browser.newContext({
    javaScriptEnabled: false,
    baseURL: server().baseURL,
    locale: 'en-US',
  });
  try {
    const page = await context.newPage();
    const response = await page.goto('/');
    expect(response?.status()).toBe(200);
    await expect(page.locator('#setup-form')).toHaveCount(0);
    await expect(page.locator('#instance-status')).toContainText('SQLite');
    // Nothing ran in the page, so this is the server-rendered HTML.
    await expect(page.locator('[data-hydrated="true"]')).toHaveCount(0);
  } finally {
    await context.close();
  }
});

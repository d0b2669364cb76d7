// The chat proxy's browser side end to end, against the real release binary: the
// administrator adds an upstream account (pointing at a port where nothing listens),
// tests it, and binds it to a group; a member joins through an invite link, creates a
// member key, sees it once with ready-to-paste snippets, finds only its prefix and
// last 4 characters in the list afterwards, and revokes it.

import { test, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { useServer, waitForHydration } from './helpers';

test.describe.configure({ mode: 'serial' });

const server = useServer(test);

const PASSWORD = 'correct horse battery staple';
const ADMIN = { email: 'admin@example.com', name: 'Ada Admin' };
const MEMBER = { email: 'member@example.com', name: 'Max Member' };
const GROUP = 'Team DeepSeek';
const ACCOUNT = 'Local DeepSeek';
const PROVIDER_KEY = 'sk-e2e-provider-secret-7Q4z';

let adminContext: BrowserContext | undefined;
let memberContext: BrowserContext | undefined;
let groupId = '';
let invitePath = '';
/** The member key as shown once. */
let memberKey = '';

async function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ baseURL: server().baseURL, locale: 'en-US' });
}

async function pageOf(context: BrowserContext | undefined): Promise<Page> {
  if (!context) throw new Error('an earlier test did not run');
  return context.pages()[0] ?? (await context.newPage());
}

test.afterAll(async () => {
  await adminContext?.close();
  await memberContext?.close();
});

test('the administrator sets up the instance and a group with an invite link', async ({ browser }) => {
  adminContext = await newContext(browser);
  const page = await adminContext.newPage();
  await page.goto('/');
  await waitForHydration(page);
  const setup = page.locator('#setup-form');
  await setup.locator('input[name="token"]').fill(server().setupToken);
  await setup.locator('input[name="email"]').fill(ADMIN.email);
  await setup.locator('input[name="name"]').fill(ADMIN.name);
  await setup.locator('input[name="password"]').fill(PASSWORD);
  await setup.locator('input[name="password_confirm"]').fill(PASSWORD);
  await setup.locator('button[type="submit"]').click();
  await expect(page.locator('#instance-status')).toBeVisible();

  await page.goto('/login');
  await waitForHydration(page);
  const login = page.locator('#login-form');
  await login.locator('input[name="email"]').fill(ADMIN.email);
  await login.locator('input[name="password"]').fill(PASSWORD);
  await login.locator('button[type="submit"]').click();
  await expect(page.locator('#current-user')).toHaveText(ADMIN.name);

  await page.goto('/groups');
  await waitForHydration(page);
  const create = page.locator('#create-group-form');
  await create.locator('input[name="name"]').fill(GROUP);
  await create.locator('button[type="submit"]').click();
  await expect(page).toHaveURL(/\/groups\/\d+$/);
  groupId = /\/groups\/(\d+)$/.exec(page.url())?.[1] ?? '';
  await expect(page.locator('#no-bindings')).toBeVisible();

  await page.locator('#link-form select[name="role"]').selectOption('member');
  await page.locator('#link-submit').click();
  const link = page.locator('#new-link');
  await expect(link).toBeVisible();
  invitePath = new URL(await link.inputValue()).pathname;
  expect(invitePath).toMatch(/^\/invite\/[0-9a-f]{64}$/);
});

test('the administrator adds an account, tests it and binds it to the group', async () => {
  const page = await pageOf(adminContext);
  await page.locator('#nav-accounts').click();
  await expect(page).toHaveURL(/\/accounts$/);
  await waitForHydration(page);
  await expect(page.locator('#no-accounts')).toBeVisible();

  const form = page.locator('#add-account');
  const baseUrl = form.locator('input[name="base_url"]');
  // The provider's public API is filled in; a compatible provider has none.
  await expect(baseUrl).toHaveValue('https://api.openai.com/v1');
  await form.locator('select[name="provider"]').selectOption('openai_compatible');
  await expect(baseUrl).toHaveValue('');
  await form.locator('input[name="name"]').fill(ACCOUNT);
  await baseUrl.fill('http://127.0.0.1:9/v1');
  await form.locator('input[name="api_key"]').fill(PROVIDER_KEY);
  await form.locator('textarea[name="models"]').fill('deepseek-chat, deepseek-reasoner');
  await form.locator('textarea[name="model_aliases"]').fill('ds=deepseek-chat');
  await form.locator('select[name="group_id"]').selectOption('');
  await page.locator('#add-account-submit').click();

  const card = page.locator(`li[data-account-name="${ACCOUNT}"]`);
  await expect(card).toBeVisible();
  await expect(card.locator('[data-test="key-hint"]')).toHaveText('…7Q4z');
  await expect(card).toContainText('deepseek-reasoner');
  expect(await page.content()).not.toContain(PROVIDER_KEY);

  // Nothing listens on port 9: the test reports the failure and the card keeps it.
  await card.getByRole('button', { name: 'Test connection' }).click();
  const result = card.locator('[data-test="test-result"]');
  await expect(result).toHaveAttribute('data-ok', 'false', { timeout: 30_000 });
  await expect(result).toContainText('Failed after');
  await expect(card.locator('[data-test="last-error"]')).toBeVisible();

  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  const bind = page.locator('#bind-form');
  const option = bind.locator('select[name="account_id"] option', { hasText: ACCOUNT });
  const accountId = await option.getAttribute('value');
  expect(accountId).toMatch(/^\d+$/);
  await bind.locator('select[name="account_id"]').selectOption(accountId ?? '');
  await bind.locator('input[name="priority"]').fill('1');
  await page.locator('#bind-submit').click();
  const row = page.locator(`#binding-list tr[data-account-name="${ACCOUNT}"]`);
  await expect(row).toBeVisible();
  await expect(row.locator('[data-test="binding-models"]')).toContainText('deepseek-chat');
});

test('a member joins, creates a key and sees it once with snippets', async ({ browser }) => {
  memberContext = await newContext(browser);
  const page = await memberContext.newPage();
  await page.goto(`/register?next=${encodeURIComponent(invitePath)}`);
  await waitForHydration(page);
  const form = page.locator('#register-form');
  await form.locator('input[name="email"]').fill(MEMBER.email);
  await form.locator('input[name="name"]').fill(MEMBER.name);
  await form.locator('input[name="password"]').fill(PASSWORD);
  await form.locator('input[name="password_confirm"]').fill(PASSWORD);
  await form.locator('button[type="submit"]').click();
  await expect(page.locator('#current-user')).toHaveText(MEMBER.name);
  await page.locator('#accept-invite').click();
  await expect(page).toHaveURL(new RegExp(`/groups/${groupId}$`));

  // Members see what serves the group, but cannot change it nor manage accounts.
  await expect(page.locator(`#binding-list tr[data-account-name="${ACCOUNT}"]`)).toBeVisible();
  await expect(page.locator('#bind-form')).toHaveCount(0);
  await expect(page.locator('#nav-accounts')).toHaveCount(0);

  await page.locator('#group-keys-link').click();
  await expect(page).toHaveURL(new RegExp(`/groups/${groupId}/keys$`));
  await waitForHydration(page);
  await expect(page.locator('#no-keys')).toBeVisible();
  await page.locator('#create-key-form input[name="name"]').fill('laptop');
  await page.locator('#create-key-submit').click();

  const shown = page.locator('#new-key');
  await expect(shown).toBeVisible();
  memberKey = await shown.inputValue();
  expect(memberKey).toMatch(/^acp_[0-9A-Za-z]{40,}$/);
  await expect(page.locator('#new-key-note')).toContainText('you will not see it again');
  await expect(page.locator('#new-key-copy')).toBeVisible();

  // Snippets carry the real key and this instance's URL (APP_URL, localhost by default).
  const appUrl = `http://localhost:${server().port}`;
  await expect(page.locator('#snippet-curl')).toContainText(`${appUrl}/v1/chat/completions`);
  await expect(page.locator('#snippet-curl')).toContainText(`Bearer ${memberKey}`);
  await page.locator('button[data-snippet="openai-python"]').click();
  await expect(page.locator('#snippet-openai-python')).toBeVisible();
  await expect(page.locator('#snippet-openai-python')).toContainText(`base_url="${appUrl}/v1"`);
  await page.locator('button[data-snippet="anthropic-python"]').click();
  await expect(page.locator('#snippet-anthropic-python')).toContainText(`base_url="${appUrl}"`);
  await page.locator('button[data-snippet="claude-code"]').click();
  await expect(page.locator('#snippet-claude-code')).toContainText(`export ANTHROPIC_BASE_URL=${appUrl}`);
  await expect(page.locator('#snippet-claude-code')).toContainText(`ANTHROPIC_AUTH_TOKEN=${memberKey}`);
  await page.locator('button[data-snippet="codex"]').click();
  const codex = page.locator('#snippet-codex');
  await expect(codex).toBeVisible();
  await expect(codex).toContainText('[model_providers.aicarpool]');
  await expect(codex).toContainText(`base_url = "${appUrl}/v1"`);
  await expect(codex).toContainText('wire_api = "responses"');
  await expect(codex).toContainText('env_key = "AICARPOOL_API_KEY"');
  await expect(codex).toContainText(`export AICARPOOL_API_KEY=${memberKey}`);
});

test('afterwards the list shows only the prefix and last 4, and the member revokes the key', async () => {
  const page = await pageOf(memberContext);
  await page.goto(`/groups/${groupId}/keys`);
  await waitForHydration(page);
  await expect(page.locator('#new-key')).toHaveCount(0);
  const row = page.locator('#key-list tr[data-key-name="laptop"]');
  await expect(row).toHaveAttribute('data-state', 'active');
  const masked = `${memberKey.slice(0, 8)}…${memberKey.slice(-4)}`;
  await expect(row.locator('[data-test="key-mask"]')).toHaveText(masked);
  expect(await page.content()).not.toContain(memberKey);

  await row.locator('[data-test="revoke-key"] summary').click();
  await row.locator('input[name="confirm"]').check();
  await row.getByRole('button', { name: 'Revoke for good' }).click();
  await expect(page.locator('#key-list tr[data-key-name="laptop"]')).toHaveAttribute(
    'data-state',
    'revoked',
  );

  // A revoked key no longer opens the proxy.
  const res = await page.request.get('/v1/models', {
    headers: { authorization: `Bearer ${memberKey}` },
  });
  expect(res.status()).toBe(401);
});

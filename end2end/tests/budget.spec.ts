// Routing and budgets end to end, against the real release binary: the lead picks a
// routing strategy (its explanation follows the choice) and a fallback chain on the group
// page, then puts a monthly cost limit on a member who joined through an invite link; the
// member reads the routing, finds the limit on the group page and their remaining budget on
// their own page, and the usage and cost-split pages render their charts and statement.

import { test, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { useServer, waitForHydration } from './helpers';

test.describe.configure({ mode: 'serial' });

const server = useServer(test);

const PASSWORD = 'correct horse battery staple';
const LEAD = { email: 'lead@example.com', name: 'Lena Lead' };
const MEMBER = { email: 'member@example.com', name: 'Max Member' };
const GROUP = 'Budget Carpool';

let leadContext: BrowserContext | undefined;
let memberContext: BrowserContext | undefined;
let groupId = '';
let invitePath = '';

async function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ baseURL: server().baseURL, locale: 'en-US' });
}

async function pageOf(context: BrowserContext | undefined): Promise<Page> {
  if (!context) throw new Error('an earlier test did not run');
  return context.pages()[0] ?? (await context.newPage());
}

test.afterAll(async () => {
  await leadContext?.close();
  await memberContext?.close();
});

test('the lead sets up a group with an invite link', async ({ browser }) => {
  leadContext = await newContext(browser);
  const page = await leadContext.newPage();
  await page.goto('/');
  await waitForHydration(page);
  const setup = page.locator('#setup-form');
  await setup.locator('input[name="token"]').fill(server().setupToken);
  await setup.locator('input[name="email"]').fill(LEAD.email);
  await setup.locator('input[name="name"]').fill(LEAD.name);
  await setup.locator('input[name="password"]').fill(PASSWORD);
  await setup.locator('input[name="password_confirm"]').fill(PASSWORD);
  await setup.locator('button[type="submit"]').click();
  await expect(page.locator('#instance-status')).toBeVisible();

  await page.goto('/login');
  await waitForHydration(page);
  const login = page.locator('#login-form');
  await login.locator('input[name="email"]').fill(LEAD.email);
  await login.locator('input[name="password"]').fill(PASSWORD);
  await login.locator('button[type="submit"]').click();
  await expect(page.locator('#current-user')).toHaveText(LEAD.name);

  await page.goto('/groups');
  await waitForHydration(page);
  const create = page.locator('#create-group-form');
  await create.locator('input[name="name"]').fill(GROUP);
  await create.locator('button[type="submit"]').click();
  await expect(page).toHaveURL(/\/groups\/\d+$/);
  groupId = /\/groups\/(\d+)$/.exec(page.url())?.[1] ?? '';

  await page.locator('#link-form select[name="role"]').selectOption('member');
  await page.locator('#link-submit').click();
  const link = page.locator('#new-link');
  await expect(link).toBeVisible();
  invitePath = new URL(await link.inputValue()).pathname;
});

test('the lead picks a routing strategy and a fallback chain', async () => {
  const page = await pageOf(leadContext);
  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  const routing = page.locator('#group-routing');
  await expect(routing).toHaveAttribute('data-strategy', 'weighted');
  const form = page.locator('#routing-form');
  await form.locator('select[name="strategy"]').selectOption('least_latency');
  await expect(page.locator('#routing-form-explanation')).toContainText('lowest recent time to first byte');
  await form
    .locator('textarea[name="routes"]')
    .fill('smart -> claude-sonnet-4-5, gpt-4o-mini, qwen-max');
  await page.locator('#routing-submit').click();
  await expect(page.locator('#group-routing')).toHaveAttribute('data-strategy', 'least_latency');
  await expect(page.locator('#routing-strategy')).toHaveText('Least latency');
  await expect(page.locator('#routing-form textarea[name="routes"]')).toHaveValue(
    'smart -> claude-sonnet-4-5, gpt-4o-mini, qwen-max',
  );
});

test('a member joins and reads the routing', async ({ browser }) => {
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

  await expect(page.locator('#group-routing')).toHaveAttribute('data-strategy', 'least_latency');
  await expect(page.locator('#routing-chains li[data-alias="smart"]')).toContainText(
    'claude-sonnet-4-5 → gpt-4o-mini → qwen-max',
  );
  await expect(page.locator('#routing-form')).toHaveCount(0);
  await expect(page.locator('#limit-form')).toHaveCount(0);
  await expect(page.locator('#no-limits')).toBeVisible();
});

test('the lead puts a monthly cost limit on the member', async () => {
  const page = await pageOf(leadContext);
  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  const form = page.locator('#limit-form');
  const target = form.locator('select[name="target"]');
  const option = target.locator('option', { hasText: MEMBER.name });
  const value = (await option.getAttribute('value')) ?? '';
  expect(value).toMatch(/^member:\d+$/);
  await target.selectOption(value);
  await form.locator('select[name="metric"]').selectOption('cost');
  await form.locator('select[name="window"]').selectOption('month');
  await form.locator('input[name="cap"]').fill('5');
  await form.locator('input[name="warn_at"]').fill('50, 100');
  await page.locator('#limit-submit').click();
  const row = page.locator('#limit-list tr[data-scope="member"]');
  await expect(row).toBeVisible();
  await expect(row).toContainText(MEMBER.name);
  await expect(row.locator('[data-test="limit-used"]')).toHaveText('$0.00 / $5.00');
});

test('the member sees their remaining budget, usage and cost split', async () => {
  const page = await pageOf(memberContext);
  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  const row = page.locator('#limit-list tr[data-scope="member"]');
  await expect(row.locator('[data-test="limit-remaining"]')).toHaveText('$5.00');

  await page.locator('#group-me-link').click();
  await expect(page).toHaveURL(new RegExp(`/groups/${groupId}/me$`));
  const limit = page.locator('#my-limits li[data-scope="member"]');
  await expect(limit).toContainText('Cost (USD) per month');
  await expect(limit.locator('[data-test="limit-remaining"]')).toHaveText('$5.00');
  await expect(limit.locator('[role="progressbar"]')).toHaveAttribute('aria-valuenow', '0');
  await expect(page.locator('#my-statement')).toContainText('You owe nothing this month.');

  await page.goto(`/groups/${groupId}/usage`);
  await waitForHydration(page);
  await expect(page.locator('svg#chart-requests')).toBeVisible();
  await expect(page.locator('#usage-by option[value="member"]')).toHaveCount(0);

  await page.goto(`/groups/${groupId}/cost-split`);
  await waitForHydration(page);
  await expect(page.locator(`#statement tr[data-user-id]`)).toHaveCount(2);
  await expect(page.locator('#fixed-form')).toHaveCount(0);
});

// Routing and budgets end to end, against the real release binary: the lead picks a
// routing strategy (its explanation follows the choice) and a fallback chain on the group
// page, then puts a monthly cost limit on a member who joined through an invite link; the
// member reads the routing, finds the limit on the group page and their remaining budget on
// their own page, and the usage and cost-split pages render their charts and statement.
// Then money: the lead edits the limit in place (a wrong cap is named next to the field),
// overrides a model's price and resets it on the prices page, and sets the USD->CNY rate; the
// member, who has no prices page, switches to yuan and sees ¥ amounts equal to rate x USD.
// Screenshots of the changed pages (desktop and a 390 px phone) go to $SHOTS_DIR (/tmp/shots).

import * as fs from 'node:fs';
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
  await expect(limit).toContainText('Cost per month');
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

const SHOTS = process.env.SHOTS_DIR ?? '/tmp/shots';

/** Full-page screenshots of `path` at desktop width and at a 390 px phone width; unless
 * `wideOk`, the phone page must not scroll sideways (wide tables scroll inside their box). */
async function shoot(page: Page, path: string, name: string, wideOk = false): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const size = page.viewportSize() ?? { width: 1280, height: 720 };
  for (const [suffix, viewport] of [
    ['desktop', { width: 1280, height: 900 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.goto(path);
    await waitForHydration(page);
    await page.screenshot({ path: `${SHOTS}/${name}-${suffix}.png`, fullPage: true });
    if (!wideOk) {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${path} at ${viewport.width} px`).toBeLessThanOrEqual(viewport.width);
    }
  }
  await page.setViewportSize(size);
}

/** `$1.5` style text of micro-units: at least two decimals, every significant digit. */
function amount(symbol: string, micros: bigint): string {
  const sign = micros < 0n ? '-' : '';
  const abs = micros < 0n ? -micros : micros;
  let frac = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${sign}${symbol}${abs / 1_000_000n}.${frac}`;
}

/** Micro-USD to micro-CNY at a rate in ten-thousandths: the product, rounded once, half up. */
function toCny(usdMicros: bigint, rateE4: bigint): bigint {
  return (usdMicros * rateE4 + 5_000n) / 10_000n;
}

test('the lead edits the limit in place', async () => {
  const page = await pageOf(leadContext);
  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  const row = page.locator('#limit-list tr[data-scope="member"]');
  const limitId = (await row.getAttribute('data-limit-id')) ?? '';
  await row.locator('[data-test="edit-limit"]').click();
  const form = page.locator(`#edit-limit-${limitId}`);
  await expect(form).toBeVisible();
  const cap = form.locator('input[name="cap"]');
  await expect(cap).toHaveValue('5');
  await expect(form.locator('input[name="warn_at"]')).toHaveValue('50, 100');

  // Checked as you type (after leaving the field)...
  await cap.fill('-1');
  await cap.blur();
  await expect(page.locator(`#edit-limit-${limitId}-cap-error`)).toContainText('Enter US dollars above 0');
  await expect(cap).toHaveAttribute('aria-invalid', 'true');
  // ...and by the server, whose refusal stands next to the field it names.
  await form.locator('input[name="warn_at"]').fill('50, 200');
  await cap.fill('7.5');
  await page.locator('#edit-limit-submit').click();
  await expect(page.locator(`#edit-limit-${limitId}-warn_at-error`)).toContainText(
    'percentages from 1 to 100',
  );
  await expect(page.locator(`#edit-limit-${limitId}-cap-error`)).toBeEmpty();

  await form.locator('input[name="warn_at"]').fill('50, 90');
  await page.locator('#edit-limit-submit').click();
  await expect(page.locator(`#edit-limit-${limitId}`)).toHaveCount(0);
  await expect(page).toHaveURL(new RegExp(`/groups/${groupId}$`));
  await expect(row.locator('[data-test="limit-used"]')).toHaveText('$0.00 / $7.50');
  await expect(row).toHaveAttribute('data-cap', '7500000');
  await shoot(page, `/groups/${groupId}?edit_limit=${limitId}`, 'group-limit-edit', true);
});

test('the lead overrides a price and resets it', async () => {
  const page = await pageOf(leadContext);
  await page.goto('/groups');
  await waitForHydration(page);
  await page.locator('#nav-prices').click();
  await expect(page).toHaveURL(/\/prices$/);
  const row = page.locator('#price-list tr[data-model="gpt-4o-mini"]');
  await expect(row).toHaveAttribute('data-source', 'built_in');
  await expect(row.locator('td').nth(1)).toHaveText('$0.15');

  await row.locator('[data-test="edit-price"]').click();
  const form = page.locator('#price-form');
  await expect(form.locator('input[name="model"]')).toHaveValue('gpt-4o-mini');
  await expect(form.locator('input[name="input"]')).toHaveValue('0.15');
  // A wrong price is named next to its field, in words.
  await form.locator('input[name="output"]').fill('0.6.1');
  await form.locator('input[name="input"]').fill('0.3');
  await page.locator('#price-submit').click();
  await expect(page.locator('#price-form-output-error')).toContainText('US dollars per million tokens');
  await form.locator('input[name="output"]').fill('1.2');
  await page.locator('#price-submit').click();
  await expect(page.locator('#price-saved')).toBeVisible();
  await expect(row).toHaveAttribute('data-source', 'override');
  await expect(row.locator('td').nth(1)).toHaveText('$0.30');
  await expect(row.locator('td').nth(2)).toHaveText('$1.20');
  await expect(row.locator('[data-test="built-in-price"]')).toContainText('Built-in: $0.15 / $0.60');
  await shoot(page, '/prices', 'prices');

  await row.locator('button', { hasText: 'Reset to built-in' }).click();
  await expect(page.locator('#price-reset-done')).toBeVisible();
  await expect(row).toHaveAttribute('data-source', 'built_in');
  await expect(row.locator('td').nth(1)).toHaveText('$0.15');
});

test('the lead sets the exchange rate', async () => {
  const page = await pageOf(leadContext);
  await page.goto('/prices');
  await waitForHydration(page);
  await expect(page.locator('#rate-now')).toHaveText('1 USD = 7.2000 CNY');
  const rate = page.locator('#rate-form input[name="cny_per_usd"]');
  await rate.fill('7.12345');
  await page.locator('#rate-submit').click();
  await expect(page.locator('#rate-form-cny_per_usd-error')).toContainText('up to 4 decimals');
  await rate.fill('7.1234');
  await page.locator('#rate-submit').click();
  await expect(page.locator('#rate-saved')).toBeVisible();
  await expect(page.locator('#rate-now')).toHaveText('1 USD = 7.1234 CNY');
  await expect(page.locator('#rate-form')).toHaveAttribute('data-source', 'admin');

  // A subscription of $10.01 this month, shared equally by the two: $5.005 each.
  await page.goto(`/groups/${groupId}/cost-split`);
  await waitForHydration(page);
  const period = (await page.locator('#cost-split').getAttribute('data-period')) ?? '';
  const res = await page.request.post(`/api/groups/${groupId}/cost-split/fixed`, {
    headers: { Origin: server().baseURL },
    data: { period, name: 'Team plan', amount_usd: '10.01', split: 'equal' },
  });
  expect(res.status()).toBe(201);
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#group-total')).toHaveText('$10.01');
});

test('the member has no prices page and switches to yuan', async () => {
  const page = await pageOf(memberContext);
  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  await expect(page.locator('#nav-prices')).toHaveCount(0);
  const response = await page.goto('/prices');
  expect(response?.status()).toBe(403);
  await expect(page.locator('#prices-forbidden')).toContainText(
    'Only a system administrator can see and change prices.',
  );

  await page.goto('/profile');
  await waitForHydration(page);
  await expect(page.locator('#profile-form')).toContainText('1 USD = 7.1234 CNY');
  await page.locator('#profile-form-currency').selectOption('CNY');
  await page.locator('#profile-form button[type="submit"]').click();
  await expect(page.locator('#profile-saved')).toBeVisible();
  await shoot(page, '/profile', 'profile');

  // The $7.50 limit in yuan: 7 500 000 micro-USD x 7.1234 = 53 425 500 micro-CNY.
  const rate = 71_234n;
  const cap = toCny(7_500_000n, rate);
  expect(amount('¥', cap)).toBe('¥53.4255');
  await page.goto(`/groups/${groupId}`);
  await waitForHydration(page);
  const row = page.locator('#limit-list tr[data-scope="member"]');
  await expect(row.locator('[data-test="limit-used"]')).toHaveText(`¥0.00 / ${amount('¥', cap)}`);
  await expect(row.locator('[data-test="limit-remaining"]')).toHaveText(amount('¥', cap));

  await page.goto(`/groups/${groupId}/me`);
  await waitForHydration(page);
  const mine = page.locator('#my-limits li[data-scope="member"]');
  await expect(mine.locator('[data-test="limit-remaining"]')).toHaveText(amount('¥', cap));
  await expect(page.locator('figcaption', { hasText: 'Cost (CNY)' })).toBeVisible();
  await shoot(page, `/groups/${groupId}/me`, 'my-budget-cny');

  await page.goto(`/groups/${groupId}/usage`);
  await waitForHydration(page);
  await expect(page.locator('#usage-totals tr[data-series="total"] [data-test="cost"]')).toHaveText('¥0.00');
  await shoot(page, `/groups/${groupId}/usage`, 'usage-cny');

  await page.goto(`/groups/${groupId}/cost-split`);
  await waitForHydration(page);
  const total = page.locator('#group-total');
  const micros = BigInt((await total.getAttribute('data-micros')) ?? 'x');
  expect(micros).toBe(10_010_000n);
  // 10.01 x 7.1234 = 71.305234 and 5.005 x 7.1234 = 35.652617: exact, nothing rounded away.
  await expect(total).toHaveText(amount('¥', toCny(micros, rate)));
  await expect(total).toHaveText('¥71.305234');
  const lines = page.locator('#statement tr[data-user-id]');
  for (let i = 0; i < 2; i++) {
    const line = lines.nth(i);
    const share = BigInt((await line.getAttribute('data-total')) ?? 'x');
    expect(share).toBe(5_005_000n);
    await expect(line.locator('[data-test="total"]')).toHaveText('¥35.652617');
  }
  await shoot(page, `/groups/${groupId}/cost-split`, 'cost-split-cny');

  // The lead, who kept dollars, still sees them.
  const lead = await pageOf(leadContext);
  await lead.goto(`/groups/${groupId}`);
  await waitForHydration(lead);
  await expect(
    lead.locator('#limit-list tr[data-scope="member"] [data-test="limit-used"]'),
  ).toHaveText('$0.00 / $7.50');
});

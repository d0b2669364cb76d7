// Groups and invitations end to end, against the real release binary and a real
// SMTP server (aiosmtpd writing a Maildir): first-run setup, an owner registers
// and creates a group, invites someone by email; the mail arrives, the invitee
// opens its link in a fresh browser, registers there and accepts; the owner sees
// the invitation accepted and its mail sent; a stranger gets "not found".

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { freePort, startServer, waitForHydration, type RunningServer } from './helpers';

test.describe.configure({ mode: 'serial' });

const PASSWORD = 'correct horse battery staple';
const ADMIN = { email: 'admin@example.com', name: 'Ada Admin' };
const OWNER = { email: 'owner@example.com', name: 'Olga Owner' };
const INVITEE = { email: 'invitee@example.com', name: 'Ivan Invitee' };
const STRANGER = { email: 'stranger@example.com', name: 'Sam Stranger' };
const GROUP = { name: 'Team Claude', description: 'One Claude Max plan, shared fairly' };

const INVITE_PATH_RE = /\/invite\/([0-9a-f]{64})$/;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// The SMTP server: `python3 -m aiosmtpd` with a Maildir mailbox.
// ---------------------------------------------------------------------------

let smtp: ChildProcess | undefined;
let smtpLog = '';
let maildir = '';
let server: RunningServer | undefined;
let ownerContext: BrowserContext | undefined;
/** The group created by the owner (set by the test that creates it). */
let groupId = '';
/** The accept link shown to the owner right after inviting. */
let shownLink = '';

/** True while the SMTP child runs (a child killed by a signal has no exit code). */
function smtpRunning(): boolean {
  return smtp !== undefined && smtp.exitCode === null && smtp.signalCode === null;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (!smtpRunning()) throw new Error(`aiosmtpd exited:\n${smtpLog}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}:\n${smtpLog}`);
    await sleep(100);
  }
}

test.beforeAll(async () => {
  const smtpPort = await freePort();
  maildir = fs.mkdtempSync(path.join(os.tmpdir(), 'aicarpool-e2e-mail-'));
  const mailbox = path.join(maildir, 'Maildir');
  smtp = spawn(
    'python3',
    ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Mailbox', mailbox],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  smtp.stdout?.on('data', (c: Buffer) => (smtpLog += c.toString('utf8')));
  smtp.stderr?.on('data', (c: Buffer) => (smtpLog += c.toString('utf8')));
  await waitForPort(smtpPort, 15_000);
  // APP_URL is left at its default, http://localhost:<the server's port>: the helper
  // picks that port inside startServer, so it cannot be passed in beforehand. The
  // link in the mail is checked against it below.
  server = await startServer({
    env: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtpPort), SMTP_SECURITY: 'plain' },
  });
});

test.afterEach(async ({}, testInfo) => {
  if (server && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server.log', { body: server.logs(), contentType: 'text/plain' });
    await testInfo.attach('smtp.log', { body: smtpLog, contentType: 'text/plain' });
  }
});

test.afterAll(async () => {
  await ownerContext?.close();
  await server?.stop();
  // That child only, by its PID.
  if (smtp?.pid !== undefined && smtpRunning()) {
    const exited = new Promise<void>((resolve) => smtp?.once('exit', () => resolve()));
    process.kill(smtp.pid, 'SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (smtpRunning()) process.kill(smtp.pid, 'SIGKILL');
  }
  if (maildir) fs.rmSync(maildir, { recursive: true, force: true });
});

function running(): RunningServer {
  if (!server) throw new Error('server not started (beforeAll did not run)');
  return server;
}

async function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ baseURL: running().baseURL, locale: 'en-US' });
}

// ---------------------------------------------------------------------------
// A small MIME reader: enough for the invitation mail (multipart/alternative,
// parts in quoted-printable, base64 or 7bit).
// ---------------------------------------------------------------------------

interface MimePart {
  headers: Map<string, string>;
  body: string;
}

function splitMessage(raw: string): MimePart {
  const normalized = raw.replace(/\r\n/g, '\n');
  const end = normalized.indexOf('\n\n');
  const head = end === -1 ? normalized : normalized.slice(0, end);
  const body = end === -1 ? '' : normalized.slice(end + 2);
  const headers = new Map<string, string>();
  // Unfold continuation lines, then read `Name: value`.
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function decodeQuotedPrintable(body: string): string {
  const bytes: number[] = [];
  const text = body.replace(/=\n/g, '');
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The decoded text of every leaf part of a message. */
function textParts(raw: string): string[] {
  const part = splitMessage(raw);
  const type = part.headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const pieces = part.body.split(`--${boundary}`).slice(1);
    return pieces
      .filter((p) => !p.startsWith('--'))
      .flatMap((p) => textParts(p.replace(/^\n/, '')));
  }
  const encoding = (part.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') return [Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8')];
  if (encoding === 'quoted-printable') return [decodeQuotedPrintable(part.body)];
  return [part.body];
}

/** Waits for exactly one mail to arrive and returns it. */
async function waitForMail(timeoutMs: number): Promise<{ to: string; subject: string; parts: string[] }> {
  const dir = path.join(maildir, 'Maildir', 'new');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    if (files.length > 0) {
      expect(files, 'one invitation, one mail').toHaveLength(1);
      const raw = fs.readFileSync(path.join(dir, files[0]), 'utf8');
      const { headers } = splitMessage(raw);
      return { to: headers.get('to') ?? '', subject: headers.get('subject') ?? '', parts: textParts(raw) };
    }
    if (Date.now() > deadline) {
      throw new Error(`no mail in ${dir} after ${timeoutMs} ms\n--- smtp ---\n${smtpLog}`);
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------
// Page helpers
// ---------------------------------------------------------------------------

async function register(page: Page, who: { email: string; name: string }, next?: string) {
  await page.goto(next ? `/register?next=${encodeURIComponent(next)}` : '/register');
  await waitForHydration(page);
  const form = page.locator('#register-form');
  await form.locator('input[name="email"]').fill(who.email);
  await form.locator('input[name="name"]').fill(who.name);
  await form.locator('input[name="password"]').fill(PASSWORD);
  await form.locator('input[name="password_confirm"]').fill(PASSWORD);
  await form.locator('button[type="submit"]').click();
  await expect(page.locator('#current-user')).toHaveText(who.name);
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

test('first-run setup creates the administrator', async ({ browser }) => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await page.goto('/');
    await waitForHydration(page);
    const form = page.locator('#setup-form');
    await form.locator('input[name="token"]').fill(running().setupToken);
    await form.locator('input[name="email"]').fill(ADMIN.email);
    await form.locator('input[name="name"]').fill(ADMIN.name);
    await form.locator('input[name="password"]').fill(PASSWORD);
    await form.locator('input[name="password_confirm"]').fill(PASSWORD);
    await form.locator('button[type="submit"]').click();
    await expect(page.locator('#instance-status')).toBeVisible();
    await expect(page.locator('#instance-status')).toContainText('SMTP');
  } finally {
    await context.close();
  }
});

test('an owner registers, creates a group and invites by email', async ({ browser }) => {
  ownerContext = await newContext(browser);
  const page = await ownerContext.newPage();
  await register(page, OWNER);
  await expect(page).toHaveURL(/\/groups$/);
  await expect(page.locator('#no-groups')).toBeVisible();

  const create = page.locator('#create-group-form');
  await create.locator('input[name="name"]').fill(GROUP.name);
  await create.locator('textarea[name="description"]').fill(GROUP.description);
  await create.locator('button[type="submit"]').click();
  await expect(page).toHaveURL(/\/groups\/\d+$/);
  groupId = /\/groups\/(\d+)$/.exec(page.url())?.[1] ?? '';
  await expect(page.locator('#group-name')).toHaveText(GROUP.name);
  await expect(page.locator('#group-description')).toHaveText(GROUP.description);
  await expect(page.locator('#my-role')).toHaveAttribute('data-role', 'owner');

  // Live validation before anything is sent.
  const email = page.locator('#invite-form input[name="email"]');
  await email.fill('not an email');
  await email.blur();
  await expect(page.locator('#invite-form-email-error')).not.toBeEmpty();

  await email.fill(INVITEE.email);
  await page.locator('#invite-form select[name="role"]').selectOption('member');
  await page.locator('#invite-submit').click();

  // The accept link is shown once, with a Copy button.
  const link = page.locator('#invite-link');
  await expect(link).toBeVisible();
  shownLink = await link.inputValue();
  expect(shownLink).toMatch(INVITE_PATH_RE);
  await expect(page.locator('#invite-link-email')).toHaveText(INVITEE.email);
  await expect(page.locator('#invite-link-copy')).toBeVisible();

  const row = page.locator(`tr[data-invitation-email="${INVITEE.email}"]`);
  await expect(row).toHaveAttribute('data-state', 'pending');
});

test('the invitation mail arrives with the accept link', async () => {
  const mail = await waitForMail(30_000);
  expect(mail.to).toContain(INVITEE.email);
  expect(mail.subject).toContain(GROUP.name);
  const links = mail.parts
    .flatMap((text) => text.match(/https?:\/\/[^\s"'<>]+\/invite\/[0-9a-f]{64}/g) ?? [])
    .filter((v, i, all) => all.indexOf(v) === i);
  expect(links, `one accept link in the mail:\n${mail.parts.join('\n---\n')}`).toHaveLength(1);
  const url = new URL(links[0]);
  expect(url.origin).toBe(`http://localhost:${running().port}`);
  expect(url.pathname).toBe(new URL(shownLink).pathname);
});

test('the invitee opens the link in a fresh browser, registers there and accepts', async ({ browser }) => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    // The mail's link, on the address the server listens on (localhost may be ::1).
    const invitePath = new URL(shownLink).pathname;
    const response = await page.goto(invitePath);
    expect(response?.status()).toBe(200);
    await waitForHydration(page);

    const preview = page.locator('#invite-preview');
    await expect(preview).toHaveAttribute('data-state', 'pending');
    await expect(preview).toContainText(GROUP.name);
    await expect(preview).toContainText(OWNER.name);
    await expect(page.locator('#invite-email')).toHaveText(INVITEE.email);
    await expect(page.locator('#invite-role')).toHaveAttribute('data-role', 'member');
    // Signed out: no accept button, but both ways in.
    await expect(page.locator('#accept-invite')).toHaveCount(0);
    await expect(page.locator('#invite-login-form input[name="email"]')).toHaveValue(INVITEE.email);

    const form = page.locator('#invite-register-form');
    const email = form.locator('input[name="email"]');
    await expect(email).toHaveValue(INVITEE.email);
    await expect(email).toHaveAttribute('readonly', /.*/);
    await form.locator('input[name="name"]').fill(INVITEE.name);
    await form.locator('input[name="password"]').fill(PASSWORD);
    await form.locator('input[name="password_confirm"]').fill(PASSWORD);
    await form.locator('button[type="submit"]').click();

    // Registered and back on the invitation; joining still takes the button.
    await expect(page.locator('#current-user')).toHaveText(INVITEE.name);
    await expect(page).toHaveURL(new RegExp(`${invitePath}$`));
    const accept = page.locator('#accept-invite');
    await expect(accept).toBeVisible();
    await accept.click();

    await expect(page).toHaveURL(new RegExp(`/groups/${groupId}$`));
    await expect(page.locator('#group-name')).toHaveText(GROUP.name);
    await expect(page.locator('#my-role')).toHaveAttribute('data-role', 'member');
    await expect(page.locator(`tr[data-member-email="${INVITEE.email}"]`)).toHaveAttribute(
      'data-role',
      'member',
    );
    // A member sees no invitation controls.
    await expect(page.locator('#invite-form')).toHaveCount(0);
  } finally {
    await context.close();
  }
});

test('the owner sees the invitation accepted and its mail sent', async () => {
  if (!ownerContext) throw new Error('the owner test did not run');
  const page = ownerContext.pages()[0] ?? (await ownerContext.newPage());
  const row = page.locator(`tr[data-invitation-email="${INVITEE.email}"]`);
  await expect(async () => {
    await page.goto(`/groups/${groupId}`);
    await expect(row).toHaveAttribute('data-state', 'accepted', { timeout: 1_000 });
    await expect(row.locator('[data-delivery]')).toHaveAttribute('data-delivery', 'sent', {
      timeout: 1_000,
    });
  }).toPass({ timeout: 20_000 });
  await expect(row.locator('[data-test="invitation-state"]')).toHaveText('accepted');
  await expect(row.locator('[data-delivery]')).toHaveText('sent');
  await expect(page.locator(`tr[data-member-email="${INVITEE.email}"]`)).toBeVisible();
});

test('someone outside the group gets the not-found page for it', async ({ browser }) => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await register(page, STRANGER);
    const response = await page.goto(`/groups/${groupId}`);
    expect(response?.status()).toBe(404);
    await expect(page.locator('#not-found')).toBeVisible();
    await expect(page.locator('#group-name')).toHaveCount(0);
    await expect(page.getByText(GROUP.name)).toHaveCount(0);
  } finally {
    await context.close();
  }
});

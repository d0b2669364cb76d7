// Real coding CLIs (pinned in package.json, run from node_modules/.bin) against the release
// binary, with the binary's mock provider upstream: Claude Code in print mode over the
// Messages API, and Codex CLI `exec` over the Responses API. Each runs with HOME in a temp
// dir and its non-essential traffic off. No browser.

import { test, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MOCK_KEY, startCarpool, type Carpool } from './carpool';

test.describe.configure({ mode: 'serial' });

let carpool: Carpool;

test.beforeAll(async () => {
  test.setTimeout(60_000);
  // An account with no models passes every model name through, so whatever models Claude
  // Code picks for its side calls (a small fast model, token counting) resolve on the
  // Anthropic account; the OpenAI account serves Codex's model only, so a Claude model name
  // never goes to it.
  carpool = await startCarpool([
    { name: 'openai-main', provider: 'openai', models: ['gpt-4o-mini'] },
    { name: 'claude-any', provider: 'anthropic', models: [] },
  ]);
});

test.afterAll(async () => {
  await carpool?.stop();
});

test.afterEach(async ({}, testInfo) => {
  if (carpool && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server.log', { body: carpool.gateway.logs(), contentType: 'text/plain' });
    const requests = await carpool.mock.control('GET', '/_mock/requests').catch(() => null);
    await testInfo.attach('mock-requests.json', {
      body: JSON.stringify(requests, null, 2),
      contentType: 'application/json',
    });
  }
});

const BIN = path.resolve(__dirname, '..', 'node_modules', '.bin');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin args` with `env` on top of a minimal env; kills that child only on timeout. */
function run(
  bin: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 90_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN, bin), args, {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', TERM: 'dumb', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function tempHome(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `aicarpool-${name}-`));
}

async function recorded(): Promise<Array<{ route: string; path: string; headers: Record<string, string>; body?: any }>> {
  return carpool.mock.control('GET', '/_mock/requests');
}

test('Claude Code (print mode) answers through the gateway', async () => {
  test.setTimeout(120_000);
  await carpool.mock.control('POST', '/_mock/reset');
  const home = tempHome('claude-home');
  const work = tempHome('claude-work');
  try {
    const res = await run(
      'claude',
      ['-p', 'say hello', '--model', 'claude-haiku-4-5'],
      {
        HOME: home,
        ANTHROPIC_BASE_URL: carpool.gateway.baseURL,
        ANTHROPIC_API_KEY: carpool.key,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
      },
      work,
    );
    const detail = `exit ${res.code}\n--- stdout ---\n${res.stdout}\n--- stderr ---\n${res.stderr}`;
    expect(res.code, detail).toBe(0);
    // The mock echoes the last user turn: Claude Code's system reminders, then the prompt.
    expect(res.stdout.trim(), detail).toMatch(/^mock reply: [\s\S]*say hello$/);

    // It reached the mock through the gateway, on the Messages API (the Anthropic account),
    // with the member key replaced by the account's key.
    const requests = await recorded();
    const messages = requests.filter((r) => r.route === 'messages');
    expect(messages.length, JSON.stringify(requests.map((r) => r.path))).toBeGreaterThan(0);
    expect(messages[0].body.model).toBe('claude-haiku-4-5');
    expect(messages[0].headers['x-api-key']).toBe(MOCK_KEY);
    for (const r of requests) {
      expect(JSON.stringify(r.headers)).not.toContain(carpool.key);
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('Codex CLI (exec) answers through the gateway over the Responses API', async () => {
  test.setTimeout(120_000);
  await carpool.mock.control('POST', '/_mock/reset');
  const home = tempHome('codex-home');
  const work = tempHome('codex-work');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true });
  fs.writeFileSync(
    path.join(codexHome, 'config.toml'),
    [
      'model = "gpt-4o-mini"',
      'model_provider = "aicarpool"',
      'approval_policy = "never"',
      'sandbox_mode = "read-only"',
      '',
      '[model_providers.aicarpool]',
      'name = "AiCarpool"',
      `base_url = "${carpool.gateway.baseURL}/v1"`,
      'wire_api = "responses"',
      'env_key = "AICARPOOL_API_KEY"',
      'request_max_retries = 0',
      'stream_max_retries = 0',
      '',
    ].join('\n'),
  );
  try {
    const res = await run(
      'codex',
      ['exec', '--skip-git-repo-check', 'say hello'],
      { HOME: home, CODEX_HOME: codexHome, AICARPOOL_API_KEY: carpool.key, RUST_LOG: 'error' },
      work,
    );
    const detail = `exit ${res.code}\n--- stdout ---\n${res.stdout}\n--- stderr ---\n${res.stderr}`;
    expect(res.code, detail).toBe(0);
    // `codex exec` prints only the final message on stdout (its log goes to stderr).
    expect(res.stdout.trim(), detail).toBe('mock reply: say hello');

    const requests = await recorded();
    const responses = requests.filter((r) => r.route === 'responses');
    expect(responses.length, JSON.stringify(requests.map((r) => r.path))).toBeGreaterThan(0);
    expect(responses[0].body.model).toBe('gpt-4o-mini');
    expect(responses[0].headers.authorization).toBe(`Bearer ${MOCK_KEY}`);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// Real coding CLIs (pinned in package.json, run from node_modules/.bin) against the release
// binary, with the binary's mock provider upstream: Claude Code in print mode over the
// Messages API, and Codex CLI `exec` over the Responses API, each served in its own dialect
// (cli_translated.spec.ts has them across dialects). Each runs with HOME in a temp dir and its
// non-essential traffic off. No browser.
//
// The tool loop: the prompt `mock:call TOOL {ARGS}` makes the mock call the CLI's own tool
// (Claude Code's Read, Codex's exec_command) on a note in the work dir; the CLI runs it and
// sends the result back, and the mock's reply echoes that result, which the CLI prints.

import { test, expect } from '@playwright/test';
import * as fs from 'node:fs';
import { MOCK_KEY, startCarpool, type Carpool } from './carpool';
import { claudeCode, codexExec, recorded, workWithNote } from './cli_run';

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

test.beforeEach(async () => {
  await carpool.mock.control('POST', '/_mock/reset');
});

test.afterEach(async ({}, testInfo) => {
  if (carpool && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server.log', { body: carpool.gateway.logs(), contentType: 'text/plain' });
    const requests = await recorded(carpool).catch(() => null);
    await testInfo.attach('mock-requests.json', {
      body: JSON.stringify(requests, null, 2),
      contentType: 'application/json',
    });
  }
});

test('Claude Code (print mode) answers through the gateway', async () => {
  test.setTimeout(120_000);
  const work = workWithNote('nothing');
  try {
    const res = await claudeCode(carpool, 'say hello', work);
    expect(res.code, res.detail).toBe(0);
    // The mock echoes the last user turn: Claude Code's system reminders, then the prompt.
    expect(res.stdout.trim(), res.detail).toMatch(/^mock reply: [\s\S]*say hello$/);

    // It reached the mock through the gateway, on the Messages API (the Anthropic account),
    // with the member key replaced by the account's key.
    const requests = await recorded(carpool);
    const messages = requests.filter((r) => r.route === 'messages');
    expect(messages.length, JSON.stringify(requests.map((r) => r.path))).toBeGreaterThan(0);
    expect(messages[0].body.model).toBe('claude-haiku-4-5');
    expect(messages[0].headers['x-api-key']).toBe(MOCK_KEY);
    for (const r of requests) {
      expect(JSON.stringify(r.headers)).not.toContain(carpool.key);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('Claude Code runs its Read tool and gets the answer from the result', async () => {
  test.setTimeout(120_000);
  const work = workWithNote('kumquat-4471');
  try {
    const res = await claudeCode(carpool, `mock:call Read {"file_path":"${work}/note.txt"}`, work);
    expect(res.code, res.detail).toBe(0);
    expect(res.stdout, res.detail).toMatch(/^mock reply: [\s\S]*the note says kumquat-4471/);
    // Two exchanges on the Messages API: the tool_use, then the tool_result.
    const messages = (await recorded(carpool)).filter((r) => r.route === 'messages');
    expect(messages.length).toBe(2);
    const last = messages[1].body.messages.at(-1);
    expect(last.role).toBe('user');
    expect(JSON.stringify(last.content)).toContain('tool_result');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('Codex CLI (exec) answers through the gateway over the Responses API', async () => {
  test.setTimeout(120_000);
  const work = workWithNote('nothing');
  try {
    const res = await codexExec(carpool, 'say hello', work, 'gpt-4o-mini');
    expect(res.code, res.detail).toBe(0);
    // `codex exec` prints only the final message on stdout (its log goes to stderr).
    expect(res.stdout.trim(), res.detail).toBe('mock reply: say hello');

    const requests = await recorded(carpool);
    const responses = requests.filter((r) => r.route === 'responses');
    expect(responses.length, JSON.stringify(requests.map((r) => r.path))).toBeGreaterThan(0);
    expect(responses[0].body.model).toBe('gpt-4o-mini');
    expect(responses[0].headers.authorization).toBe(`Bearer ${MOCK_KEY}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('Codex CLI runs a command and gets the answer from its output', async () => {
  test.setTimeout(120_000);
  const work = workWithNote('kumquat-4471');
  try {
    const res = await codexExec(carpool, 'mock:call exec_command {"cmd":"cat note.txt"}', work, 'gpt-4o-mini');
    expect(res.code, res.detail).toBe(0);
    expect(res.stdout.trim(), res.detail).toMatch(/^mock reply: .*the note says kumquat-4471$/);
    // Two exchanges on the Responses API: the function_call, then its output.
    const responses = (await recorded(carpool)).filter((r) => r.route === 'responses');
    expect(responses.length).toBe(2);
    expect(responses[1].body.input.at(-1).type).toBe('function_call_output');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// The coding CLIs across dialects: Claude Code (Messages API) served by an OpenAI account, so
// every request is translated to chat completions and every answer back, streams included;
// and Codex CLI (Responses API) served by an Anthropic account, translated to messages and
// back. Same runs as cli_clients.spec.ts, tool loop included: the tool definitions, the
// streamed tool call and the tool result all cross the translation.

import { test, expect } from '@playwright/test';
import * as fs from 'node:fs';
import { MOCK_KEY, startCarpool, type Carpool } from './carpool';
import { claudeCode, codexExec, recorded, workWithNote } from './cli_run';

test.describe.configure({ mode: 'serial' });

test.describe('Claude Code on an OpenAI account', () => {
  let carpool: Carpool;
  test.beforeAll(async () => {
    test.setTimeout(60_000);
    carpool = await startCarpool([{ name: 'openai-any', provider: 'openai', models: [] }]);
  });
  test.afterAll(async () => {
    await carpool?.stop();
  });
  test.beforeEach(async () => {
    await carpool.mock.control('POST', '/_mock/reset');
  });

  test('print mode answers through chat completions (key as the snippet sets it)', async () => {
    test.setTimeout(120_000);
    const work = workWithNote('nothing');
    try {
      // ANTHROPIC_AUTH_TOKEN, as on the keys page: Claude Code sends it as a Bearer token.
      const res = await claudeCode(carpool, 'say hello', work, 'ANTHROPIC_AUTH_TOKEN');
      expect(res.code, res.detail).toBe(0);
      expect(res.stdout.trim(), res.detail).toMatch(/^mock reply: [\s\S]*say hello$/);
      const requests = await recorded(carpool);
      const chats = requests.filter((r) => r.route === 'chat_completions');
      expect(chats.length, JSON.stringify(requests.map((r) => r.path))).toBeGreaterThan(0);
      expect(requests.filter((r) => r.route !== 'chat_completions')).toEqual([]);
      expect(chats[0].body.model).toBe('claude-haiku-4-5');
      expect(chats[0].headers.authorization).toBe(`Bearer ${MOCK_KEY}`);
      for (const r of requests) {
        expect(JSON.stringify(r.headers)).not.toContain(carpool.key);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('the Read tool loop crosses the translation', async () => {
    test.setTimeout(120_000);
    const work = workWithNote('kumquat-4471');
    try {
      const res = await claudeCode(carpool, `mock:call Read {"file_path":"${work}/note.txt"}`, work);
      expect(res.code, res.detail).toBe(0);
      expect(res.stdout, res.detail).toMatch(/^mock reply: [\s\S]*the note says kumquat-4471/);
      const chats = (await recorded(carpool)).filter((r) => r.route === 'chat_completions');
      expect(chats.length).toBe(2);
      // Claude Code's tools arrived as functions; its tool_result as a `tool` message
      // answering the call the mock made.
      const names = chats[0].body.tools.map((t: any) => t.type === 'function' && t.function.name);
      expect(names).toContain('Read');
      const [call, result] = chats[1].body.messages.slice(-2);
      expect(call.role).toBe('assistant');
      expect(call.tool_calls[0].function.name).toBe('Read');
      expect(JSON.parse(call.tool_calls[0].function.arguments)).toEqual({ file_path: `${work}/note.txt` });
      expect(result.role).toBe('tool');
      expect(result.tool_call_id).toBe(call.tool_calls[0].id);
      expect(result.content).toContain('kumquat-4471');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

// A thinking chat model (the mock's `mock:think`, as DeepSeek's thinking mode): its
// `reasoning_content` reaches Claude Code as a thinking block and Codex as a reasoning item,
// and must come back on the tool call's turn, or the provider refuses the next request (400).
test.describe('Claude Code and Codex CLI on a thinking chat model', () => {
  let carpool: Carpool;
  test.beforeAll(async () => {
    test.setTimeout(60_000);
    carpool = await startCarpool([{ name: 'deepseek-any', provider: 'openai_compatible', models: [] }]);
  });
  test.afterAll(async () => {
    await carpool?.stop();
  });
  test.beforeEach(async () => {
    await carpool.mock.control('POST', '/_mock/reset');
  });

  /** The assistant turn with the tool call in the second chat request, with its reasoning. */
  async function reasoningSentBack(): Promise<any> {
    const chats = (await recorded(carpool)).filter((r) => r.route === 'chat_completions');
    expect(chats.length).toBe(2);
    const turn = chats[1].body.messages.find((m: any) => m.role === 'assistant' && m.tool_calls);
    expect(turn, JSON.stringify(chats[1].body.messages)).toBeTruthy();
    return turn;
  }

  test('Claude Code sends the thinking back on the Read loop', async () => {
    test.setTimeout(120_000);
    const work = workWithNote('kumquat-4471');
    try {
      const res = await claudeCode(carpool, `mock:think mock:call Read {"file_path":"${work}/note.txt"}`, work);
      expect(res.code, res.detail).toBe(0);
      expect(res.stdout, res.detail).toMatch(/mock reply: [\s\S]*the note says kumquat-4471/);
      const turn = await reasoningSentBack();
      expect(turn.reasoning_content).toMatch(/^mock thinking about /);
      expect(turn.tool_calls[0].function.name).toBe('Read');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('Codex sends the reasoning item back on the exec_command loop', async () => {
    test.setTimeout(120_000);
    const work = workWithNote('kumquat-4471');
    try {
      const res = await codexExec(carpool, 'mock:think mock:call exec_command {"cmd":"cat note.txt"}', work, 'deepseek-v4-pro');
      expect(res.code, res.detail).toBe(0);
      expect(res.stdout, res.detail).toMatch(/mock reply: .*the note says kumquat-4471/);
      const turn = await reasoningSentBack();
      expect(turn.reasoning_content).toMatch(/^mock thinking about /);
      expect(turn.tool_calls[0].function.name).toBe('exec_command');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

test.describe('Codex CLI on an Anthropic account', () => {
  let carpool: Carpool;
  test.beforeAll(async () => {
    test.setTimeout(60_000);
    carpool = await startCarpool([{ name: 'claude-any', provider: 'anthropic', models: [] }]);
  });
  test.afterAll(async () => {
    await carpool?.stop();
  });
  test.beforeEach(async () => {
    await carpool.mock.control('POST', '/_mock/reset');
  });

  test('exec answers through messages', async () => {
    test.setTimeout(120_000);
    const work = workWithNote('nothing');
    try {
      const res = await codexExec(carpool, 'say hello', work, 'claude-sonnet-4-5');
      expect(res.code, res.detail).toBe(0);
      // Codex sends its environment context and the prompt as two user items; on the
      // Messages API they are one user turn (consecutive turns of a role are merged), which
      // the mock echoes whole.
      expect(res.stdout.trim(), res.detail).toMatch(/^mock reply: <environment_context>[\s\S]*say hello$/);
      const requests = await recorded(carpool);
      const messages = requests.filter((r) => r.route === 'messages');
      expect(messages.length, JSON.stringify(requests.map((r) => r.path))).toBeGreaterThan(0);
      expect(requests.filter((r) => r.route !== 'messages')).toEqual([]);
      expect(messages[0].body.model).toBe('claude-sonnet-4-5');
      expect(messages[0].headers['x-api-key']).toBe(MOCK_KEY);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test('the exec_command loop crosses the translation', async () => {
    test.setTimeout(120_000);
    const work = workWithNote('kumquat-4471');
    try {
      const res = await codexExec(carpool, 'mock:call exec_command {"cmd":"cat note.txt"}', work, 'claude-sonnet-4-5');
      expect(res.code, res.detail).toBe(0);
      expect(res.stdout.trim(), res.detail).toMatch(/^mock reply: .*the note says kumquat-4471$/);
      const messages = (await recorded(carpool)).filter((r) => r.route === 'messages');
      expect(messages.length).toBe(2);
      // Codex's function tools arrived as Anthropic tools; its function_call_output as a
      // tool_result answering the tool_use the mock made.
      expect(messages[0].body.tools.map((t: any) => t.name)).toContain('exec_command');
      const [use, result] = messages[1].body.messages.slice(-2);
      expect(use.role).toBe('assistant');
      const block = use.content.find((b: any) => b.type === 'tool_use');
      expect(block.name).toBe('exec_command');
      expect(block.input).toEqual({ cmd: 'cat note.txt' });
      expect(result.role).toBe('user');
      const answer = result.content.find((b: any) => b.type === 'tool_result');
      expect(answer.tool_use_id).toBe(block.id);
      expect(JSON.stringify(answer.content)).toContain('kumquat-4471');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

// Running a coding CLI from node_modules/.bin for the CLI specs: a minimal env, HOME in a
// temp dir, killed (that child only) on timeout.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Carpool } from './carpool';

const BIN = path.resolve(__dirname, '..', 'node_modules', '.bin');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin args` with `env` on top of a minimal env; kills that child only on timeout. */
export function run(
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

/** A fresh temp dir (the caller removes it). */
export function tempHome(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `aicarpool-${name}-`));
}

/** What the mock received since its last reset. */
export async function recorded(
  carpool: Carpool,
): Promise<Array<{ route: string; path: string; headers: Record<string, string>; body?: any }>> {
  return carpool.mock.control('GET', '/_mock/requests');
}

/** A CLI's run, with everything worth seeing when it failed. */
export interface CliRun extends RunResult {
  /** Exit code, stdout, stderr and the gateway's log. */
  detail: string;
}

function withDetail(res: RunResult, carpool: Carpool): CliRun {
  const detail =
    `exit ${res.code}\n--- stdout ---\n${res.stdout}\n--- stderr ---\n${res.stderr}` +
    `\n--- gateway ---\n${carpool.gateway.logs().slice(-4000)}`;
  return { ...res, detail };
}

/**
 * Claude Code in print mode (`claude -p PROMPT`) in `work`, on the gateway with the key:
 * as `ANTHROPIC_API_KEY` (sent as `x-api-key`), or as `ANTHROPIC_AUTH_TOKEN` (sent as a
 * Bearer token; what the keys page's snippet sets).
 */
export async function claudeCode(
  carpool: Carpool,
  prompt: string,
  work: string,
  keyAs: 'ANTHROPIC_API_KEY' | 'ANTHROPIC_AUTH_TOKEN' = 'ANTHROPIC_API_KEY',
  model = 'claude-haiku-4-5',
): Promise<CliRun> {
  const home = tempHome('claude-home');
  try {
    const res = await run(
      'claude',
      ['-p', prompt, '--model', model],
      {
        HOME: home,
        ANTHROPIC_BASE_URL: carpool.gateway.baseURL,
        [keyAs]: carpool.key,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
      },
      work,
    );
    return withDetail(res, carpool);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Codex CLI `exec PROMPT` in `work` over the Responses API, on the gateway with the key:
 * a provider `aicarpool` in its config, no approvals, a read-only sandbox, no retries.
 */
export async function codexExec(
  carpool: Carpool,
  prompt: string,
  work: string,
  model: string,
): Promise<CliRun> {
  const home = tempHome('codex-home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true });
  fs.writeFileSync(
    path.join(codexHome, 'config.toml'),
    [
      `model = "${model}"`,
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
      ['exec', '--skip-git-repo-check', prompt],
      { HOME: home, CODEX_HOME: codexHome, AICARPOOL_API_KEY: carpool.key, RUST_LOG: 'error' },
      work,
    );
    return withDetail(res, carpool);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** A work dir holding `note.txt` with `secret` in it (the caller removes it). */
export function workWithNote(secret: string): string {
  const work = tempHome('work');
  fs.writeFileSync(path.join(work, 'note.txt'), `the note says ${secret}\n`);
  return work;
}

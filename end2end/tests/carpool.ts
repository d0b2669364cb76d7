// A gateway ready for API clients: the release binary's mock provider (`aicarpool
// mock-upstream`) in a child process, the gateway itself (helpers.ts startServer), the
// first-run setup done through the API, and a group with upstream accounts on the mock
// and a member key. Used by the SDK and CLI specs, which need no browser.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer, type RunningServer } from './helpers';

export const MOCK_KEY = 'mock-key';

export interface RunningMock {
  /** `http://ADDR`: the Anthropic base URL and the control routes' base. */
  base: string;
  /** `http://ADDR/v1`: the OpenAI base URL. */
  openaiBase: string;
  pid: number;
  /** A control call (`/_mock/...`); returns the parsed JSON body (or null). */
  control(method: string, route: string, body?: unknown): Promise<any>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function binary(): string {
  const bin = process.env.AICARPOOL_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error('AICARPOOL_BIN must point at the release binary (target/release/aicarpool)');
  }
  return path.resolve(bin);
}

/** Spawns `aicarpool mock-upstream` on a free port and waits for its address line. */
export async function startMock(): Promise<RunningMock> {
  const child: ChildProcess = spawn(
    binary(),
    ['mock-upstream', '--listen', '127.0.0.1:0', '--api-key', MOCK_KEY],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const killOnExit = () => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited || child.pid === undefined) return;
    process.kill(child.pid, 'SIGTERM');
    if (await Promise.race([exit.then(() => false), sleep(5_000).then(() => true)])) {
      process.kill(child.pid, 'SIGKILL');
      await exit;
    }
  };

  const deadline = Date.now() + 15_000;
  let base = '';
  for (;;) {
    const m = /mock upstream listening on (http:\/\/[^\s]+)/.exec(out);
    if (m) {
      base = m[1].replace(/\/$/, '');
      break;
    }
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`aicarpool mock-upstream did not print its address; output:\n${out}`);
    }
    await sleep(50);
  }

  const control = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  return { base, openaiBase: `${base}/v1`, pid: child.pid ?? -1, control, stop };
}

export interface AccountSpec {
  name: string;
  /** `openai_compatible`: chat completions only (DeepSeek, Qwen…), so Responses requests are translated. */
  provider: 'openai' | 'anthropic' | 'openai_compatible';
  /** Models it serves; empty: it passes any model name through. */
  models: string[];
  model_aliases?: Record<string, string>;
}

export interface Carpool {
  gateway: RunningServer;
  mock: RunningMock;
  /** The system admin's session token. */
  admin: string;
  groupId: number;
  /** Account ids by name. */
  accounts: Record<string, number>;
  /** A member key (`acp_...`) in the group. */
  key: string;
  /** A JSON API call with the admin's token. */
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export const ADMIN = {
  email: 'admin@example.com',
  name: 'Ada Admin',
  password: 'correct horse battery staple',
};

/** The default setup: one OpenAI account (gpt-4o-mini, alias `fast`), one Anthropic account (claude-haiku-4-5). */
export const DEFAULT_ACCOUNTS: AccountSpec[] = [
  { name: 'openai-main', provider: 'openai', models: ['gpt-4o-mini'], model_aliases: { fast: 'gpt-4o-mini' } },
  { name: 'claude-main', provider: 'anthropic', models: ['claude-haiku-4-5'] },
];

/**
 * Starts the mock and the gateway, creates the first admin with the setup token (the setup
 * server function, as the setup form posts it), logs in, and sets up a group with `accounts`
 * on the mock and a member key.
 */
export async function startCarpool(accounts: AccountSpec[] = DEFAULT_ACCOUNTS): Promise<Carpool> {
  // The proxy needs no site assets, but startServer wants a folder.
  if (!process.env.LEPTOS_SITE_ROOT) {
    const site = path.join(os.tmpdir(), 'aicarpool-e2e-empty-site');
    fs.mkdirSync(site, { recursive: true });
    process.env.LEPTOS_SITE_ROOT = site;
  }
  const mock = await startMock();
  let gateway: RunningServer;
  try {
    gateway = await startServer();
  } catch (err) {
    await mock.stop();
    throw err;
  }
  const stop = async () => {
    await gateway.stop();
    await mock.stop();
  };
  try {
    const setup = await fetch(`${gateway.baseURL}/rpc/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        token: gateway.setupToken,
        email: ADMIN.email,
        name: ADMIN.name,
        password: ADMIN.password,
        password_confirm: ADMIN.password,
      }),
      redirect: 'manual',
    });
    if (setup.status >= 400) {
      throw new Error(`first-run setup failed: ${setup.status} ${await setup.text()}`);
    }
    const login = await fetch(`${gateway.baseURL}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
    });
    const session = await login.json();
    if (login.status !== 200 || typeof session.token !== 'string') {
      throw new Error(`login failed: ${login.status} ${JSON.stringify(session)}`);
    }
    const admin: string = session.token;

    const api = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${gateway.baseURL}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    };
    const expectStatus = (what: string, res: { status: number; body: any }, want: number) => {
      if (res.status !== want) {
        throw new Error(`${what}: expected ${want}, got ${res.status} ${JSON.stringify(res.body)}`);
      }
      return res.body;
    };

    const group = expectStatus('create group', await api('POST', '/api/groups', { name: 'Carpool' }), 201);
    const groupId: number = group.id;
    const ids: Record<string, number> = {};
    for (const spec of accounts) {
      const account = expectStatus(
        `create account ${spec.name}`,
        await api('POST', '/api/accounts', {
          name: spec.name,
          provider: spec.provider,
          base_url: spec.provider === 'anthropic' ? mock.base : mock.openaiBase,
          api_key: MOCK_KEY,
          models: spec.models,
          model_aliases: spec.model_aliases ?? {},
        }),
        201,
      );
      ids[spec.name] = account.id;
      expectStatus(
        `bind account ${spec.name}`,
        await api('POST', `/api/groups/${groupId}/accounts`, { account_id: account.id }),
        201,
      );
    }
    const key = expectStatus(
      'create key',
      await api('POST', `/api/groups/${groupId}/keys`, { name: 'sdk' }),
      201,
    );
    if (typeof key.key !== 'string' || !key.key.startsWith('acp_')) {
      throw new Error(`unexpected key: ${JSON.stringify(key)}`);
    }
    return { gateway, mock, admin, groupId, accounts: ids, key: key.key, api, stop };
  } catch (err) {
    const logs = gateway.logs();
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- server log ---\n${logs}`);
  }
}

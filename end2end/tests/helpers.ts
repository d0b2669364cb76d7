// Shared helpers for the browser tests: start the real release binary on a free
// port with a fresh data directory, wait until it is healthy, read the first-run
// setup token from its log, and stop it again (that child PID only).
//
// Required env:
//   AICARPOOL_BIN     path to the release binary (target/release/aicarpool)
//   LEPTOS_SITE_ROOT  path to the site folder (target/site), passed through
// Optional env:
//   E2E_VERBOSE       echo the server's stdout/stderr to this process's stderr

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test as base } from '@playwright/test';

export interface StartServerOptions {
  /** Extra env for the server (a value of `undefined` removes the variable). */
  env?: Record<string, string | undefined>;
  /** Arguments for the binary; default `['serve']`. */
  args?: string[];
  /** Reuse this data dir instead of a fresh temp dir (it is then not removed on stop). */
  dataDir?: string;
  /** Wait for `setup token: ...` in the log (default true; false for an already set-up data dir). */
  expectSetupToken?: boolean;
  /** How long to wait for /healthz, in ms (default 30 000). */
  healthTimeoutMs?: number;
  /** How long to wait for the setup token after healthz, in ms (default 10 000). */
  tokenTimeoutMs?: number;
}

export interface RunningServer {
  baseURL: string;
  port: number;
  dataDir: string;
  /** The first-run setup token from the log ('' when expectSetupToken is false). */
  setupToken: string;
  pid: number;
  /** Everything the server wrote to stdout and stderr so far. */
  logs(): string;
  /** SIGTERM this child only, wait up to 10 s (then SIGKILL), remove the temp data dir. */
  stop(): Promise<void>;
}

/** Env variables that would point the server away from its embedded defaults. */
const STRIPPED_ENV = [
  'DATABASE_URL',
  'REDIS_URL',
  'JWT_SECRET',
  'NEXTAUTH_SECRET',
  'APP_URL',
  'NEXTAUTH_URL',
];

export const SETUP_TOKEN_RE = /setup token: ([A-Za-z0-9_-]{20,})/;

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\u001b\[[0-9;]*[A-Za-z]/g;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

function requireEnvFile(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: point it at the release binary, e.g. ` +
        `${name}=$PWD/../target/release/aicarpool (build it with \`cargo leptos build --release\`)`,
    );
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(value);
  } catch {
    throw new Error(`${name}=${value} does not exist`);
  }
  if (!stat.isFile()) {
    throw new Error(`${name}=${value} is not a file`);
  }
  return path.resolve(value);
}

function requireEnv(name: string, hint: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: ${hint}`);
  }
  return value;
}

export async function startServer(opts: StartServerOptions = {}): Promise<RunningServer> {
  const bin = requireEnvFile('AICARPOOL_BIN');
  // Resolved to an absolute path because the server runs with its data dir as cwd.
  const siteRoot = path.resolve(
    requireEnv('LEPTOS_SITE_ROOT', 'point it at the site folder, e.g. $PWD/../target/site'),
  );
  if (!fs.existsSync(siteRoot) || !fs.statSync(siteRoot).isDirectory()) {
    throw new Error(`LEPTOS_SITE_ROOT=${siteRoot} is not a directory`);
  }

  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aicarpool-e2e-'));
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (STRIPPED_ENV.includes(key) || key.startsWith('SMTP_')) delete env[key];
  }
  // Playwright's workers set FORCE_COLOR; the server log should be plain text.
  delete env.FORCE_COLOR;
  Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    RUST_LOG: 'info',
    NO_COLOR: '1',
    LEPTOS_SITE_ROOT: siteRoot,
  });
  // cargo-leptos style address, in case the server reads it instead of HOST/PORT.
  env.LEPTOS_SITE_ADDR = `127.0.0.1:${port}`;
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  let log = '';
  const verbose = !!process.env.E2E_VERBOSE;
  const child: ChildProcess = spawn(bin, opts.args ?? ['serve'], {
    env,
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    log += text;
    if (verbose) process.stderr.write(`[aicarpool:${port}] ${text}`);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      if (exited === null) exited = { code: null, signal: null };
      resolve();
    });
  });

  // Backstop: never let the server outlive this test process.
  const killOnExit = () => {
    if (exited === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exited === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timedOut = await Promise.race([
        exitPromise.then(() => false),
        sleep(10_000).then(() => true),
      ]);
      if (timedOut && exited === null) {
        child.kill('SIGKILL');
        await Promise.race([exitPromise, sleep(5_000)]);
      }
    }
    process.removeListener('exit', killOnExit);
    if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const fail = async (what: string): Promise<never> => {
    const status = exited
      ? ` (server exited: code ${exited.code}, signal ${exited.signal}${
          spawnError ? `, ${spawnError}` : ''
        })`
      : '';
    await stop();
    throw new Error(`${what}${status}\n--- server log ---\n${log}--- end of server log ---`);
  };

  // Wait for /healthz.
  const healthDeadline = Date.now() + (opts.healthTimeoutMs ?? 30_000);
  for (;;) {
    if (exited !== null) return fail(`aicarpool exited before ${baseURL}/healthz answered 200`);
    try {
      const res = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > healthDeadline) return fail(`${baseURL}/healthz did not answer 200 in time`);
    await sleep(100);
  }

  // Wait for the setup token line.
  let setupToken = '';
  if (opts.expectSetupToken ?? true) {
    const tokenDeadline = Date.now() + (opts.tokenTimeoutMs ?? 10_000);
    for (;;) {
      const m = SETUP_TOKEN_RE.exec(log.replace(ANSI_RE, ''));
      if (m) {
        setupToken = m[1];
        break;
      }
      if (exited !== null) return fail('aicarpool exited before printing the setup token');
      if (Date.now() > tokenDeadline) {
        return fail('no line matching /setup token: <TOKEN>/ in the server log');
      }
      await sleep(100);
    }
  }

  return {
    baseURL,
    port,
    dataDir,
    setupToken,
    pid: child.pid ?? -1,
    logs: () => log,
    stop,
  };
}

/**
 * One server for the calling spec file: started on first use (beforeAll, or the
 * `baseURL` fixture, which Playwright resolves even before beforeAll hooks run),
 * stopped in afterAll; `baseURL` of every test's page, context and request
 * points at it. Returns a getter for the running server.
 */
export function useServer(
  test: typeof base,
  opts: StartServerOptions = {},
): () => RunningServer {
  let starting: Promise<RunningServer> | undefined;
  let server: RunningServer | undefined;
  const ensure = () =>
    (starting ??= startServer(opts).then((s) => {
      server = s;
      return s;
    }));

  test.beforeAll(async () => {
    await ensure();
  });

  test.afterEach(async ({}, testInfo) => {
    if (server && testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('server.log', { body: server.logs(), contentType: 'text/plain' });
    }
  });

  test.afterAll(async () => {
    await starting?.catch(() => undefined);
    await server?.stop();
  });

  test.use({
    baseURL: async ({}, use) => {
      await use((await ensure()).baseURL);
    },
  });

  return () => {
    if (!server) throw new Error('server not started (useServer beforeAll did not run)');
    return server;
  };
}

/** Wait until the app has hydrated (it sets data-hydrated="true" on its root). */
export async function waitForHydration(page: import('@playwright/test').Page): Promise<void> {
  await page.locator('[data-hydrated="true"]').first().waitFor({ state: 'attached', timeout: 30_000 });
}

/**
 * Shared harness of the fault suite: a real sshd fleet with one inventory, the CLI (in-process for
 * speed, or as a child process when the test must kill it or read its terminal), snapshots of every
 * host's files, and the invariant every fault test ends with: the report names each host's state,
 * the journal parses, and `rollback <id>` brings every host back byte for byte with no lock left.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../src/cli.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';
import { snapshotTree } from '../support/snapshot.js';
import type { Snapshot } from '../support/snapshot.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Report {
  runId: string;
  success: boolean;
  hosts: Array<{ host: string; state: string; error?: string }>;
  results: Array<{ host: string; task: string; status: string; error?: string; reason?: string }>;
}

export const FULL = process.env.FLEETPLAY_FAULTS_FULL === '1';

export interface FaultEnv {
  tf: TestFleet;
  names: string[];
  work: string;
  home: string;
  inventory: string;
  root(name: string): string;
  /** The host's `etc` tree: what playbooks change (backups and the lock live elsewhere). */
  snap(): Record<string, Snapshot>;
  seed(): void;
  writePlaybook(name: string, text: string): string;
  /** The CLI in this process; stdout/stderr captured. */
  cli(args: string[]): Promise<CliResult>;
  /** The CLI as a child process (killable). */
  spawnCli(args: string[], env?: Record<string, string>): { child: ChildProcess; done: Promise<CliResult> };
  report(file: string): Report;
  lockFile(name: string): string;
  dispose(): Promise<void>;
}

export async function startFaultEnv(names: string[], opts: { hostVars?: (name: string, root: string) => Record<string, unknown> } = {}): Promise<FaultEnv> {
  const tf = await startTestFleet(names);
  const work = mkdtempSync(join(tmpdir(), 'fleetplay-faults-'));
  const home = join(work, '.fleetplay');
  const root = (n: string): string => {
    const h = tf.hosts.find((x) => x.name === n);
    if (!h) throw new Error(`no host ${n}`);
    return h.root;
  };
  const hostLines = tf.hosts
    .map((h) => {
      const extra = opts.hostVars?.(h.name, h.root) ?? {};
      const vars: Record<string, unknown> = { ansible_host: h.address, ansible_port: h.port, root: h.root, fleetplay_backup_dir: `${h.root}/backups`, ...extra };
      return `        ${h.name}:\n${Object.entries(vars).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`).join('\n')}`;
    })
    .join('\n');
  const inventory = join(work, 'inventory.yaml');
  writeFileSync(
    inventory,
    `all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: ${tf.fleet.clientKeyFile}\n    fleetplay_known_hosts_file: ${tf.fleet.knownHostsFile}\n  children:\n    web:\n      hosts:\n${hostLines}\n`,
  );
  const env: FaultEnv = {
    tf,
    names,
    work,
    home,
    inventory,
    root,
    snap: () => Object.fromEntries(names.map((n) => [n, snapshotTree(join(root(n), 'etc'))])),
    seed: () => {
      for (const n of names) {
        rmSync(join(root(n), 'etc'), { recursive: true, force: true });
        const dir = join(root(n), 'etc', 'app');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'app.conf'), `# managed\nold=1\nhost=${n}\n`);
        chmodSync(join(dir, 'app.conf'), 0o640);
        writeFileSync(join(dir, 'extra.conf'), 'a=1\n');
        chmodSync(join(dir, 'extra.conf'), 0o600);
        writeFileSync(join(dir, 'server.key'), 'OLD KEY BYTES\n');
        chmodSync(join(dir, 'server.key'), 0o600);
      }
    },
    writePlaybook: (name, text) => {
      const p = join(work, name);
      writeFileSync(p, text);
      return p;
    },
    cli: (args) => cliInProcess(args, home),
    spawnCli: (args, extra = {}) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cli.ts', ...args], { env: { ...process.env, FLEETPLAY_HOME: home, ...extra } });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d) => (stdout += d));
      child.stderr?.on('data', (d) => (stderr += d));
      const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
      return { child, done };
    },
    report: (file) => JSON.parse(readFileSync(file, 'utf8')) as Report,
    lockFile: (n) => join(root(n), 'backups', '.lock'),
    dispose: async () => {
      await tf.dispose();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return env;
}

let cliQueue: Promise<unknown> = Promise.resolve();

/** Run the CLI's main() here, capturing what it prints (calls are serialized). */
export function cliInProcess(args: string[], home: string): Promise<CliResult> {
  const run = async (): Promise<CliResult> => {
    const out: string[] = [];
    const err: string[] = [];
    const ow = process.stdout.write.bind(process.stdout);
    const ew = process.stderr.write.bind(process.stderr);
    const prevHome = process.env.FLEETPLAY_HOME;
    process.env.FLEETPLAY_HOME = home;
    process.stdout.write = ((c: string | Uint8Array) => (out.push(String(c)), true)) as typeof process.stdout.write;
    process.stderr.write = ((c: string | Uint8Array) => (err.push(String(c)), true)) as typeof process.stderr.write;
    try {
      const code = await main(['node', 'fleetplay', ...args]);
      return { code, stdout: out.join(''), stderr: err.join('') };
    } finally {
      process.stdout.write = ow;
      process.stderr.write = ew;
      if (prevHome === undefined) delete process.env.FLEETPLAY_HOME;
      else process.env.FLEETPLAY_HOME = prevHome;
    }
  };
  const p = cliQueue.then(run, run);
  cliQueue = p.catch(() => undefined);
  return p;
}

/** Every line of the run's journal is JSON (a torn last line is allowed only after a kill). */
export function expectJournalParses(home: string, runId: string, opts: { allowTornTail?: boolean } = {}): Array<Record<string, unknown>> {
  const text = readFileSync(join(home, 'runs', runId, 'journal.jsonl'), 'utf8');
  const lines = text.split('\n');
  const out: Array<Record<string, unknown>> = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      if (!(opts.allowTornTail && i === lines.length - 1)) throw new Error(`journal line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
  });
  return out;
}

/** The newest run id under FLEETPLAY_HOME (or undefined). */
export function newestRun(home: string, before: ReadonlySet<string> = new Set()): string | undefined {
  const dir = join(home, 'runs');
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .filter((d) => !before.has(d))
    .sort()
    .pop();
}

export function runIds(home: string): Set<string> {
  const dir = join(home, 'runs');
  return new Set(existsSync(dir) ? readdirSync(dir) : []);
}

/** The states the report gives each host, by name. */
export function statesOf(rep: Report): Record<string, string> {
  return Object.fromEntries(rep.hosts.map((h) => [h.host, h.state]));
}

/** The closing invariant: `rollback <id>` restores every host exactly and leaves no lock behind. */
export async function expectRollbackRestores(env: FaultEnv, runId: string, before: Record<string, Snapshot>): Promise<void> {
  const rb = await env.cli(['rollback', runId]);
  expect(rb.code, rb.stdout + rb.stderr).toBe(0);
  expect(env.snap()).toEqual(before);
  for (const n of env.names) expect(existsSync(env.lockFile(n)), `lock left on ${n}`).toBe(false);
  expectJournalParses(env.home, runId);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `fn` returns a value (or throw after `ms`). */
export async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 30_000, every = 5): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** A small deterministic PRNG (mulberry32) for seeded fault points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

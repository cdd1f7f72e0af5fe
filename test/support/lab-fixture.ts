/**
 * Shared helpers for the end-to-end tests of the shipped playbooks: a private lab per test file
 * (own temp dir, own loopback addresses), the CLI run as a child process against it, the JSON
 * report read back, a snapshot of the hosts' files that ignores what moves by itself (logs, pids,
 * agent state, the database's own files), and waits on the agents' heartbeats.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labStatus, labUp } from '../../src/lab/lab.js';
import type { AgentStatus, LabState } from '../../src/lab/lab.js';
import { attachPgCluster } from '../../src/lab/postgres.js';
import { snapshotTree } from './snapshot.js';
import type { Snapshot } from './snapshot.js';

export interface E2eLab {
  work: string;
  dir: string;
  state: LabState;
  inventory: string;
  /** Environment for the CLI: FLEETPLAY_HOME in the temp dir, PEM_DB_PASSWORD from secrets.env. */
  env: Record<string, string>;
}

/** Bring up a lab of `agents` agents in a fresh temp dir, on loopback addresses from `addressBase`. */
export async function startLab(opts: { name: string; agents?: number; addressBase?: string }): Promise<E2eLab> {
  const work = mkdtempSync(join(tmpdir(), `fleetplay-e2e-${opts.name}-`));
  // The postgres user must traverse it to reach the lab's data directory.
  chmodSync(work, 0o711);
  const dir = join(work, 'lab');
  let state: LabState;
  try {
    // labUp stops whatever it started when it fails; the temp dir goes too.
    state = await labUp({
      dir,
      agents: opts.agents ?? 3,
      ec: false,
      intervalMs: 500,
      ...(opts.addressBase ? { addressBase: opts.addressBase } : {}),
    });
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  const env: Record<string, string> = { FLEETPLAY_HOME: join(work, 'home') };
  for (const line of readFileSync(state.secretsFile, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return { work, dir, state, inventory: state.inventoryFile, env };
}

/** Stop the lab (only its own processes, by PID) and remove the temp dir. */
export async function stopLab(lab: E2eLab | undefined): Promise<void> {
  if (!lab) return;
  await labDown(lab.dir).catch(() => undefined);
  rmSync(lab.work, { recursive: true, force: true });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI from source in a child process, with the lab's environment. */
export function runCli(lab: E2eLab, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cli.ts', ...args], {
      env: { ...process.env, ...lab.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Report {
  runId: string;
  results: Array<{ host: string; task: string; status: string; reason?: string }>;
  hosts: Array<{ host: string; state: string }>;
}

/** Run `check` or `run` of a shipped playbook with --json; returns the CLI result and the report. */
export async function playbook(
  lab: E2eLab,
  mode: 'check' | 'run',
  name: string,
  extra: string[] = [],
): Promise<CliResult & { report: Report }> {
  const json = join(lab.work, `${mode}-${name}-${Date.now()}.json`);
  const r = await runCli(lab, [mode, join('playbooks', name), '-i', lab.inventory, '--plain', '--json', json, ...extra]);
  let report: Report = { runId: '', results: [], hosts: [] };
  try {
    report = JSON.parse(readFileSync(json, 'utf8')) as Report;
  } catch {
    // No report: the assertion on the exit code shows stdout/stderr.
  }
  return { ...r, report };
}

/** The sorted "host / task" pairs a report marks changed. */
export function changedPairs(report: Report): string[] {
  return report.results
    .filter((r) => r.status === 'changed')
    .map((r) => `${r.host} / ${r.task}`)
    .sort();
}

/**
 * Files that change by themselves while the lab runs: logs, pids, agent state, the backups of
 * other runs' temp names, and everything of the database cluster but its certificate and
 * configuration files (heartbeats write WAL and heap pages all the time).
 */
const MOVING = /(^|\/)(var\/log|var\/run)(\/|$)|(^|\/)as15\/(socket|postgres\.log)(\/|$)|\/data\/(base|global|pg_[a-z_]+|postmaster\.(pid|opts)|current_logfiles|log|postgresql\.auto\.conf)(\/|$)/;

/** Snapshot of every host root of the lab (path → sha256, mode, owner). */
export function snapshotLab(lab: E2eLab): Record<string, Snapshot> {
  return Object.fromEntries(lab.state.sshd.hosts.map((h) => [h.name, snapshotTree(h.root, { exclude: MOVING })]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until every agent is healthy and its last heartbeat was made with a certificate that
 * satisfies `ok`; returns the final status of the agents (the last one seen on timeout).
 */
export async function waitForAgents(lab: E2eLab, ok: (a: AgentStatus) => boolean, timeoutMs = 15_000): Promise<AgentStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await labStatus(lab.dir);
    if (st.agents.every((a) => a.healthy && ok(a)) || Date.now() > deadline) return st.agents;
    await sleep(250);
  }
}

/** Run a query against the lab's PEM database as the superuser (over its socket). */
export async function pemQuery(lab: E2eLab, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  const db = lab.state.db;
  if (!db) throw new Error('the lab has no database');
  const cluster = await attachPgCluster(db.clusterDir);
  return cluster.query(sql, params, 'pem');
}

/** Subject, issuer (one line each, as the lab agents report them) and SHA-256 fingerprint of the first certificate in a file. */
export function certFacts(path: string): { subject: string; issuer: string; fingerprint: string } {
  const x = new X509Certificate(readFileSync(path));
  return { subject: x.subject.split('\n').join(', '), issuer: x.issuer.split('\n').join(', '), fingerprint: x.fingerprint256 };
}

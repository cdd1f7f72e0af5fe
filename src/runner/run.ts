/**
 * A whole run: create the run directory and journal, schedule the plays, apply the failure policy,
 * and summarize. Also `rollback <id>` and `resume <id>`, which work from the run directory alone.
 */
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeError, UsageError } from '../errors.js';
import type { Inventory } from '../inventory/load.js';
import type { Playbook } from '../playbook/types.js';
import { Redactor } from '../report/redact.js';
import { RunConnector } from './connector.js';
import type { ConnectorOptions } from './connector.js';
import type { Connector, HostState, RunContext, RunOptions } from './context.js';
import type { EventSink, HostSummary, RunSummary } from './events.js';
import { Journal, appliedTasks, pendingUndo, readJournal } from './journal.js';
import { HostLocks } from './lock.js';
import { newRunId, runDirFor, runsRoot } from './paths.js';
import { playHosts, runPlay, taskSelected } from './play.js';
import { planRollback, rollbackHost } from './rollback.js';
import type { PlannedRollback, RollbackDeps } from './rollback.js';

export interface RunMeta {
  runId: string;
  playbook: string;
  inventory: string;
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: Record<string, unknown>;
  check: boolean;
  startedAt: string;
  connector: ConnectorOptions;
}

export interface StartRun {
  playbook: Playbook;
  inventory: Inventory;
  opts: RunOptions;
  connector: ConnectorOptions;
  emit: EventSink;
  signal: AbortSignal;
  redactor?: Redactor;
  /** Continue an earlier run (same id, same journal). */
  resumeId?: string;
  /** For tests: a connector other than SSH/local. */
  connectorImpl?: Connector;
}

export async function runPlaybook(start: StartRun): Promise<RunSummary> {
  const began = Date.now();
  const runId = start.resumeId ?? newRunId();
  const runDir = runDirFor(runId);
  const redactor = start.redactor ?? new Redactor();
  for (const h of start.inventory.hosts.values()) redactor.addFromVars(h.vars);
  redactor.addFromVars(start.opts.extraVars);
  for (const p of start.playbook.plays) redactor.addFromVars(p.vars);
  const journal = Journal.open(runDir, redactor);
  const resumeDone = start.resumeId ? appliedTasks(readJournal(journal.path)) : new Set<string>();
  if (!start.resumeId) writeRunFiles(runDir, start, runId, redactor);
  journal.append({ t: 'run', runId, at: new Date().toISOString(), playbook: start.playbook.file, check: start.opts.check, resume: start.resumeId !== undefined });

  const connector = start.connectorImpl ?? new RunConnector(start.inventory, start.connector);
  const hosts = new Map<string, HostState>();
  const run: RunContext = {
    runId,
    playbookDir: dirname(resolve(start.playbook.file)),
    runDir,
    opts: start.opts,
    inventory: start.inventory,
    hosts,
    journal,
    redactor,
    connector,
    emit: start.emit,
    signal: start.signal,
    results: [],
    resumeDone,
  };
  if (!start.opts.check) {
    run.locks = new HostLocks({
      runId,
      connector,
      hostVars: (h) => start.inventory.hosts.get(h)?.vars,
      breakStale: start.opts.breakStaleLocks === true || process.env.FLEETPLAY_BREAK_STALE_LOCKS === '1',
      onTaking: (h) => journal.append({ t: 'host', host: h, state: 'locking', at: new Date().toISOString() }),
      onTaken: (h) => journal.append({ t: 'host', host: h, state: 'locked', at: new Date().toISOString() }),
    });
  }
  for (const play of start.playbook.plays) {
    for (const name of playHosts(run, play)) {
      const inv = start.inventory.hosts.get(name);
      if (inv && !hosts.has(name)) {
        hosts.set(name, { name, inv, registered: {}, facts: {}, notified: new Set(), touched: false });
      }
    }
  }
  const deps = rollbackDeps(run);
  start.emit({ kind: 'run-start', runId, playbook: start.playbook.file, check: start.opts.check, runDir });
  if (start.opts.tags.length > 0 && !start.playbook.plays.some((p) => [...p.tasks, ...p.handlers].some((t) => taskSelected(run, p, t)))) {
    start.emit({ kind: 'warning', message: `no task matches --tags ${start.opts.tags.join(',')}${start.opts.skipTags.length ? ` (with --skip-tags ${start.opts.skipTags.join(',')})` : ''}: nothing will run` });
  }
  const hooks = {
    rollbackHost: async (host: string, reason: string) => {
      const h = hosts.get(host);
      if (!h || start.opts.check || h.lockedOut) return;
      // Nothing changed on it (e.g. never reached): it stays failed/unreachable, not "rolled back".
      if (!h.touched && !hasUndo(journal.path, host)) return;
      const ok = await rollbackHost(deps, host, reason);
      h.state = ok ? 'rolled-back' : 'rollback-failed';
    },
    rollbackAll: async (reason: string) => {
      if (start.opts.check) return;
      const touched = [...hosts.values()].filter((h) => h.touched || hasUndo(journal.path, h.name));
      await Promise.all(
        touched.map(async (h) => {
          const ok = await rollbackHost(deps, h.name, reason);
          h.state = ok ? 'rolled-back' : 'rollback-failed';
        }),
      );
    },
  };
  try {
    for (const [i, play] of start.playbook.plays.entries()) {
      if (run.aborted || start.signal.aborted) break;
      await runPlay(run, play, i, hooks);
      // A host waiting for something outside the run (an external CA's signature) is a barrier:
      // the whole run pauses after this play, so no later play runs against a half-ready fleet.
      // `resume` continues every host from here.
      const waiting = [...hosts.values()].filter((h) => h.state === 'waiting').map((h) => h.name);
      if (waiting.length > 0 && i < start.playbook.plays.length - 1) {
        start.emit({ kind: 'warning', message: `paused after play "${play.name}": ${waiting.join(', ')} wait(s) for an external signature; every host continues with fleetplay resume ${runId}` });
        break;
      }
    }
  } finally {
    const kept = (await run.locks?.releaseAll()) ?? [];
    for (const h of kept) start.emit({ kind: 'warning', host: h, message: `could not remove this run's lock on ${h} (host unreachable?); the next run will report it as stale` });
    await connector.closeAll();
  }
  if (start.signal.aborted) run.aborted ??= 'interrupted (Ctrl-C): no new tasks were started';
  const summary = summarize(run, began);
  journal.append({ t: 'end', at: new Date().toISOString(), success: summary.success });
  journal.close();
  start.emit({ kind: 'run-end', summary });
  return summary;
}

function hasUndo(path: string, host: string): boolean {
  return readJournal(path).some((r) => r.t === 'undo' && r.host === host);
}

function writeRunFiles(runDir: string, start: StartRun, runId: string, redactor: Redactor): void {
  const meta: RunMeta = {
    runId,
    playbook: resolve(start.playbook.file),
    inventory: resolve(start.inventory.file),
    limit: start.opts.limit,
    tags: start.opts.tags,
    skipTags: start.opts.skipTags,
    extraVars: redactor.redactValue(start.opts.extraVars),
    check: start.opts.check,
    startedAt: new Date().toISOString(),
    connector: start.connector,
  };
  writeFileSync(join(runDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 });
  copyFileSync(start.playbook.file, join(runDir, 'playbook.yaml'));
  // The copy keeps the source's mode; it may hold vars as secret as the journal's.
  chmodSync(join(runDir, 'playbook.yaml'), 0o600);
  const snapshot = Object.fromEntries([...start.inventory.hosts].map(([n, h]) => [n, { groups: h.groups, vars: h.vars }]));
  writeFileSync(join(runDir, 'inventory.json'), redactor.redact(JSON.stringify(snapshot, null, 2)) + '\n', { mode: 0o600 });
}

export function readRunMeta(runId: string): RunMeta {
  checkRunId(runId);
  const dir = runDirFor(runId);
  const file = join(dir, 'meta.json');
  if (!existsSync(file)) {
    throw new UsageError(`no run with id ${runId} in ${dir}`, { hint: 'list runs with `ls .fleetplay/runs` (run ids are printed at the start of every run), or set FLEETPLAY_HOME' });
  }
  return JSON.parse(readFileSync(file, 'utf8')) as RunMeta;
}

function rollbackDeps(run: RunContext): RollbackDeps {
  return {
    runId: run.runId,
    journal: run.journal,
    connector: run.connector,
    emit: run.emit,
    redactor: run.redactor,
    signal: new AbortController().signal,
    hostVars: (h) => run.inventory.hosts.get(h)?.vars ?? {},
  };
}

function summarize(run: RunContext, began: number): RunSummary {
  const hosts: HostSummary[] = [];
  for (const h of run.hosts.values()) {
    const rs = run.results.filter((r) => r.host === h.name);
    const count = (s: string) => rs.filter((r) => r.status === s).length;
    const s: HostSummary = {
      host: h.name,
      state: h.state ?? (count('changed') > 0 ? 'changed' : 'ok'),
      ok: count('ok'),
      changed: count('changed'),
      failed: count('failed'),
      skipped: count('skipped'),
      unreachable: count('unreachable'),
      rolledBack: h.state === 'rolled-back' ? 1 : 0,
    };
    if (h.state === undefined && run.aborted) s.state = 'stopped';
    if (h.error !== undefined || s.failed > 0) s.error = run.redactor.redact(h.error ?? rs.find((r) => r.error)?.error ?? '');
    hosts.push(s);
  }
  const bad = hosts.filter((h) => h.state !== 'ok' && h.state !== 'changed');
  return {
    runId: run.runId,
    check: run.opts.check,
    runDir: run.runDir,
    hosts,
    results: run.results,
    success: bad.length === 0 && run.aborted === undefined,
    durationMs: Date.now() - began,
    aborted: run.aborted,
  };
}

export interface RollbackRunOptions {
  runId: string;
  /** Roll back even when newer runs changed the same hosts or some hosts are unreachable. */
  force?: boolean;
  inventory: Inventory;
  connector: ConnectorOptions;
  check: boolean;
  hosts?: string[];
  emit: EventSink;
  signal: AbortSignal;
  connectorImpl?: Connector;
}

export interface RollbackRunResult {
  planned: PlannedRollback[];
  ok: string[];
  failed: string[];
}

/** `fleetplay rollback <id>`: every host with pending undo records, put back (or shown, with check). */
export async function rollbackRun(o: RollbackRunOptions): Promise<RollbackRunResult> {
  const runDir = runDirFor(o.runId);
  readRunMeta(o.runId);
  const redactor = new Redactor();
  for (const h of o.inventory.hosts.values()) redactor.addFromVars(h.vars);
  const journal = Journal.open(runDir, redactor);
  const records = readJournal(journal.path);
  const hostNames = [...new Set(records.flatMap((r) => (r.t === 'undo' ? [r.host] : [])))].filter((h) => !o.hosts || o.hosts.includes(h));
  const connector = o.connectorImpl ?? new RunConnector(o.inventory, o.connector);
  const deps: RollbackDeps = {
    runId: o.runId,
    journal,
    connector,
    emit: o.emit,
    redactor,
    signal: o.signal,
    hostVars: (h) => o.inventory.hosts.get(h)?.vars ?? {},
  };
  const planned = hostNames.map((h) => planRollback(deps, h)).filter((p) => p.records.length > 0);
  const result: RollbackRunResult = { planned, ok: [], failed: [] };
  // The run's own lock (left by a killed run) is taken over; another live run's lock is refused.
  const locks = new HostLocks({ runId: o.runId, connector, hostVars: (h) => o.inventory.hosts.get(h)?.vars, breakStale: false });
  if (o.check) {
    journal.close();
    return result;
  }
  // Refuse before touching any host when a newer run changed the same hosts and is not rolled back
  // (undoing out of order would overwrite its changes), or when a host cannot be reached (a fleet
  // half rolled back can be worse than either state).
  const newer = newerRunsTouching(o.runId, planned.map((p) => p.host));
  if (newer.length > 0 && !o.force) {
    journal.close();
    throw new UsageError(`newer runs changed the same hosts and are not rolled back: ${newer.join('; ')}`, {
      hint: `roll those back first, newest first (fleetplay rollback <id>), or pass --force to restore this run's backups over their changes`,
    });
  }
  const unreachable: string[] = [];
  await Promise.all(
    planned.map(async (p) => {
      for (const target of new Set([p.host, ...p.records.map((r) => r.target)])) {
        try {
          await connector.get(target);
        } catch (e) {
          unreachable.push(`${target} (${describeError(e).split('\n')[0]})`);
        }
      }
    }),
  );
  if (unreachable.length > 0 && !o.force) {
    await connector.closeAll();
    journal.close();
    throw new UsageError(`cannot reach ${unreachable.join(', ')}; nothing was rolled back`, {
      hint: 'bring the host back and run the rollback again; to roll back only the others use -l <hosts> (agents and server may then disagree), or --force',
    });
  }
  try {
    await Promise.all(
      planned.map(async (p) => {
        try {
          await locks.acquire(p.host);
          const ok = await rollbackHost(deps, p.host, 'fleetplay rollback');
          (ok ? result.ok : result.failed).push(p.host);
          if (ok) await locks.release(p.host);
        } catch (e) {
          o.emit({ kind: 'rollback-end', host: p.host, ok: false, error: redactor.redact(describeError(e)) });
          result.failed.push(p.host);
        }
      }),
    );
    // A killed run may hold locks on hosts it had not changed yet: release those too.
    const lockedOnly = [...new Set(records.flatMap((r) => (r.t === 'host' && (r.state === 'locked' || r.state === 'locking') ? [r.host] : [])))].filter(
      (h) => (!o.hosts || o.hosts.includes(h)) && !planned.some((p) => p.host === h),
    );
    await Promise.all(lockedOnly.map((h) => locks.release(h)));
  } finally {
    await connector.closeAll();
    journal.close();
  }
  return result;
}

/** Newer runs (by start time) with undo records still pending on any of these hosts. */
function newerRunsTouching(runId: string, hosts: readonly string[]): string[] {
  const mine = readRunMeta(runId).startedAt;
  const root = runsRoot();
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const other of readdirSync(root)) {
    if (other === runId || !existsSync(join(root, other, 'meta.json')) || !existsSync(join(root, other, 'journal.jsonl'))) continue;
    let meta: RunMeta;
    try {
      meta = readRunMeta(other);
    } catch {
      continue;
    }
    if (meta.check || meta.startedAt <= mine) continue;
    const records = readJournal(join(root, other, 'journal.jsonl'));
    const touched = hosts.filter((h) => pendingUndo(records, h).length > 0);
    if (touched.length > 0) out.push(`${other} (${touched.join(', ')})`);
  }
  return out;
}

/** Run ids are names we made: refuse anything else (no path traversal through an id). */
export function checkRunId(runId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId) || runId.includes('..')) {
    throw new UsageError(`"${runId}" is not a run id`, { hint: 'run ids look like 20261203-171202-d6b5a9; they are printed at the start of every run' });
  }
}

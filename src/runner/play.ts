/**
 * The scheduler: a play's hosts in batches (serial), tasks across hosts (linear: every host finishes
 * task N before any starts N+1; free: each host runs on by itself), bounded by forks, handlers at the
 * end of each batch, and the play's failure policy after every task.
 */
import { describeError } from '../errors.js';
import { applyLimit, selectHosts } from '../inventory/pattern.js';
import { renderValue } from '../playbook/template.js';
import type { PlaySpec, TaskSpec } from '../playbook/types.js';
import type { HostState, RunContext } from './context.js';
import type { HostTaskStatus } from './events.js';
import { runTaskOnHost } from './host-task.js';
import type { TaskPosition } from './host-task.js';
import { magicVars, taskVars } from './vars.js';

export interface PlayHooks {
  /** Roll back one host (policy rollback). */
  rollbackHost(host: string, reason: string): Promise<void>;
  /** Roll back every host touched so far in the run (threshold breach, any_errors_fatal). */
  rollbackAll(reason: string): Promise<void>;
}

/** Hosts a play targets, after --limit, in inventory order. */
export function playHosts(run: Pick<RunContext, 'inventory' | 'opts'>, play: PlaySpec): string[] {
  return applyLimit(selectHosts(run.inventory, play.hosts), run.inventory, run.opts.limit);
}

/** Batch sizes for `serial` (numbers, percentages, a ramp whose last value repeats). */
export function batches(hosts: readonly string[], serial: ReadonlyArray<number | string>): string[][] {
  if (serial.length === 0) return hosts.length === 0 ? [] : [[...hosts]];
  const sizes = serial.map((s) => {
    if (typeof s === 'number') return Math.max(1, Math.floor(s));
    const m = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
    if (m) return Math.max(1, Math.floor((Number(m[1]) / 100) * hosts.length));
    return Math.max(1, Math.floor(Number(s)));
  });
  const out: string[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const size = sizes[Math.min(k, sizes.length - 1)] ?? hosts.length;
    out.push(hosts.slice(i, i + size));
    i += size;
    k++;
  }
  return out;
}

export function taskSelected(run: RunContext, play: PlaySpec, task: TaskSpec): boolean {
  const tags = new Set([...play.tags, ...task.tags]);
  if (run.opts.skipTags.some((t) => tags.has(t))) return false;
  if (tags.has('always')) return true;
  if (run.opts.tags.length === 0) return !tags.has('never');
  return run.opts.tags.some((t) => tags.has(t) || t === 'all');
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

function healthy(h: HostState): boolean {
  return h.state === undefined;
}

export async function runPlay(run: RunContext, play: PlaySpec, playIndex: number, hooks: PlayHooks): Promise<void> {
  const targets = playHosts(run, play).filter((n) => {
    const h = run.hosts.get(n);
    return h !== undefined && healthy(h);
  });
  const groups = batches(targets, play.serial);
  for (const [bi, batch] of groups.entries()) {
    if (run.aborted) return;
    run.emit({ kind: 'play-start', play: play.name, index: playIndex, hosts: batch, batch: bi + 1, batches: groups.length });
    const playVars = new Map<string, Record<string, unknown>>();
    for (const name of batch) {
      const h = run.hosts.get(name) as HostState;
      const base = { ...h.inv.vars, ...run.opts.extraVars, ...magicVars(run, h, targets) };
      try {
        playVars.set(name, renderValue(play.vars, base) as Record<string, unknown>);
      } catch (e) {
        h.state = 'failed';
        h.error = `play vars: ${describeError(e)}`;
      }
    }
    const pos = (taskIndex: number, handler: boolean): TaskPosition => ({
      playName: play.name,
      playIndex,
      taskIndex,
      handler,
      playHosts: targets,
      playBecome: play.become,
    });
    if (play.strategy === 'free') await runFree(run, play, batch, playVars, pos, hooks);
    else await runLinear(run, play, batch, playVars, pos, hooks);
    if (!run.aborted) await runHandlers(run, play, batch, playVars, pos, hooks);
    run.emit({ kind: 'play-end', play: play.name });
  }
}

async function runTaskAcross(
  run: RunContext,
  play: PlaySpec,
  task: TaskSpec,
  hosts: readonly string[],
  playVars: Map<string, Record<string, unknown>>,
  p: TaskPosition,
): Promise<Map<string, HostTaskStatus>> {
  const statuses = new Map<string, HostTaskStatus>();
  const live = hosts.map((n) => run.hosts.get(n) as HostState).filter(healthy);
  if (live.length === 0) return statuses;
  run.emit({ kind: 'task-start', play: play.name, task: task.name, hosts: live.map((h) => h.name) });
  const one = async (h: HostState) => {
    const vars = taskVars(run, h, playVars.get(h.name) ?? {}, task, p.playHosts);
    let st: HostTaskStatus;
    try {
      st = await runTaskOnHost(run, h, task, p, vars);
    } catch (e) {
      st = 'failed';
      h.error = describeError(e);
    }
    statuses.set(h.name, st);
    if (st === 'changed' && task.notify.length > 0) for (const n of task.notify) h.notified.add(n);
  };
  if (task.runOnce) {
    const first = live[0] as HostState;
    await one(first);
    const st = statuses.get(first.name) ?? 'ok';
    for (const h of live.slice(1)) {
      if (task.register && first.registered[task.register] !== undefined) h.registered[task.register] = first.registered[task.register];
      statuses.set(h.name, st === 'failed' ? 'failed' : 'skipped');
      if (st === 'failed') h.error = `run_once task "${task.name}" failed on ${first.name}`;
    }
  } else {
    await mapLimit(live, run.opts.forks, one);
  }
  run.emit({ kind: 'task-end', play: play.name, task: task.name });
  return statuses;
}

async function handleFailures(run: RunContext, play: PlaySpec, batch: readonly string[], statuses: Map<string, HostTaskStatus>, task: TaskSpec, hooks: PlayHooks): Promise<void> {
  const failed: HostState[] = [];
  for (const [name, st] of statuses) {
    const h = run.hosts.get(name) as HostState;
    if (st === 'failed' || st === 'unreachable') {
      if (task.ignoreErrors && st === 'failed') continue;
      h.state = st === 'unreachable' ? 'unreachable' : 'failed';
      h.error ??= lastError(run, name, task.name);
      failed.push(h);
    } else if (st === 'waiting') {
      h.state = 'waiting';
    }
  }
  if (failed.length === 0) return;
  const failedInBatch = batch.filter((n) => {
    const s = run.hosts.get(n)?.state;
    return s === 'failed' || s === 'unreachable' || s === 'rolled-back' || s === 'rollback-failed';
  }).length;
  const pct = (failedInBatch / Math.max(1, batch.length)) * 100;
  const breach =
    play.anyErrorsFatal ? `any_errors_fatal: "${task.name}" failed on ${failed.map((h) => h.name).join(', ')}`
    : play.maxFailPercentage !== undefined && pct > play.maxFailPercentage
      ? `max_fail_percentage ${play.maxFailPercentage}% exceeded (${failedInBatch} of ${batch.length} hosts failed)`
      : undefined;
  if (breach !== undefined) {
    run.aborted = breach;
    if (play.onFailure === 'rollback') await hooks.rollbackAll(breach);
    return;
  }
  if (play.onFailure === 'rollback') {
    await Promise.all(failed.map((h) => hooks.rollbackHost(h.name, `task "${task.name}" failed`)));
  } else if (play.onFailure === 'stop') {
    run.aborted = `on_failure: stop — "${task.name}" failed on ${failed.map((h) => h.name).join(', ')}`;
  }
}

function lastError(run: RunContext, host: string, task: string): string | undefined {
  for (let i = run.results.length - 1; i >= 0; i--) {
    const r = run.results[i];
    if (r && r.host === host && r.task === task && r.error) return r.error;
  }
  return undefined;
}

async function runLinear(run: RunContext, play: PlaySpec, batch: readonly string[], playVars: Map<string, Record<string, unknown>>, pos: (i: number, h: boolean) => TaskPosition, hooks: PlayHooks): Promise<void> {
  for (const [ti, task] of play.tasks.entries()) {
    if (run.aborted || run.signal.aborted) {
      run.aborted ??= 'interrupted';
      return;
    }
    if (!taskSelected(run, play, task)) continue;
    const statuses = await runTaskAcross(run, play, task, batch, playVars, pos(ti, false));
    await handleFailures(run, play, batch, statuses, task, hooks);
  }
}

async function runFree(run: RunContext, play: PlaySpec, batch: readonly string[], playVars: Map<string, Record<string, unknown>>, pos: (i: number, h: boolean) => TaskPosition, hooks: PlayHooks): Promise<void> {
  await mapLimit(batch, run.opts.forks, async (name) => {
    for (const [ti, task] of play.tasks.entries()) {
      if (run.aborted || run.signal.aborted) return;
      const h = run.hosts.get(name) as HostState;
      if (!healthy(h)) return;
      if (!taskSelected(run, play, task)) continue;
      const statuses = await runTaskAcross(run, play, task, [name], playVars, pos(ti, false));
      await handleFailures(run, play, batch, statuses, task, hooks);
    }
  });
}

async function runHandlers(run: RunContext, play: PlaySpec, batch: readonly string[], playVars: Map<string, Record<string, unknown>>, pos: (i: number, h: boolean) => TaskPosition, hooks: PlayHooks): Promise<void> {
  for (const [hi, handler] of play.handlers.entries()) {
    if (run.aborted) return;
    const notified = batch.filter((n) => run.hosts.get(n)?.notified.has(handler.name));
    if (notified.length === 0) continue;
    const statuses = await runTaskAcross(run, play, handler, notified, playVars, pos(hi, true));
    for (const n of notified) run.hosts.get(n)?.notified.delete(handler.name);
    await handleFailures(run, play, batch, statuses, handler, hooks);
  }
}

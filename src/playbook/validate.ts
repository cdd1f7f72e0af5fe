/**
 * Validation before any connection: host patterns, notify targets, register order, templates'
 * variables (with each host's inventory vars, the play's vars and -e), and every task's args
 * against its module's schema after rendering. All problems are collected and thrown as one
 * PlaybookError; structural problems were already reported by `loadPlaybook`.
 */
import { isFleetError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { applyLimit, selectHosts } from '../inventory/pattern.js';
import type { TaskModule } from '../tasks/types.js';
import { playbookErrorFrom } from './issues.js';
import type { Issue } from './issues.js';
import { resolveModule } from './load-task.js';
import { didYouMean } from './suggest.js';
import type { Loc, PlaySpec, Playbook, TaskSpec } from './types.js';
import { IssueSink, checkTask } from './validate-task.js';
import type { Knowns } from './validate-task.js';
import { hostVarsFor } from './vars.js';

export interface ValidateOptions {
  extraVars: Record<string, unknown>;
  findTask: (name: string) => TaskModule | undefined;
  limit?: string;
}

/** Run-time-only names, always known to exist. */
const RUNTIME_NAMES = ['ansible_check_mode', 'fleetplay_run_id'];

function playHosts(play: PlaySpec, inv: Inventory, opts: ValidateOptions, issues: Issue[]): { hosts: string[]; all: string[] } {
  const loc = play.keyLocs?.get('hosts') ?? play.loc;
  let all: string[];
  try {
    all = selectHosts(inv, play.hosts);
  } catch (e) {
    if (!isFleetError(e)) throw e;
    issues.push({ loc, message: e.message, hint: e.hint ?? 'fix the host pattern' });
    return { hosts: [], all: [] };
  }
  let hosts = all;
  try {
    hosts = applyLimit(all, inv, opts.limit);
  } catch (e) {
    if (!isFleetError(e)) throw e;
    issues.push({ message: `--limit: ${e.message}`, hint: e.hint ?? 'fix the --limit pattern' });
  }
  return { hosts, all };
}

/** Names a task defines for later tasks: its register, and the keys of a set_fact. */
function definedNames(t: TaskSpec): string[] {
  const out = t.register ? [t.register] : [];
  if (t.module === 'set_fact' && t.args !== null && typeof t.args === 'object') {
    out.push(...Object.keys(t.args).filter((k) => k !== 'cacheable'));
  }
  return out;
}

function registersOf(pb: Playbook): Map<string, Loc> {
  const at = new Map<string, Loc>();
  for (const play of pb.plays) {
    for (const t of [...play.tasks, ...play.handlers]) {
      for (const n of definedNames(t)) if (!at.has(n)) at.set(n, t.keyLocs?.get('register') ?? t.argLocs.get(n) ?? t.loc);
    }
  }
  return at;
}

function checkNotify(play: PlaySpec, task: TaskSpec, issues: Issue[]): void {
  const names = play.handlers.map((h) => h.name);
  for (const n of task.notify) {
    if (names.includes(n)) continue;
    const near = didYouMean(n, names);
    issues.push({
      loc: task.keyLocs?.get('notify') ?? task.loc,
      message: `notify "${n}" names no handler of this play${names.length > 0 ? ` (handlers: ${names.map((h) => `"${h}"`).join(', ')})` : ''}`,
      hint: near || (names.length === 0 ? `add a handler named "${n}" under "handlers:"` : 'use the exact name of a handler'),
    });
  }
}

/** Throws one PlaybookError listing every problem found; returns when the playbook is valid. */
export function validatePlaybook(pb: Playbook, inv: Inventory, opts: ValidateOptions): void {
  const issues: Issue[] = [];
  const sink = new IssueSink();
  const registeredAt = registersOf(pb);
  const registered = new Set<string>();
  const hostsByPlay = new Map<string, string[]>();
  for (const play of pb.plays) {
    const { hosts, all } = playHosts(play, inv, opts, issues);
    const checkHosts = hosts.length > 0 ? hosts : all;
    const playRegistered = new Set(registered);
    // Each host's vars, once per play; run-time-only names are removed so templates using them
    // are left to the run.
    const baseVars = new Map<string, Record<string, unknown>>();
    for (const host of checkHosts) {
      const vars = hostVarsFor(inv, host, { playHosts: hosts, playVars: play.vars, extraVars: opts.extraVars, checkMode: false, runId: '' });
      for (const n of RUNTIME_NAMES) delete vars[n];
      baseVars.set(host, vars);
    }
    const runTask = (task: TaskSpec, known: Set<string>): void => {
      const mod = resolveModule(task.module, opts.findTask);
      const knowns: Knowns = { registered: known, registeredAt, runtime: new Set(RUNTIME_NAMES) };
      const key = `${task.loc.line}:${task.loc.col}`;
      hostsByPlay.set(key, checkHosts);
      for (const host of checkHosts) {
        let vars = baseVars.get(host) ?? {};
        if ([...known].some((n) => n in vars)) {
          vars = { ...vars };
          for (const n of known) delete vars[n];
        }
        checkTask(task, mod, vars, knowns, sink, host);
      }
    };
    for (const task of play.tasks) {
      checkNotify(play, task, issues);
      runTask(task, new Set(playRegistered));
      for (const n of definedNames(task)) playRegistered.add(n);
    }
    for (const handler of play.handlers) {
      checkNotify(play, handler, issues);
      runTask(handler, new Set(playRegistered));
      for (const n of definedNames(handler)) playRegistered.add(n);
    }
    for (const r of playRegistered) registered.add(r);
  }
  const hostsOf = (i: Issue): string[] => {
    if (!i.loc) return [];
    for (const play of pb.plays) {
      for (const t of [...play.tasks, ...play.handlers]) {
        const locs = [t.loc, ...t.argLocs.values(), ...(t.keyLocs?.values() ?? [])];
        if (locs.some((l) => l.line === i.loc?.line)) return hostsByPlay.get(`${t.loc.line}:${t.loc.col}`) ?? [];
      }
    }
    return [];
  };
  issues.push(...sink.issues(hostsOf));
  if (issues.length > 0) throw playbookErrorFrom(issues);
}

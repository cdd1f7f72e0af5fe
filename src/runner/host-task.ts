/**
 * One task on one host: template the args, evaluate `when`, plan through a read-only probe, journal
 * the undo, apply the steps (not in check mode), register the result, and emit the event. Loops run
 * here, one plan per item.
 */
import { userInfo } from 'node:os';
import { ConnectionError, TaskError, describeError } from '../errors.js';
import { evalCondition, renderValue } from '../playbook/template.js';
import type { TaskSpec } from '../playbook/types.js';
import { findTask } from '../tasks/index.js';
import { describeStep } from '../tasks/steps.js';
import type { StepApi } from '../tasks/steps.js';
import type { Plan, TaskContext, TaskModule } from '../tasks/types.js';
import { applySteps } from './apply.js';
import type { ApplyOutcome } from './apply.js';
import { isConfirmationPause } from '../tasks/pause.js';
import type { HostState, RunContext } from './context.js';
import type { HostTaskResult, HostTaskStatus } from './events.js';
import { backupDirFor } from './paths.js';

export interface TaskPosition {
  playName: string;
  playIndex: number;
  taskIndex: number;
  handler: boolean;
  playHosts: readonly string[];
  /** The play's `become`, if set. */
  playBecome?: boolean;
}

const PENDING = '__fleetplay_check_pending';

/**
 * Ctrl-C stops new tasks (run.signal) but lets the steps in flight finish, so no host is left
 * half-changed by the interrupt itself: steps get a signal that never aborts. A second Ctrl-C exits.
 */
const STEP_SIGNAL = new AbortController().signal;

export function whereOf(task: TaskSpec): string {
  return `${task.loc.file}:${task.loc.line}:${task.loc.col}`;
}

/** Run a task (all loop items) on a host; returns the combined status. */
export async function runTaskOnHost(run: RunContext, host: HostState, task: TaskSpec, pos: TaskPosition, vars: Record<string, unknown>): Promise<HostTaskStatus> {
  const module = findTask(task.module);
  if (module === undefined) throw new TaskError(`unknown module ${task.module}`, { host: host.name, task: task.name });
  let items: unknown[] | undefined;
  if (task.loop !== undefined) {
    try {
      const rendered = renderValue(task.loop, vars);
      if (!Array.isArray(rendered)) throw new TaskError(`loop must be a list, got ${typeof rendered}`);
      items = rendered;
    } catch (e) {
      return report(run, host, task, pos, { status: 'failed', error: describeError(e), durationMs: 0 });
    }
  }
  if (items === undefined) {
    const r = await runOne(run, host, task, pos, module, vars, undefined);
    if (task.register) host.registered[task.register] = r.registered;
    return r.status;
  }
  const results: unknown[] = [];
  let status: HostTaskStatus = 'skipped';
  for (const [i, item] of items.entries()) {
    const r = await runOne(run, host, task, pos, module, { ...vars, [task.loopVar]: item }, { item, index: i });
    results.push(r.registered);
    status = combine(status, r.status);
    if (r.status === 'failed' || r.status === 'unreachable' || r.status === 'waiting') break;
  }
  if (task.register) {
    host.registered[task.register] = {
      results,
      changed: results.some((r) => (r as { changed?: boolean }).changed === true),
      failed: status === 'failed',
    };
  }
  return status;
}

const RANK: Record<HostTaskStatus, number> = { skipped: 0, ok: 1, changed: 2, waiting: 3, failed: 4, unreachable: 5 };
function combine(a: HostTaskStatus, b: HostTaskStatus): HostTaskStatus {
  return RANK[b] > RANK[a] ? b : a;
}

interface OneResult {
  status: HostTaskStatus;
  registered: Record<string, unknown>;
}

async function runOne(
  run: RunContext,
  host: HostState,
  task: TaskSpec,
  pos: TaskPosition,
  module: TaskModule,
  vars: Record<string, unknown>,
  loop: { item: unknown; index: number } | undefined,
): Promise<OneResult> {
  const started = Date.now();
  const itemLabel = loop === undefined ? undefined : labelOf(loop.item);
  const base = { durationMs: 0, item: itemLabel };
  const done = (status: HostTaskStatus, registered: Record<string, unknown>, extra: Partial<HostTaskResult> = {}): OneResult => {
    report(run, host, task, pos, { ...base, ...extra, status, durationMs: Date.now() - started });
    return { status, registered };
  };

  try {
    if (task.when !== undefined && !evalCondition(task.when, vars)) {
      return done('skipped', { changed: false, skipped: true }, { reason: `skipped: when "${task.when}" is false` });
    }
  } catch (e) {
    const pending = pendingDependency(run, host);
    if (pending !== undefined) return done('changed', { changed: true, [PENDING]: pending }, { reason: `depends on "${pending}", which check mode does not run` });
    return done('failed', { failed: true }, { error: describeError(e) });
  }

  let args: unknown;
  let target = host.name;
  try {
    args = prepareArgs(module, task.args, vars);
    if (task.delegateTo !== undefined) target = String(renderValue(task.delegateTo, vars));
  } catch (e) {
    const pending = pendingDependency(run, host);
    if (run.opts.check && pending !== undefined) {
      return done('changed', { changed: true, [PENDING]: pending }, { reason: `depends on "${pending}", which check mode does not run` });
    }
    return done('failed', { failed: true }, { error: describeError(e) });
  }
  const parsed = module.args.safeParse(args);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message}`).join('; ');
    return done('failed', { failed: true }, { error: `invalid arguments for ${module.name} (${whereOf(task)}): ${msg}` });
  }
  for (const k of module.secretArgs) run.redactor.add((parsed.data as Record<string, unknown>)[k]);

  if (run.opts.check && !module.checkMode) {
    return done('skipped', { changed: false, skipped: true }, { reason: `${module.name} cannot be planned without running it; a real run would run it` });
  }

  // become is per connection (one per host): a play or task asking for it on a host whose
  // inventory does not enable it is an error, never a silent run as the login user.
  const wantsBecome = task.become ?? pos.playBecome;
  const inv = run.inventory.hosts.get(target);
  const invBecome = inv !== undefined && ['true', 'yes', '1', 'on'].includes(String(inv.vars.ansible_become ?? '').toLowerCase());
  const loginUser = String(inv?.vars.ansible_user ?? userInfo().username);
  if (wantsBecome === true && !invBecome && loginUser !== 'root' && inv !== undefined) {
    return done('failed', { failed: true }, {
      error: `"become: true" at ${whereOf(task)}, but host ${target} logs in as ${loginUser} without ansible_become; fleetplay applies become per host: set ansible_become: true (and ansible_become_user) for ${target} in the inventory`,
    });
  }

  let plan: Plan;
  const taskKey = `p${pos.playIndex + 1}${pos.handler ? 'h' : 't'}${pos.taskIndex + 1}${loop ? `i${loop.index + 1}` : ''}`;
  if (run.resumeDone.has(`${host.name}|${taskKey}`)) {
    return done('ok', { changed: false, resumed: true }, { reason: 'applied by the earlier attempt of this run (resume)' });
  }
  try {
    const probe = await run.connector.get(target);
    const ctx: TaskContext<unknown> & { openTcp: (h: string, p: number) => Promise<import('node:stream').Duplex> } = {
      args: parsed.data,
      host: { name: host.name, vars },
      probe,
      probeHost: (name: string) => run.connector.get(name),
      check: run.opts.check,
      runId: run.runId,
      backupDir: backupDirFor(run, target),
      taskKey,
      runDir: run.runDir,
      registered: host.registered,
      addSecret: (v: string) => run.redactor.add(v),
      signal: STEP_SIGNAL,
      openTcp: async (h: string, p: number) => (await run.connector.get(target)).forwardTcp(h, p),
    };
    plan = await module.plan(ctx);
  } catch (e) {
    return done(e instanceof ConnectionError ? 'unreachable' : 'failed', { failed: true }, { error: describeError(e) });
  }

  const steps = plan.steps.map(describeStep);
  const registered: Record<string, unknown> = { changed: plan.changed, failed: false, msg: plan.reason ?? '', ...plan.result };
  if (plan.failed !== undefined) {
    registered.failed = true;
    registered.msg = plan.failed;
    if (!failedWhenOverride(task, vars, registered)) return done('failed', registered, { error: plan.failed, reason: plan.reason });
  }
  if (plan.waiting !== undefined) return done('waiting', { ...registered, waiting: true }, { reason: plan.waiting });

  const diff = run.opts.diff ? plan.diff : undefined;
  mergeFacts(host, plan.result);
  if (module.name === 'pause' && !run.opts.check && isConfirmationPause(parsed.data as Parameters<typeof isConfirmationPause>[0])) {
    const prompt = String((parsed.data as { prompt?: string }).prompt ?? `continue with ${task.name}?`);
    const yes = run.opts.yes || (run.opts.confirm !== undefined && (await run.opts.confirm(run.redactor.redact(prompt))));
    if (!yes) {
      run.aborted = `stopped at the gate "${task.name}" (${whereOf(task)}): pass --yes to answer it, or run in a terminal`;
      return done('failed', { failed: true }, { error: `gate not confirmed: ${prompt}` });
    }
  }
  if (run.opts.check || plan.steps.length === 0) {
    if (run.opts.check && plan.changed) registered[PENDING] = task.name;
    // A plan that changes nothing has its real result now, so failed_when applies in check mode
    // too, unless an earlier task on this host would have changed something the dry run did not
    // change (the verdict would then be about the old state).
    const earlierChange = run.opts.check && run.results.some((r) => r.host === host.name && r.status === 'changed');
    if (!plan.changed && !earlierChange && failedWhenApplies(task, vars, registered)) {
      registered.failed = true;
      return done('failed', registered, { error: `failed_when "${task.failedWhen}" is true`, reason: plan.reason });
    }
    const changed = applyChangedWhen(task, vars, registered, plan.changed);
    const reason = plan.dependsOn !== undefined ? `depends on "${plan.dependsOn}"` : plan.reason;
    return done(changed ? 'changed' : 'ok', registered, { reason, steps: plan.changed ? steps : undefined, diff });
  }

  // Apply: undo first (fsynced), then the steps. Steps of a no-change plan (wait_for, pause) leave
  // nothing to undo and are not journaled.
  const seq = run.journal.allocSeq();
  const now = () => new Date().toISOString();
  const journaled = plan.changed;
  if (journaled && run.locks !== undefined) {
    // The host's run lock comes before its first change; a host another run holds is left alone.
    try {
      await run.locks.acquire(target);
    } catch (e) {
      if (target === host.name && !host.touched) host.lockedOut = true;
      return done(e instanceof ConnectionError ? 'unreachable' : 'failed', { ...registered, failed: true }, { error: describeError(e) });
    }
  }
  if (journaled) run.journal.append({ t: 'undo', seq, host: host.name, target, module: module.name, task: task.name, where: whereOf(task), taskKey, undo: plan.undo ?? {}, at: now() });
  if (journaled) host.touched = true;
  if (journaled && target !== host.name) {
    const th = run.hosts.get(target);
    if (th) th.touched = true;
  }
  const out: ApplyOutcome = { callResults: {} };
  try {
    const conn = await run.connector.get(target);
    const api: StepApi = {
      conn,
      connectionFor: (name: string) => run.connector.get(name),
      captures: new Map(),
      signal: STEP_SIGNAL,
      addSecret: (v: string) => run.redactor.add(v),
    };
    await applySteps(plan.steps, api, out);
    if (journaled) run.journal.append({ t: 'applied', seq, host: host.name, at: now() });
    registerOutcome(registered, out);
  } catch (e) {
    if (journaled) run.journal.append({ t: 'apply-failed', seq, host: host.name, error: task.noLog ? 'task failed (details hidden by no_log)' : describeError(e), at: now() });
    registerOutcome(registered, out);
    registered.failed = true;
    registered.msg = describeError(e);
    const status = e instanceof ConnectionError ? 'unreachable' : 'failed';
    return done(status, registered, { error: describeError(e), steps });
  }
  if (failedWhenApplies(task, vars, registered)) {
    registered.failed = true;
    return done('failed', registered, { error: `failed_when "${task.failedWhen}" is true`, steps });
  }
  const changed = applyChangedWhen(task, vars, registered, plan.changed);
  return done(changed ? 'changed' : 'ok', registered, { reason: plan.reason, steps: changed ? steps : undefined, diff });
}

function registerOutcome(registered: Record<string, unknown>, out: ApplyOutcome): void {
  if (out.lastExec) {
    Object.assign(registered, {
      rc: out.lastExec.exitCode,
      stdout: out.lastExec.stdout,
      stderr: out.lastExec.stderr,
      stdout_lines: out.lastExec.stdout.split('\n').filter((l, i, a) => i < a.length - 1 || l !== ''),
    });
  }
  Object.assign(registered, out.callResults);
}

/** set_fact: `ansible_facts` in a plan's result become host facts (visible to later tasks and plays). */
function mergeFacts(host: HostState, result: Record<string, unknown> | undefined): void {
  const facts = result?.ansible_facts;
  if (facts !== null && typeof facts === 'object' && !Array.isArray(facts)) Object.assign(host.facts, facts);
}

/** Render args; map a bare scalar to the free-form key; evaluate expression args. */
function prepareArgs(module: TaskModule, raw: unknown, vars: Record<string, unknown>): unknown {
  let src = raw;
  if (module.freeForm !== undefined && (typeof src === 'string' || src === null)) src = { [module.freeForm]: src ?? '' };
  if (module.expressionArgs.length > 0 && src !== null && typeof src === 'object' && !Array.isArray(src)) {
    const obj: Record<string, unknown> = { ...(src as Record<string, unknown>) };
    for (const k of module.expressionArgs) {
      const v = obj[k];
      if (v === undefined) continue;
      const list = Array.isArray(v) ? v : [v];
      obj[`${k}_text`] = list.map((x) => String(x));
      obj[k] = list.map((x) => (typeof x === 'boolean' ? x : evalCondition(String(x), vars)));
      if (!Array.isArray(v)) obj[k] = (obj[k] as boolean[])[0];
    }
    const rest = Object.fromEntries(Object.entries(obj).filter(([k]) => !module.expressionArgs.includes(k) && !k.endsWith('_text')));
    const rendered = renderValue(rest, vars) as Record<string, unknown>;
    for (const k of module.expressionArgs) {
      if (k in obj) {
        rendered[k] = obj[k];
        rendered[`${k}_text`] = obj[`${k}_text`];
      }
    }
    return rendered;
  }
  return renderValue(src, vars);
}

function withRegister(task: TaskSpec, vars: Record<string, unknown>, registered: Record<string, unknown>): Record<string, unknown> {
  return task.register ? { ...vars, [task.register]: registered } : { ...vars, result: registered };
}

function applyChangedWhen(task: TaskSpec, vars: Record<string, unknown>, registered: Record<string, unknown>, changed: boolean): boolean {
  if (task.changedWhen === undefined) return changed;
  const v = evalCondition(task.changedWhen, withRegister(task, vars, registered));
  registered.changed = v;
  return v;
}

function failedWhenApplies(task: TaskSpec, vars: Record<string, unknown>, registered: Record<string, unknown>): boolean {
  if (task.failedWhen === undefined) return false;
  return evalCondition(task.failedWhen, withRegister(task, vars, registered));
}

/** failed_when: false (or an expression that is false) turns a planned failure into ok. */
function failedWhenOverride(task: TaskSpec, vars: Record<string, unknown>, registered: Record<string, unknown>): boolean {
  if (task.failedWhen === undefined) return false;
  const stillFailed = evalCondition(task.failedWhen, withRegister(task, vars, registered));
  if (!stillFailed) registered.failed = false;
  return !stillFailed;
}

function pendingDependency(run: RunContext, host: HostState): string | undefined {
  if (!run.opts.check) return undefined;
  let last: string | undefined;
  for (const v of Object.values(host.registered)) {
    if (v !== null && typeof v === 'object' && PENDING in v) last = String((v as Record<string, unknown>)[PENDING]);
  }
  return last;
}

function labelOf(item: unknown): string {
  if (item === null || typeof item !== 'object') return String(item);
  const o = item as Record<string, unknown>;
  for (const k of ['name', 'path', 'id', 'host']) if (typeof o[k] === 'string' || typeof o[k] === 'number') return String(o[k]);
  return JSON.stringify(item).slice(0, 60);
}

function report(run: RunContext, host: HostState, task: TaskSpec, pos: TaskPosition, r: Omit<HostTaskResult, 'host' | 'play' | 'task' | 'where'>): HostTaskStatus {
  const result: HostTaskResult = run.redactor.redactValue({
    ...r,
    host: host.name,
    play: pos.playName,
    task: task.name,
    where: whereOf(task),
    ...(task.noLog ? { reason: r.reason === undefined ? undefined : '(output hidden by no_log)', diff: undefined, error: r.error === undefined ? undefined : 'task failed (details hidden by no_log)' } : {}),
  });
  run.results.push(result);
  run.emit({ kind: 'host-task', result });
  return r.status;
}

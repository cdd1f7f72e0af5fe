/**
 * Rollback: replay a host's undo records in reverse, from the journal alone. Each record's steps come
 * from its module's rollback(undo). A record whose apply never completed (the controller or the
 * connection died mid-step) is replayed best-effort, and its verify steps decide: if the file is
 * already as recorded, nothing was lost. Verify failures are never ignored.
 */
import { describeError, RollbackError } from '../errors.js';
import { findTask } from '../tasks/index.js';
import { describeStep } from '../tasks/steps.js';
import type { Step, StepApi } from '../tasks/steps.js';
import { applyStep } from './apply.js';
import type { ApplyOutcome } from './apply.js';
import type { Connector } from './context.js';
import type { EventSink } from './events.js';
import { pendingUndo, readJournal } from './journal.js';
import type { Journal } from './journal.js';
import type { Redactor } from '../report/redact.js';

export interface RollbackDeps {
  runId: string;
  journal: Journal;
  connector: Connector;
  emit: EventSink;
  redactor: Redactor;
  signal: AbortSignal;
  /** Host vars for the rollback context (modules may read them). */
  hostVars(host: string): Record<string, unknown>;
}

export interface PlannedRollback {
  host: string;
  records: Array<{ seq: number; task: string; where: string; target: string; applied: boolean; steps: Step[] }>;
}

/** What rolling back a host would do (rollback --check prints this). */
export function planRollback(deps: Pick<RollbackDeps, 'journal' | 'runId' | 'hostVars'>, host: string): PlannedRollback {
  // Records that restart or reload a service run last, after every file is restored, so the service
  // rereads the restored files (a module marks them with `after_restore: true` in its undo data).
  const all = pendingUndo(readJournal(deps.journal.path), host);
  const records = [...all.filter((r) => r.undo.after_restore !== true), ...all.filter((r) => r.undo.after_restore === true)];
  return {
    host,
    records: records.map((r) => {
      const module = findTask(r.module);
      if (module === undefined) throw new RollbackError(`journal names an unknown module ${r.module}`, { host, task: r.task });
      const steps = module.rollback(r.undo, { host: { name: host, vars: deps.hostVars(host) }, runId: deps.runId });
      return { seq: r.seq, task: r.task, where: r.where, target: r.target, applied: r.applied, steps };
    }),
  };
}

/** Roll one host back. Returns true when every record was undone and verified. */
export async function rollbackHost(deps: RollbackDeps, host: string, reason: string): Promise<boolean> {
  let plan: PlannedRollback;
  try {
    plan = planRollback(deps, host);
  } catch (e) {
    deps.emit({ kind: 'rollback-end', host, ok: false, error: deps.redactor.redact(describeError(e)) });
    return false;
  }
  deps.emit({ kind: 'rollback-start', host, records: plan.records.length, reason });
  const conns = new Map<string, Awaited<ReturnType<Connector['get']>>>();
  const connFor = async (name: string) => {
    let c = conns.get(name);
    if (c === undefined) {
      c = await deps.connector.reconnect(name);
      conns.set(name, c);
    }
    return c;
  };
  try {
    for (const rec of plan.records) {
      const conn = await connFor(rec.target);
      const api: StepApi = { conn, connectionFor: connFor, captures: new Map(), signal: deps.signal, addSecret: (v) => deps.redactor.add(v) };
      const out: ApplyOutcome = { callResults: {} };
      for (const step of rec.steps) {
        try {
          await applyStep(step, api, out);
          deps.emit({ kind: 'rollback-step', host, step: deps.redactor.redact(describeStep(step)), ok: true });
        } catch (e) {
          const tolerated = !rec.applied && step.kind !== 'verify';
          deps.emit({ kind: 'rollback-step', host, step: deps.redactor.redact(describeStep(step)), ok: tolerated, error: deps.redactor.redact(describeError(e)) });
          if (!tolerated) throw new RollbackError(`rollback of "${rec.task}" (${rec.where}) failed: ${describeError(e)}`, { host, cause: e });
        }
      }
      deps.journal.append({ t: 'undone', seq: rec.seq, host, at: new Date().toISOString() });
    }
  } catch (e) {
    const msg = deps.redactor.redact(describeError(e));
    deps.journal.append({ t: 'host', host, state: 'rollback-failed', error: msg, at: new Date().toISOString() });
    deps.emit({ kind: 'rollback-end', host, ok: false, error: msg });
    return false;
  }
  deps.journal.append({ t: 'host', host, state: 'rolled-back', at: new Date().toISOString() });
  deps.emit({ kind: 'rollback-end', host, ok: true });
  return true;
}

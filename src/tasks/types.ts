/**
 * The task module contract (plan, then apply). A module reads the host through a Probe and returns
 * a Plan: steps as data, the undo data rollback needs, a diff, and a reason when nothing changes.
 * The runner journals the undo, then applies the steps; check mode stops before applying.
 */
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import type { Probe } from '../transport/types.js';
import type { Step } from './steps.js';

/** JSON-serializable undo data; each module defines its own shape. */
export type UndoData = { readonly [key: string]: unknown };

export interface FileDiff {
  path: string;
  before: string;
  after: string;
  /** Content is secret: reporters print "(secret content changed)" instead of a diff. */
  secret?: boolean;
}

export interface Plan {
  changed: boolean;
  /** Why nothing changes (required when `changed` is false), or a one-line summary of the change. */
  reason?: string;
  steps: Step[];
  undo?: UndoData;
  diff?: FileDiff[];
  /**
   * In check mode, the plan depends on the output of an earlier task that did not run
   * ("would change, depends on <task>"). The runner shows it as changed and applies nothing.
   */
  dependsOn?: string;
  /** Facts to register (merged into the task's registered result). */
  result?: Record<string, unknown>;
  /** The plan found the host in a state the task must fail on (assert, verify, preflight). */
  failed?: string;
  /** The task is waiting for something outside the run (an external CA's signature). */
  waiting?: string;
}

/** Host facts the task sees. */
export interface HostView {
  name: string;
  vars: Readonly<Record<string, unknown>>;
}

export interface TaskContext<A> {
  args: A;
  host: HostView;
  /** Read-only view of the target host. */
  probe: Probe;
  /** Read-only view of another inventory host (a CA host) or 'localhost' (the controller). */
  probeHost(name: string): Promise<Probe>;
  check: boolean;
  runId: string;
  /** Per-run backup directory on this host (created by the runner's backup steps as needed). */
  backupDir: string;
  /** Unique, filesystem-safe key of this task instance (play/task/loop index). */
  taskKey: string;
  /** Controller-side directory of this run (.fleetplay/runs/<id>), for exported CSRs and the like. */
  runDir: string;
  /** Registered results of earlier tasks on this host, by register name. */
  registered: Readonly<Record<string, unknown>>;
  /** Mark a value as secret so every output masks it. */
  addSecret(value: string): void;
  signal: AbortSignal;
  /**
   * A TCP stream to host:port as seen from this host (its Connection.forwardTcp), for read-only
   * database probes through an SSH tunnel during plan. Absent: connect from the controller.
   */
  openTcp?(host: string, port: number): Promise<Duplex>;
}

export interface RollbackContext {
  host: HostView;
  runId: string;
}

export interface TaskDefinition<S extends z.ZodType> {
  /** The keyword users write in YAML. */
  name: string;
  /** Other keywords accepted for the same module (e.g. `ansible.builtin.copy`). */
  aliases?: string[];
  /** Checked when the playbook loads, before any host is touched. */
  args: S;
  /** If a bare scalar is given (`command: ls -l`), the arg key it maps to. */
  freeForm?: string;
  /** False: the module cannot plan honestly; check mode shows it as skipped. */
  checkMode?: boolean;
  /** Arg names whose values are secret (masked everywhere). */
  secretArgs?: string[];
  /**
   * Args that are Jinja expressions (like `assert: that:`): the runner evaluates each (a string or a
   * list of strings) to booleans and passes the original text as `<arg>_text`.
   */
  expressionArgs?: string[];
  plan(ctx: TaskContext<z.infer<S>>): Promise<Plan>;
  /** The steps that put the host back, from the recorded undo data alone. */
  rollback?(undo: UndoData, ctx: RollbackContext): Step[];
}

export interface TaskModule {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly args: z.ZodType;
  readonly freeForm: string | undefined;
  readonly checkMode: boolean;
  readonly secretArgs: readonly string[];
  readonly expressionArgs: readonly string[];
  plan(ctx: TaskContext<unknown>): Promise<Plan>;
  rollback(undo: UndoData, ctx: RollbackContext): Step[];
}

export function defineTask<S extends z.ZodType>(def: TaskDefinition<S>): TaskModule {
  return {
    name: def.name,
    aliases: def.aliases ?? [],
    args: def.args,
    freeForm: def.freeForm,
    checkMode: def.checkMode ?? true,
    secretArgs: def.secretArgs ?? [],
    expressionArgs: def.expressionArgs ?? [],
    plan: def.plan as (ctx: TaskContext<unknown>) => Promise<Plan>,
    rollback: def.rollback ?? (() => []),
  };
}

/** A plan that changes nothing, with its reason. */
export function noChange(reason: string, result?: Record<string, unknown>): Plan {
  return result === undefined ? { changed: false, reason, steps: [] } : { changed: false, reason, steps: [], result };
}

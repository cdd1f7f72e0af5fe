/**
 * A tiny step interpreter over FakeHost, only for unit tests: it applies planned steps to the
 * in-memory filesystem the way the real runner applies them over a Connection, so a test can
 * check "apply, then roll back, and the file is back byte for byte with its mode". Plus a helper
 * that builds a TaskContext around a FakeHost and parses args through the module's schema.
 */
import { posix } from 'node:path';
import { createHash } from 'node:crypto';
import type { Step, StepApi } from '../../src/tasks/steps.js';
import type { Plan, TaskContext, TaskModule } from '../../src/tasks/types.js';
import type { FakeHost } from './fake-probe.js';

export interface ApplyOptions {
  captures?: Map<string, string>;
  others?: Record<string, FakeHost>;
  secrets?: string[];
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function applyFakeSteps(host: FakeHost, steps: readonly Step[], o: ApplyOptions = {}): Promise<Map<string, string>> {
  const captures = o.captures ?? new Map<string, string>();
  for (const step of steps) {
    const h = step.kind !== 'call' && step.host !== undefined ? (o.others?.[step.host] ?? host) : host;
    switch (step.kind) {
      case 'exec': {
        const r = await h.exec(step.argv, { cwd: step.cwd, stdin: step.stdin, env: step.env });
        if (!(step.okExit ?? [0]).includes(r.exitCode)) throw new Error(`step failed: ${step.argv.join(' ')}: exit ${r.exitCode} ${r.stderr}`);
        if (step.capture !== undefined) captures.set(step.capture, r.stdout);
        break;
      }
      case 'write': {
        const data =
          step.content !== undefined
            ? Buffer.from(step.content, 'utf8')
            : step.contentBase64 !== undefined
              ? Buffer.from(step.contentBase64, 'base64')
              : Buffer.from(captures.get(step.contentFrom ?? '') ?? '', 'utf8');
        await h.writeFileAtomic(step.path, data, { mode: step.mode, owner: step.owner, group: step.group });
        break;
      }
      case 'backup':
        h.dir(posix.dirname(step.to));
        h.copy(step.path, step.to);
        break;
      case 'mkdir': {
        h.requireParent(step.path);
        h.dir(step.path);
        const n = h.fs.get(posix.normalize(step.path));
        if (n !== undefined) {
          n.mode = step.mode;
          if (step.owner !== undefined) n.uid = h.userId(step.owner);
          if (step.group !== undefined) n.gid = h.userId(step.group);
        }
        break;
      }
      case 'remove':
        h.remove(step.path, step.recursive === true);
        break;
      case 'attrs': {
        const n = h.fs.get(h.resolve(step.path));
        if (n === undefined) throw new Error(`attrs: ${step.path} does not exist`);
        if (step.mode !== undefined) n.mode = step.mode;
        if (step.owner !== undefined) n.uid = h.userId(step.owner);
        if (step.group !== undefined) n.gid = h.userId(step.group);
        break;
      }
      case 'rename':
        h.move(step.from, step.to);
        break;
      case 'verify': {
        const n = h.fs.get(posix.normalize(step.path));
        if (step.sha256 === null) {
          if (n !== undefined) throw new Error(`verify: ${step.path} should be absent`);
          break;
        }
        if (n === undefined || sha(n.content) !== step.sha256) throw new Error(`verify: ${step.path} checksum differs`);
        if (step.mode !== undefined && n.mode !== step.mode) throw new Error(`verify: ${step.path} mode differs`);
        if (step.uid !== undefined && n.uid !== step.uid) throw new Error(`verify: ${step.path} uid differs`);
        if (step.gid !== undefined && n.gid !== step.gid) throw new Error(`verify: ${step.path} gid differs`);
        break;
      }
      case 'call': {
        const api: StepApi = {
          conn: host,
          connectionFor: async (name) => o.others?.[name] ?? host,
          captures,
          signal: new AbortController().signal,
          addSecret: (v) => o.secrets?.push(v),
        };
        await step.run(api);
        break;
      }
    }
  }
  return captures;
}

export interface CtxOptions {
  check?: boolean;
  vars?: Record<string, unknown>;
  registered?: Record<string, unknown>;
  runDir?: string;
  secrets?: string[];
}

/** Parse `args` with the module's schema (throws on invalid) and build a context on `host`. */
export function makeCtx(mod: TaskModule, host: FakeHost, args: unknown, o: CtxOptions = {}): TaskContext<unknown> {
  const parsed = mod.args.parse(args);
  return {
    args: parsed,
    host: { name: host.host, vars: o.vars ?? {} },
    probe: host,
    probeHost: async () => host,
    check: o.check ?? false,
    runId: 'run1',
    backupDir: '/var/backups/fleetplay/run1',
    taskKey: 't1',
    runDir: o.runDir ?? '/tmp/fleetplay-test-run',
    registered: o.registered ?? {},
    addSecret: (v) => o.secrets?.push(v),
    signal: new AbortController().signal,
  };
}

export async function planOn(mod: TaskModule, host: FakeHost, args: unknown, o: CtxOptions = {}): Promise<Plan> {
  return mod.plan(makeCtx(mod, host, args, o));
}

/** Plan, apply, and return the plan; then `rollbackOn` undoes it. */
export async function planAndApply(mod: TaskModule, host: FakeHost, args: unknown, o: CtxOptions = {}): Promise<Plan> {
  const plan = await planOn(mod, host, args, o);
  if (plan.failed !== undefined) throw new Error(`plan failed: ${plan.failed}`);
  await applyFakeSteps(host, plan.steps);
  return plan;
}

export async function rollbackOn(mod: TaskModule, host: FakeHost, plan: Plan): Promise<Step[]> {
  const steps = mod.rollback(JSON.parse(JSON.stringify(plan.undo ?? {})), { host: { name: host.host, vars: {} }, runId: 'run1' });
  await applyFakeSteps(host, steps);
  return steps;
}

/**
 * The shared plan of `command` and `shell`: skip when `creates` exists or `removes` is absent,
 * otherwise one exec step whose stdout is captured. The runner registers rc, stdout, stderr and
 * stdout_lines from that exec's CommandResult. Not idempotent by itself, and not rollback-able.
 */
import { posix } from 'node:path';
import type { Plan, TaskContext } from '../types.js';
import type { ExecStep } from '../steps.js';
import { quoteArg } from '../../shell/quote.js';

export interface RunOptions {
  creates?: string | undefined;
  removes?: string | undefined;
  chdir?: string | undefined;
  stdin?: string | undefined;
  env?: Record<string, string> | undefined;
}

/** The capture name of the command's stdout; the runner registers the exec's full result. */
export const RUN_CAPTURE = 'stdout';

/** A command line for display only (labels, reasons): plain words stay plain, even with a leading dash. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : quoteArg(a))).join(' ');
}

function resolveIn(chdir: string | undefined, p: string): string {
  return chdir !== undefined && !p.startsWith('/') ? posix.join(chdir, p) : p;
}

export async function planRun(ctx: TaskContext<unknown>, argv: string[], o: RunOptions): Promise<Plan> {
  const cmdline = displayArgv(argv);
  if (o.creates !== undefined) {
    const p = resolveIn(o.chdir, o.creates);
    if ((await ctx.probe.stat(p)) !== null) {
      return { changed: false, reason: `skipped, since ${p} exists`, steps: [], result: { cmd: argv, rc: 0, stdout: '', stderr: '', stdout_lines: [] } };
    }
  }
  if (o.removes !== undefined) {
    const p = resolveIn(o.chdir, o.removes);
    if ((await ctx.probe.stat(p)) === null) {
      return { changed: false, reason: `skipped, since ${p} does not exist`, steps: [], result: { cmd: argv, rc: 0, stdout: '', stderr: '', stdout_lines: [] } };
    }
  }
  const step: ExecStep = { kind: 'exec', argv, capture: RUN_CAPTURE, label: `run ${cmdline}` };
  if (o.chdir !== undefined) step.cwd = o.chdir;
  if (o.stdin !== undefined) step.stdin = o.stdin;
  if (o.env !== undefined && Object.keys(o.env).length > 0) step.env = o.env;
  return {
    changed: true,
    reason: `${ctx.check ? 'would run' : 'run'}: ${cmdline}`,
    steps: [step],
    result: { cmd: argv },
  };
}

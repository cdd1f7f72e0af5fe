/**
 * Applies a plan's steps through a host's Connection. This is the only place that turns step data
 * into changes on a host; check mode never reaches it.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { RollbackError, TaskError } from '../errors.js';
import type { Connection, CommandResult } from '../transport/types.js';
import { describeStep, explainFailure, formatMode } from '../tasks/steps.js';
import type { Step, StepApi } from '../tasks/steps.js';

export interface ApplyOutcome {
  /** The last exec result (for registered rc/stdout/stderr). */
  lastExec?: CommandResult;
  /** Results returned by call steps, merged. */
  callResults: Record<string, unknown>;
}

/** Backup copies are made under umask 077: nobody but the owner reads a backed-up key. */
const BACKUP_SCRIPT = 'umask 077 && mkdir -p -- "$1" && cp -p -- "$2" "$3"';

async function connFor(step: Step, api: StepApi): Promise<Connection> {
  return 'host' in step && step.host !== undefined ? api.connectionFor(step.host) : api.conn;
}

async function mustExec(conn: Connection, argv: string[], what: string, opts: Parameters<Connection['exec']>[1] = {}): Promise<CommandResult> {
  const r = await conn.exec(argv, { ...opts, signal: opts.signal });
  if (r.exitCode !== 0) throw new TaskError(`${what} failed on ${conn.host}: ${explainFailure(r)}`, { host: conn.host });
  return r;
}

/** Apply one step. Throws TaskError (or ConnectionError from the transport) on failure. */
export async function applyStep(step: Step, api: StepApi, out: ApplyOutcome): Promise<void> {
  if (step.kind === 'call') {
    const res = await step.run(api);
    if (res) Object.assign(out.callResults, res);
    return;
  }
  const conn = await connFor(step, api);
  const signal = api.signal;
  switch (step.kind) {
    case 'exec': {
      const r = await conn.exec(step.argv, {
        stdin: step.stdin,
        cwd: step.cwd,
        env: step.env,
        becomeUser: step.becomeUser,
        signal,
      });
      out.lastExec = r;
      const ok = step.okExit ?? [0];
      if (!ok.includes(r.exitCode) || r.signal !== null) {
        throw new TaskError(`${describeStep(step)} failed: ${explainFailure(r)}`, { host: conn.host });
      }
      if (step.capture) api.captures.set(step.capture, r.stdout);
      return;
    }
    case 'write': {
      let data: Buffer | string;
      if (step.contentFrom !== undefined) {
        const c = api.captures.get(step.contentFrom);
        if (c === undefined) throw new TaskError(`internal: no captured output named "${step.contentFrom}" for ${step.path}`, { host: conn.host });
        data = c;
      } else if (step.contentBase64 !== undefined) data = Buffer.from(step.contentBase64, 'base64');
      else data = step.content ?? '';
      await conn.writeFileAtomic(step.path, data, { mode: step.mode, owner: step.owner, group: step.group });
      return;
    }
    case 'backup':
      await mustExec(conn, ['sh', '-c', BACKUP_SCRIPT, 'sh', posix.dirname(step.to), step.path, step.to], `back up ${step.path}`, { signal });
      return;
    case 'mkdir': {
      await mustExec(conn, ['mkdir', '-p', '-m', formatMode(step.mode), '--', step.path], `create ${step.path}`, { signal });
      await mustExec(conn, ['chmod', formatMode(step.mode), '--', step.path], `chmod ${step.path}`, { signal });
      if (step.owner || step.group) {
        await mustExec(conn, ['chown', `${step.owner ?? ''}${step.group ? `:${step.group}` : ''}`, '--', step.path], `chown ${step.path}`, { signal });
      }
      return;
    }
    case 'remove': {
      const st = await conn.stat(step.path);
      if (st === null) return;
      const argv = st.type === 'directory' ? (step.recursive ? ['rm', '-rf', '--', step.path] : ['rmdir', '--', step.path]) : ['rm', '-f', '--', step.path];
      await mustExec(conn, argv, `remove ${step.path}`, { signal });
      return;
    }
    case 'attrs': {
      if (step.owner || step.group) {
        await mustExec(conn, ['chown', '-h', `${step.owner ?? ''}${step.group ? `:${step.group}` : ''}`, '--', step.path], `chown ${step.path}`, { signal });
      }
      if (step.mode !== undefined) await mustExec(conn, ['chmod', formatMode(step.mode), '--', step.path], `chmod ${step.path}`, { signal });
      return;
    }
    case 'rename':
      await mustExec(conn, ['mv', '-f', '-T', '--', step.from, step.to], `rename ${step.from}`, { signal });
      return;
    case 'verify':
      await verifyFile(conn, step);
      return;
  }
}

async function verifyFile(conn: Connection, step: Extract<Step, { kind: 'verify' }>): Promise<void> {
  const st = await conn.stat(step.path);
  if (step.sha256 === null) {
    if (st !== null) throw new RollbackError(`${step.path} should be absent but exists`, { host: conn.host });
    return;
  }
  if (st === null) throw new RollbackError(`${step.path} is missing after restore`, { host: conn.host });
  const data = await conn.readFile(step.path);
  const sum = data === null ? '' : createHash('sha256').update(data).digest('hex');
  const problems: string[] = [];
  if (sum !== step.sha256) problems.push(`sha256 ${sum.slice(0, 12)}… ≠ recorded ${step.sha256.slice(0, 12)}…`);
  if (step.mode !== undefined && st.mode !== step.mode) problems.push(`mode ${formatMode(st.mode)} ≠ recorded ${formatMode(step.mode)}`);
  if (step.uid !== undefined && st.uid !== step.uid) problems.push(`uid ${st.uid} ≠ recorded ${step.uid}`);
  if (step.gid !== undefined && st.gid !== step.gid) problems.push(`gid ${st.gid} ≠ recorded ${step.gid}`);
  if (problems.length > 0) {
    throw new RollbackError(`${step.path} does not match its recorded state: ${problems.join('; ')}`, {
      host: conn.host,
      hint: 'the file changed outside this run, or the backup was altered; inspect it by hand',
    });
  }
}

/** Apply steps in order; the first failure stops and is thrown (`out` keeps what ran, e.g. the failed exec). */
export async function applySteps(steps: readonly Step[], api: StepApi, out: ApplyOutcome = { callResults: {} }): Promise<ApplyOutcome> {
  for (const step of steps) {
    if (api.signal.aborted) throw new TaskError('cancelled before the next step');
    await applyStep(step, api, out);
  }
  return out;
}

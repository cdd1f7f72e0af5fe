/**
 * Running local commands for the lab (openssl, pg_ctl, runuser) as argv arrays, never through a
 * shell. A failure carries the exit code and the stderr tail so a broken lab says what broke.
 */
import { execFile } from 'node:child_process';
import { chown, chmod } from 'node:fs/promises';
import { TaskError } from '../errors.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Data for stdin. */
  input?: string;
  timeoutMs?: number;
  /** What the lab was doing, for the error message ("make the PEM CA"). */
  what?: string;
}

export interface RunOutput {
  stdout: string;
  stderr: string;
}

/** Run argv[0] with argv[1..]; rejects with a TaskError (exit code + stderr tail) on failure. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunOutput> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        env: opts.env === undefined ? process.env : { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) {
          const tail = String(stderr).trim().split('\n').slice(-5).join('\n');
          const code = typeof err.code === 'number' ? `exit ${err.code}` : String(err.code ?? err.signal ?? 'failed');
          reject(
            new TaskError(`${opts.what ?? 'lab command'} failed: ${argv.join(' ')}: ${code}${tail ? `: ${tail}` : ''}`, {
              task: 'lab',
              hint: 'check that the lab prerequisites (openssl, sshd, PostgreSQL 15, root) are present',
              cause: err,
            }),
          );
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Numeric uid/gid of a local user. */
export async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run(['id', '-u', user], { what: `look up user ${user}` })).stdout.trim());
  const gid = Number((await run(['id', '-g', user], { what: `look up user ${user}` })).stdout.trim());
  return { uid, gid };
}

/** chown + chmod a set of files to one owner and mode. */
export async function own(paths: readonly string[], ids: { uid: number; gid: number }, mode: number): Promise<void> {
  for (const p of paths) {
    await chown(p, ids.uid, ids.gid);
    await chmod(p, mode);
  }
}

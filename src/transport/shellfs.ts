/**
 * File operations done with a few standard commands (stat, cat, chmod, chown, mv) instead of SFTP:
 * used under become (SFTP runs as the login user) and by the local transport. Each operation is one
 * command with its data on stdin; the paths are arguments to a fixed `sh -c` script, never pasted
 * into it. Writes go to a temp file created 0600 (umask 077) in the target's directory, get their
 * final mode and owner, are fsynced, then renamed over the target (`mv -T`: a symlink there is
 * replaced, never followed); the temp file is removed on any failure.
 */
import { atomicTempPath } from './types.js';
import { posix } from 'node:path';
import { TaskError } from '../errors.js';
import type { FileType, RemoteStat, WriteOptions } from './types.js';

export interface RawResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs argv (already under become if needed) with optional stdin bytes. */
export type RawRunner = (argv: readonly string[], stdin?: Buffer) => Promise<RawResult>;

const MISSING = 44;
const STAT_FORMAT = '%F|%a|%u|%g|%U|%G|%s|%.3Y';

/** A temp name next to `path`, hidden and unique. */
export function tempPathFor(path: string): string {
  return atomicTempPath(path);
}

/** `chown` spec for owner and/or group, or null when neither is given. */
export function ownerSpec(opts: Pick<WriteOptions, 'owner' | 'group'>): string | null {
  if (opts.owner === undefined && opts.group === undefined) return null;
  return `${opts.owner ?? ''}${opts.group === undefined ? '' : `:${opts.group}`}`;
}

export function fileTypeOf(statType: string): FileType {
  if (statType === 'regular file' || statType === 'regular empty file') return 'file';
  if (statType === 'directory') return 'directory';
  if (statType === 'symbolic link') return 'symlink';
  return 'other';
}

/** Parse one line of `stat -c STAT_FORMAT`. */
export function parseStatLine(path: string, line: string): RemoteStat {
  const f = line.trim().split('|');
  if (f.length !== 8) throw new Error(`unexpected stat output: ${line.trim()}`);
  const [type, mode, uid, gid, owner, group, size, mtime] = f as [string, string, string, string, string, string, string, string];
  return {
    path,
    type: fileTypeOf(type),
    mode: parseInt(mode, 8),
    uid: Number(uid),
    gid: Number(gid),
    owner: owner === 'UNKNOWN' ? uid : owner,
    group: group === 'UNKNOWN' ? gid : group,
    size: Number(size),
    mtimeMs: Math.round(Number(mtime) * 1000),
  };
}

function failure(host: string, what: string, r: RawResult): TaskError {
  const tail = r.stderr.trim().split('\n').slice(-3).join('\n');
  return new TaskError(`${what} failed on ${host} (exit ${r.exitCode})${tail ? `: ${tail}` : ''}`, {
    host,
    hint: /Permission denied|Operation not permitted/.test(r.stderr)
      ? 'the login user lacks the rights: use become, or fix the ownership of the path'
      : 'check the path and its parent directory on the host',
  });
}

export async function shellStat(run: RawRunner, host: string, path: string): Promise<RemoteStat | null> {
  const script = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat -c '${STAT_FORMAT}' -- "$1"; else exit ${MISSING}; fi`;
  const r = await run(['sh', '-c', script, 'sh', path]);
  if (r.exitCode === MISSING) return null;
  if (r.exitCode !== 0) throw failure(host, `stat ${path}`, r);
  return parseStatLine(path, r.stdout.toString('utf8'));
}

export async function shellReadFile(run: RawRunner, host: string, path: string): Promise<Buffer | null> {
  const r = await run(['sh', '-c', `if [ -e "$1" ]; then exec cat -- "$1"; else exit ${MISSING}; fi`, 'sh', path]);
  if (r.exitCode === MISSING) return null;
  if (r.exitCode !== 0) throw failure(host, `read ${path}`, r);
  return r.stdout;
}

const WRITE_SCRIPT = [
  'tmp=$1; dst=$2; mode=$3; own=$4',
  'umask 077; set -C',
  `trap 'rm -f -- "$tmp"' EXIT`,
  // a temp file left by a run killed mid-write is removed first (rm never follows a link; set -C then refuses a new one)
  'rm -f -- "$tmp"; cat > "$tmp" && chmod -- "$mode" "$tmp" && { [ -z "$own" ] || chown -- "$own" "$tmp"; } && sync -- "$tmp" && mv -fT -- "$tmp" "$dst"',
].join('\n');

export async function shellWriteAtomic(run: RawRunner, host: string, path: string, data: Buffer | string, opts: WriteOptions): Promise<void> {
  const mode = (opts.mode & 0o7777).toString(8).padStart(4, '0');
  const argv = ['sh', '-c', WRITE_SCRIPT, 'sh', tempPathFor(path), path, mode, ownerSpec(opts) ?? ''];
  const r = await run(argv, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  if (r.exitCode !== 0) throw failure(host, `write ${path}`, r);
}

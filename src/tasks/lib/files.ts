/**
 * File snapshots and restores shared by every module that changes a file. The undo record holds
 * what the file was (absent, or content checksum + owner + mode) and where its backup lives on the
 * host; rollback restores from the backup atomically and then verifies the checksum.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { atomicTempPath } from '../../transport/types.js';
import type { Probe, RemoteStat } from '../../transport/types.js';
import type { Step } from '../steps.js';

export interface FileUndo {
  path: string;
  existed: boolean;
  type?: RemoteStat['type'];
  /** Backup copy on the host (regular files only). */
  backup?: string;
  sha256?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** For a symlink: its target. */
  linkTarget?: string;
}

export interface FileSnapshot {
  undo: FileUndo;
  /** Steps that take the backup (empty when the file does not exist). */
  steps: Step[];
  stat: RemoteStat | null;
  content: Buffer | null;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Where a file's backup goes: the run's backup dir, the task key, then the file's absolute path. */
export function backupPathFor(backupDir: string, taskKey: string, path: string): string {
  return posix.join(backupDir, taskKey, posix.resolve('/', path));
}

/** Read-only: record a file's state and plan its backup. */
export async function snapshotFile(
  probe: Probe,
  path: string,
  backupDir: string,
  taskKey: string,
): Promise<FileSnapshot> {
  const stat = await probe.stat(path);
  if (stat === null) return { undo: { path, existed: false }, steps: [], stat, content: null };
  const base = { path, existed: true, type: stat.type, mode: stat.mode, uid: stat.uid, gid: stat.gid };
  if (stat.type === 'symlink') {
    const r = await probe.exec(['readlink', '--', path]);
    return { undo: { ...base, linkTarget: r.stdout.replace(/\n$/, '') }, steps: [], stat, content: null };
  }
  if (stat.type !== 'file') return { undo: base, steps: [], stat, content: null };
  const content = await probe.readFile(path);
  const backup = backupPathFor(backupDir, taskKey, path);
  return {
    undo: { ...base, backup, sha256: content === null ? undefined : sha256(content) },
    steps: [{ kind: 'backup', path, to: backup }],
    stat,
    content,
  };
}

/** The steps that put a file back as its undo record says, ending with a checksum verification. */
export function restoreFileSteps(u: FileUndo): Step[] {
  // A run killed mid-write may have left the atomic write's temp file: remove it first.
  const leftover: Step = { kind: 'remove', path: atomicTempPath(u.path), recursive: false, label: `remove a leftover temp file of ${u.path}, if any` };
  if (!u.existed) {
    return [
      leftover,
      { kind: 'remove', path: u.path, recursive: false, label: `remove ${u.path} (it did not exist before)` },
      { kind: 'verify', path: u.path, sha256: null },
    ];
  }
  if (u.type === 'symlink' && u.linkTarget !== undefined) {
    const tmp = `${u.path}.fleetplay-restore`;
    return [
      { kind: 'exec', argv: ['ln', '-sfn', '--', u.linkTarget, tmp], label: `recreate link ${u.path} -> ${u.linkTarget}` },
      { kind: 'rename', from: tmp, to: u.path },
    ];
  }
  if (u.type === 'directory') {
    return u.mode === undefined ? [] : [{ kind: 'attrs', path: u.path, mode: u.mode, owner: String(u.uid), group: String(u.gid) }];
  }
  if (u.backup === undefined || u.sha256 === undefined) return [];
  const tmp = posix.join(posix.dirname(u.path), `.${posix.basename(u.path)}.fleetplay-restore`);
  return [
    leftover,
    { kind: 'exec', argv: ['cp', '-p', '--', u.backup, tmp], label: `restore ${u.path} from ${u.backup}` },
    { kind: 'rename', from: tmp, to: u.path },
    { kind: 'verify', path: u.path, sha256: u.sha256, mode: u.mode, uid: u.uid, gid: u.gid },
  ];
}

/** Parse an octal mode string ('0644', '644', 'u=rw' is not supported) to a number. */
export function parseMode(mode: string): number {
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`invalid file mode "${mode}": write it as a quoted octal string like '0644'`);
  return parseInt(mode, 8);
}

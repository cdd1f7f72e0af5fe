/**
 * Planning "this file should have exactly this content": shared by copy, lineinfile and ini.
 * Idempotent by sha256 + mode + owner/group; only attributes differing gives an AttrsStep, not a
 * rewrite. A rewrite is an atomic WriteStep after a backup (snapshotFile), with a diff for text
 * that is not secret. Rollback restores the backup (or removes a file that did not exist).
 */
import { posix } from 'node:path';
import type { FileDiff, Plan, UndoData } from '../types.js';
import type { Step, WriteStep } from '../steps.js';
import type { Probe } from '../../transport/types.js';
import { restoreFileSteps, sha256, type FileSnapshot, type FileUndo } from './files.js';
import { isText, looksSecret } from './secret.js';
import {
  attrsStep,
  attrsToChange,
  attrsUndoOf,
  describeChange,
  hasChanges,
  restoreAttrsSteps,
  type AttrsUndo,
} from './attrs.js';

export interface WantFile {
  path: string;
  content: Buffer;
  mode?: number;
  owner?: string;
  group?: string;
  /** Never diff or print the content. Content that looks like a private key is secret anyway. */
  secret?: boolean;
  /** Also keep a user-visible copy of the old file here (Ansible's `backup: yes`). */
  backupCopy?: string;
}

/** The parts of a TaskContext that planning a write needs. */
export interface WriteCtx {
  probe: Probe;
  backupDir: string;
  taskKey: string;
  check: boolean;
  addSecret(value: string): void;
}

/** Undo of a write: a whole file, or only attributes. `extra` lists copies to remove on rollback. */
export type WriteUndo =
  | { kind: 'file'; file: FileUndo; extra?: string[] }
  | { kind: 'attrs'; attrs: AttrsUndo[] };

export interface WriteWords {
  /** Summary when the content changes ("set agent_ssl_key in [PEM/agent]"). */
  change: string;
  /** Reason when the content is already right ("line already present"). */
  ok: string;
}

function makeDiff(path: string, before: Buffer | null, after: Buffer, secret: boolean): FileDiff[] {
  if (secret) return [{ path, before: '', after: '', secret: true }];
  if ((before !== null && !isText(before)) || !isText(after)) return [];
  return [{ path, before: before === null ? '' : before.toString('utf8'), after: after.toString('utf8') }];
}

/** Plan writing `want` over what `snap` found. */
export async function planWrite(ctx: WriteCtx, snap: FileSnapshot, want: WantFile, words: WriteWords): Promise<Plan> {
  const { stat } = snap;
  const secret = want.secret === true || looksSecret(want.content) || (snap.content !== null && looksSecret(snap.content));
  if (secret && want.content.length > 0) ctx.addSecret(want.content.toString('utf8'));

  if (stat !== null && stat.type === 'directory') {
    return { changed: false, steps: [], failed: `${want.path} is a directory, not a file` };
  }
  if (stat !== null && stat.type === 'other') {
    return { changed: false, steps: [], failed: `${want.path} exists and is not a regular file` };
  }

  if (stat !== null && stat.type === 'file' && snap.content !== null && sha256(snap.content) === sha256(want.content)) {
    const change = attrsToChange(stat, want);
    if (!hasChanges(change)) return { changed: false, reason: words.ok, steps: [] };
    const undo: WriteUndo = { kind: 'attrs', attrs: [attrsUndoOf(stat)] };
    return {
      changed: true,
      reason: `${want.path}: content already right; ${describeChange(stat, change)}`,
      steps: [attrsStep(want.path, change)],
      undo: undo as unknown as UndoData,
    };
  }

  if (stat === null) {
    const dir = posix.dirname(want.path);
    const parent = await ctx.probe.stat(dir);
    if (parent === null) {
      if (ctx.check) {
        return {
          changed: true,
          reason: `would write ${want.path}; its directory ${dir} does not exist yet`,
          steps: [],
          dependsOn: `an earlier task that creates ${dir}`,
        };
      }
      return { changed: false, steps: [], failed: `cannot write ${want.path}: directory ${dir} does not exist (create it first with a file task, state: directory)` };
    }
  }

  const existingFile = stat !== null && stat.type === 'file';
  const mode = want.mode ?? (existingFile ? stat.mode & 0o7777 : secret ? 0o600 : 0o644);
  const owner = want.owner ?? (existingFile ? stat.owner || String(stat.uid) : undefined);
  const group = want.group ?? (existingFile ? stat.group || String(stat.gid) : undefined);
  const text = isText(want.content);
  const write: WriteStep = { kind: 'write', path: want.path, mode };
  if (text) write.content = want.content.toString('utf8');
  else write.contentBase64 = want.content.toString('base64');
  if (owner !== undefined) write.owner = owner;
  if (group !== undefined) write.group = group;
  if (secret) write.secret = true;

  const steps: Step[] = [...snap.steps];
  const undo: WriteUndo = { kind: 'file', file: snap.undo };
  if (want.backupCopy !== undefined && existingFile) {
    steps.push({ kind: 'backup', path: want.path, to: want.backupCopy, label: `keep a copy of ${want.path} at ${want.backupCopy}` });
    undo.extra = [want.backupCopy];
  }
  steps.push(write);
  return {
    changed: true,
    reason: words.change,
    steps,
    undo: undo as unknown as UndoData,
    diff: makeDiff(want.path, snap.content, want.content, secret),
    result: want.backupCopy !== undefined && existingFile ? { backup_file: want.backupCopy } : undefined,
  };
}

/** Rollback of a planWrite: restore the file or its attributes, and remove the extra copies. */
export function rollbackWrite(undo: UndoData): Step[] {
  const u = undo as unknown as WriteUndo;
  if (u.kind === 'attrs') return restoreAttrsSteps(u.attrs);
  if (u.kind !== 'file') return [];
  const steps = restoreFileSteps(u.file);
  for (const p of u.extra ?? []) steps.push({ kind: 'remove', path: p, label: `remove the copy ${p}` });
  return steps;
}

/** The file args shared by the line-editing modules (lineinfile, ini). */
export interface EditedFileArgs {
  path: string;
  mode?: number;
  owner?: string;
  group?: string;
  backup?: boolean;
}

/** Plan writing an edited text file: the edit's message is the reason either way. */
export function planTextEdit(ctx: WriteCtx & { runId: string }, snap: FileSnapshot, a: EditedFileArgs, edit: { content: string; message: string }): Promise<Plan> {
  return planWrite(
    ctx,
    snap,
    {
      path: a.path,
      content: Buffer.from(edit.content, 'utf8'),
      mode: a.mode,
      owner: a.owner,
      group: a.group,
      backupCopy: a.backup ? `${a.path}.${ctx.runId}~` : undefined,
    },
    { change: `${a.path}: ${edit.message}`, ok: `${a.path}: ${edit.message}` },
  );
}

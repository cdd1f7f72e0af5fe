/**
 * `file`: make a path a file (attributes only), a directory (with missing parents), absent, a
 * touched file, or a symlink; set mode/owner/group, recursively for directories with `recurse`.
 * Idempotent: an existing path in the wanted state with the wanted attributes is "ok", with a reason.
 * Undo records the prior state (existed, type, mode, owner, group; a backup for a removed file or,
 * with `force`, a removed tree) and rollback restores exactly that. Removing a non-empty directory
 * is refused unless `force: true`.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { defineTask, type Plan, type UndoData } from './types.js';
import type { Step } from './steps.js';
import type { Probe, RemoteStat } from '../transport/types.js';
import { boolArg, modeArg, ownerArg, pathArg, withAliases } from './lib/args.js';
import { backupPathFor, restoreFileSteps, snapshotFile, type FileUndo } from './lib/files.js';
import {
  attrsStep,
  attrsToChange,
  attrsUndoOf,
  describeAttrs,
  describeChange,
  hasChanges,
  restoreAttrsSteps,
  type AttrsUndo,
  type WantAttrs,
} from './lib/attrs.js';

export const fileArgs = withAliases(
  { dest: 'path', name: 'path' },
  z
    .strictObject({
      path: pathArg,
      state: z.enum(['file', 'directory', 'absent', 'touch', 'link']).default('file'),
      mode: modeArg.optional(),
      owner: ownerArg.optional(),
      group: ownerArg.optional(),
      src: pathArg.optional(),
      recurse: boolArg.default(false),
      force: boolArg.default(false),
    })
    .refine((a) => a.state !== 'link' || a.src !== undefined, { error: 'state: link needs src (the link target)', path: ['src'] })
    .refine((a) => !a.recurse || a.state === 'directory', { error: 'recurse only applies to state: directory', path: ['recurse'] }),
);

type FileArgs = z.infer<typeof fileArgs>;

/** What rollback needs, by what the plan did. */
export type FileTaskUndo =
  | { kind: 'created-dirs'; dirs: string[] }
  | { kind: 'attrs'; attrs: AttrsUndo[] }
  | { kind: 'file'; file: FileUndo }
  | { kind: 'empty-dir'; path: string; mode: number; uid: number; gid: number }
  | { kind: 'tree'; path: string; backup: string }
  | { kind: 'touch'; path: string; mtimeMs: number; attrs: AttrsUndo };

function undo(u: FileTaskUndo): UndoData {
  return u as unknown as UndoData;
}

function fail(msg: string): Plan {
  return { changed: false, steps: [], failed: msg };
}

function wantAttrs(a: FileArgs): WantAttrs {
  return { mode: a.mode, owner: a.owner, group: a.group };
}

/** Attributes of `path` (already stat'ed) → ok, or an AttrsStep with its undo. */
function planAttrs(stat: RemoteStat, want: WantAttrs, okWhat: string): Plan {
  const change = attrsToChange(stat, want);
  if (!hasChanges(change)) return { changed: false, reason: `${stat.path} ${okWhat} with ${describeAttrs(stat)}`, steps: [] };
  return {
    changed: true,
    reason: `${stat.path}: ${describeChange(stat, change)}`,
    steps: [attrsStep(stat.path, change)],
    undo: undo({ kind: 'attrs', attrs: [attrsUndoOf(stat)] }),
  };
}

async function planDirectory(probe: Probe, a: FileArgs, stat: RemoteStat | null): Promise<Plan> {
  if (stat !== null && stat.type !== 'directory') return fail(`${a.path} exists and is a ${stat.type}, not a directory`);
  if (stat === null) {
    const missing: string[] = [];
    let p = posix.resolve('/', a.path);
    while (p !== '/' && (await probe.stat(p)) === null) {
      missing.unshift(p);
      p = posix.dirname(p);
    }
    const steps: Step[] = missing.map((d) => {
      const s: Step = { kind: 'mkdir', path: d, mode: a.mode ?? 0o755 };
      if (a.owner !== undefined) s.owner = a.owner;
      if (a.group !== undefined) s.group = a.group;
      return s;
    });
    return { changed: true, reason: `create directory ${missing.join(', ')}`, steps, undo: undo({ kind: 'created-dirs', dirs: missing }) };
  }
  if (!a.recurse) return planAttrs(stat, wantAttrs(a), 'is a directory');
  const entries = [stat, ...(await listTree(probe, a.path))];
  const steps: Step[] = [];
  const prior: AttrsUndo[] = [];
  for (const e of entries) {
    if (e.type === 'symlink') continue;
    const change = attrsToChange(e, wantAttrs(a));
    if (!hasChanges(change)) continue;
    steps.push(attrsStep(e.path, change));
    prior.push(attrsUndoOf(e));
  }
  if (steps.length === 0) return { changed: false, reason: `${a.path} and its ${entries.length - 1} entries already have the wanted attributes`, steps: [] };
  return { changed: true, reason: `set attributes on ${steps.length} entries under ${a.path}`, steps, undo: undo({ kind: 'attrs', attrs: prior }) };
}

/** The format `find -printf` uses for listTree: mode, uid, gid, user, group, type, path; NUL-ended. */
export const FIND_TREE_FORMAT = '%m\\t%U\\t%G\\t%u\\t%g\\t%y\\t%p\\0';

/** lstat-like entries of everything below `dir` (not `dir` itself). */
export async function listTree(probe: Probe, dir: string): Promise<RemoteStat[]> {
  const r = await probe.exec(['find', dir, '-mindepth', '1', '-printf', FIND_TREE_FORMAT]);
  if (r.exitCode !== 0) throw new Error(`find ${dir} failed: ${r.stderr.trim()}`);
  const out: RemoteStat[] = [];
  for (const rec of r.stdout.split('\0')) {
    if (rec === '') continue;
    const f = rec.split('\t');
    if (f.length < 7) continue;
    const type = f[5] === 'd' ? 'directory' : f[5] === 'f' ? 'file' : f[5] === 'l' ? 'symlink' : 'other';
    out.push({
      path: f.slice(6).join('\t'),
      mode: parseInt(f[0] ?? '0', 8),
      uid: Number(f[1]),
      gid: Number(f[2]),
      owner: f[3] ?? '',
      group: f[4] ?? '',
      type,
      size: 0,
      mtimeMs: 0,
    });
  }
  return out;
}

async function planAbsent(probe: Probe, a: FileArgs, stat: RemoteStat | null, backupDir: string, taskKey: string): Promise<Plan> {
  if (stat === null) return { changed: false, reason: `${a.path} is already absent`, steps: [] };
  if (stat.type === 'directory') {
    const r = await probe.exec(['find', a.path, '-mindepth', '1', '-maxdepth', '1', '-print', '-quit']);
    const empty = r.exitCode === 0 && r.stdout.trim() === '';
    if (empty) {
      return {
        changed: true,
        reason: `remove empty directory ${a.path}`,
        steps: [{ kind: 'exec', argv: ['rmdir', '--', a.path], label: `remove empty directory ${a.path}` }],
        undo: undo({ kind: 'empty-dir', path: a.path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid }),
      };
    }
    if (!a.force) return fail(`${a.path} is a directory that is not empty; set force: true to remove it with everything in it`);
    const backup = backupPathFor(backupDir, taskKey, a.path);
    return {
      changed: true,
      reason: `remove directory ${a.path} and its contents (kept at ${backup})`,
      steps: [
        { kind: 'exec', argv: ['mkdir', '-p', '--', posix.dirname(backup)], label: `prepare ${posix.dirname(backup)}` },
        { kind: 'exec', argv: ['cp', '-a', '--', a.path, backup], label: `back up ${a.path} to ${backup}` },
        { kind: 'remove', path: a.path, recursive: true },
      ],
      undo: undo({ kind: 'tree', path: a.path, backup }),
    };
  }
  const snap = await snapshotFile(probe, a.path, backupDir, taskKey);
  return {
    changed: true,
    reason: `remove ${stat.type} ${a.path}`,
    steps: [...snap.steps, { kind: 'remove', path: a.path, recursive: false }],
    undo: undo({ kind: 'file', file: snap.undo }),
  };
}

function planTouch(a: FileArgs, stat: RemoteStat | null): Plan {
  if (stat === null) {
    const step: Step = { kind: 'write', path: a.path, content: '', mode: a.mode ?? 0o644 };
    if (a.owner !== undefined) step.owner = a.owner;
    if (a.group !== undefined) step.group = a.group;
    return { changed: true, reason: `create empty file ${a.path}`, steps: [step], undo: undo({ kind: 'file', file: { path: a.path, existed: false } }) };
  }
  const steps: Step[] = [{ kind: 'exec', argv: ['touch', '--', a.path], label: `update the timestamps of ${a.path}` }];
  const change = attrsToChange(stat, wantAttrs(a));
  if (hasChanges(change)) steps.push(attrsStep(a.path, change));
  return { changed: true, reason: `touch ${a.path}`, steps, undo: undo({ kind: 'touch', path: a.path, mtimeMs: stat.mtimeMs, attrs: attrsUndoOf(stat) }) };
}

async function planLink(probe: Probe, a: FileArgs, backupDir: string, taskKey: string): Promise<Plan> {
  const src = a.src ?? '';
  const snap = await snapshotFile(probe, a.path, backupDir, taskKey);
  const st = snap.stat;
  if (st !== null && st.type === 'symlink' && snap.undo.linkTarget === src) {
    return { changed: false, reason: `${a.path} already links to ${src}`, steps: [] };
  }
  if (st !== null && st.type === 'directory') return fail(`${a.path} is a directory; it will not be replaced by a link`);
  if (st !== null && st.type !== 'symlink' && !a.force) return fail(`${a.path} exists and is a ${st.type}; set force: true to replace it with a link`);
  const tmp = posix.join(posix.dirname(a.path), `.${posix.basename(a.path)}.fleetplay-link`);
  return {
    changed: true,
    reason: st === null ? `link ${a.path} -> ${src}` : `relink ${a.path} -> ${src}`,
    steps: [
      ...snap.steps,
      { kind: 'exec', argv: ['ln', '-sfn', '--', src, tmp], label: `link ${a.path} -> ${src}` },
      { kind: 'rename', from: tmp, to: a.path },
    ],
    undo: undo({ kind: 'file', file: snap.undo }),
  };
}

export const fileTask = defineTask({
  name: 'file',
  aliases: ['ansible.builtin.file'],
  args: fileArgs,
  async plan(ctx) {
    const a = ctx.args;
    const stat = await ctx.probe.stat(a.path);
    switch (a.state) {
      case 'file':
        if (stat === null) return fail(`${a.path} does not exist (state: file only changes attributes; use state: touch or copy to create it)`);
        if (stat.type !== 'file') return fail(`${a.path} is a ${stat.type}, not a regular file`);
        return planAttrs(stat, wantAttrs(a), 'is a file');
      case 'directory':
        return planDirectory(ctx.probe, a, stat);
      case 'absent':
        return planAbsent(ctx.probe, a, stat, ctx.backupDir, ctx.taskKey);
      case 'touch':
        return planTouch(a, stat);
      case 'link':
        return planLink(ctx.probe, a, ctx.backupDir, ctx.taskKey);
    }
  },
  rollback(data) {
    const u = data as unknown as FileTaskUndo;
    switch (u.kind) {
      case 'created-dirs':
        return [...u.dirs].reverse().map((d) => ({ kind: 'exec', argv: ['rmdir', '--', d], label: `remove directory ${d} (it did not exist before)` }));
      case 'attrs':
        return restoreAttrsSteps(u.attrs);
      case 'file':
        return restoreFileSteps(u.file);
      case 'empty-dir':
        return [
          { kind: 'mkdir', path: u.path, mode: u.mode, owner: String(u.uid), group: String(u.gid) },
          { kind: 'attrs', path: u.path, mode: u.mode, owner: String(u.uid), group: String(u.gid) },
        ];
      case 'tree':
        return [{ kind: 'exec', argv: ['cp', '-a', '--', u.backup, u.path], label: `restore ${u.path} from ${u.backup}` }];
      case 'touch':
        return [
          { kind: 'exec', argv: ['touch', '-m', '-d', `@${(u.mtimeMs / 1000).toFixed(3)}`, '--', u.path], label: `restore the mtime of ${u.path}` },
          ...restoreAttrsSteps([u.attrs]),
        ];
      default:
        return [];
    }
  },
});

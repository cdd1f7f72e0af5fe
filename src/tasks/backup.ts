/**
 * `backup`: copy files (paths or globs, expanded on the host) into the run's backup directory, or
 * `dest`, preserving owner and mode, and register what was copied with its checksum. Changed the
 * first time in a run; a rerun in the same run finds the same copies and is "ok". Rollback removes
 * the copies it made, never the originals.
 */
import { z } from 'zod';
import { defineTask } from './types.js';
import type { Step } from './steps.js';
import { formatMode } from './steps.js';
import { boolArg, pathArg } from './lib/args.js';
import { backupPathFor, sha256 } from './lib/files.js';

export const backupArgs = z
  .strictObject({
    path: pathArg.optional(),
    paths: z.array(pathArg).min(1).optional(),
    dest: pathArg.optional(),
    /** A literal path (not a glob) that does not exist is an error unless this is on. */
    ignore_missing: boolArg.default(false),
  })
  .refine((a) => (a.path === undefined) !== (a.paths === undefined), { error: 'give exactly one of path or paths' });

/**
 * Expands each argument as a glob on the host (IFS empty: no word splitting) and prints the
 * existing matches NUL-separated. Patterns arrive as positional arguments, never in the script.
 */
export const GLOB_SCRIPT = 'IFS=; for p in "$@"; do for f in $p; do if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\\0" "$f"; fi; done; done';

const GLOB_CHARS = /[*?[]/;

export interface BackupEntry {
  path: string;
  backup: string;
  sha256: string;
  mode: string;
  owner: string;
  group: string;
}

export const backupTask = defineTask({
  name: 'backup',
  args: backupArgs,
  async plan(ctx) {
    const a = ctx.args;
    const patterns = a.paths ?? [a.path ?? ''];
    const r = await ctx.probe.exec(['sh', '-c', GLOB_SCRIPT, 'sh', ...patterns]);
    if (r.exitCode !== 0) return { changed: false, steps: [], failed: `expanding ${patterns.join(' ')} failed: exit ${r.exitCode} ${r.stderr.trim()}` };
    const found = [...new Set(r.stdout.split('\0').filter((s) => s !== ''))];
    const missing = patterns.filter((p) => !GLOB_CHARS.test(p) && !found.includes(p));
    if (missing.length > 0 && !a.ignore_missing) {
      return { changed: false, steps: [], failed: `nothing to back up at ${missing.join(', ')} (set ignore_missing: true if that is expected)` };
    }
    const root = a.dest ?? ctx.backupDir;
    const entries: BackupEntry[] = [];
    const steps: Step[] = [];
    const copies: string[] = [];
    for (const path of found) {
      const st = await ctx.probe.stat(path);
      if (st === null) continue;
      if (st.type === 'directory') return { changed: false, steps: [], failed: `${path} is a directory; back up its files (a glob like ${path}/*)` };
      if (st.type !== 'file') continue;
      const content = await ctx.probe.readFile(path);
      if (content === null) continue;
      const sum = sha256(content);
      const to = backupPathFor(root, ctx.taskKey, path);
      entries.push({ path, backup: to, sha256: sum, mode: formatMode(st.mode), owner: st.owner || String(st.uid), group: st.group || String(st.gid) });
      const existing = await ctx.probe.readFile(to);
      if (existing !== null && sha256(existing) === sum) continue;
      steps.push({ kind: 'backup', path, to });
      copies.push(to);
    }
    const result = { backups: entries };
    if (entries.length === 0) return { changed: false, reason: `no files match ${patterns.join(', ')}`, steps: [], result };
    if (steps.length === 0) return { changed: false, reason: `all ${entries.length} files are already backed up in this run under ${root}`, steps: [], result };
    return { changed: true, reason: `back up ${copies.length} file(s) to ${root}`, steps, undo: { copies }, result };
  },
  rollback(undo) {
    const copies = Array.isArray(undo.copies) ? (undo.copies as unknown[]).filter((c): c is string => typeof c === 'string') : [];
    return copies.map((p) => ({ kind: 'remove', path: p, recursive: false, label: `remove backup copy ${p}` }));
  },
});

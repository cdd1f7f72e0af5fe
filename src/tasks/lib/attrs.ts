/**
 * Owner/group/mode comparisons and their undo. A file whose content is right but whose attributes
 * are not gets an AttrsStep, never a rewrite; rollback sets the recorded numeric ids and mode back.
 */
import type { RemoteStat } from '../../transport/types.js';
import type { AttrsStep, Step } from '../steps.js';
import { formatMode } from '../steps.js';

export interface WantAttrs {
  mode?: number;
  owner?: string;
  group?: string;
}

/** What one path's attributes were, for rollback. */
export interface AttrsUndo {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

function sameUser(want: string, name: string, id: number): boolean {
  return want === name || want === String(id);
}

/** The attributes that differ from `want` (empty object when none). */
export function attrsToChange(stat: RemoteStat, want: WantAttrs): WantAttrs {
  const out: WantAttrs = {};
  if (want.mode !== undefined && (stat.mode & 0o7777) !== want.mode) out.mode = want.mode;
  if (want.owner !== undefined && !sameUser(want.owner, stat.owner, stat.uid)) out.owner = want.owner;
  if (want.group !== undefined && !sameUser(want.group, stat.group, stat.gid)) out.group = want.group;
  return out;
}

export function hasChanges(a: WantAttrs): boolean {
  return a.mode !== undefined || a.owner !== undefined || a.group !== undefined;
}

export function attrsUndoOf(stat: RemoteStat): AttrsUndo {
  return { path: stat.path, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
}

export function attrsStep(path: string, a: WantAttrs): AttrsStep {
  const step: AttrsStep = { kind: 'attrs', path };
  if (a.mode !== undefined) step.mode = a.mode;
  if (a.owner !== undefined) step.owner = a.owner;
  if (a.group !== undefined) step.group = a.group;
  return step;
}

export function restoreAttrsSteps(list: readonly AttrsUndo[]): Step[] {
  return list.map((u) => ({
    kind: 'attrs',
    path: u.path,
    mode: u.mode,
    owner: String(u.uid),
    group: String(u.gid),
    label: `restore ${u.path} to mode ${formatMode(u.mode)}, owner ${u.uid}:${u.gid}`,
  }));
}

/** "mode 0640, owner root:postgres" for reasons. */
export function describeAttrs(stat: RemoteStat): string {
  return `mode ${formatMode(stat.mode)}, owner ${stat.owner || stat.uid}:${stat.group || stat.gid}`;
}

/** "mode 0644 -> 0600, owner ..." for change summaries. */
export function describeChange(stat: RemoteStat, a: WantAttrs): string {
  const parts: string[] = [];
  if (a.mode !== undefined) parts.push(`mode ${formatMode(stat.mode)} -> ${formatMode(a.mode)}`);
  if (a.owner !== undefined) parts.push(`owner ${stat.owner || stat.uid} -> ${a.owner}`);
  if (a.group !== undefined) parts.push(`group ${stat.group || stat.gid} -> ${a.group}`);
  return parts.join(', ');
}

/**
 * Shared text formatting for reporters: one formatter per event kind, the recap, diffs.
 * Everything here receives already-redacted data.
 */
import type { FileDiff } from '../tasks/types.js';
import type { HostSummary, HostTaskResult, RunSummary } from '../runner/events.js';

export function formatResult(r: HostTaskResult, opts: { diff: boolean; check: boolean; verbose?: boolean }): string[] {
  const label = r.status === 'changed' && opts.check ? 'would change' : r.status;
  const item = r.item !== undefined ? ` (item=${r.item})` : '';
  const lines: string[] = [];
  // An error is printed whole (its fix is at the end); a reason is one line.
  const detail = r.error !== undefined ? (r.error.split('\n')[0] ?? '') : r.reason !== undefined ? oneLine(r.reason) : undefined;
  lines.push(`  ${label}: ${r.host}${item}${detail ? ` — ${detail}` : ''}`);
  if (r.error && r.error.includes('\n')) for (const l of r.error.split('\n').slice(1)) lines.push(`      ${l}`);
  if (opts.verbose && (r.status === 'changed' || r.status === 'failed') && r.steps) for (const s of r.steps) lines.push(`      - ${s}`);
  if (opts.diff && r.diff) for (const d of r.diff) lines.push(...formatDiff(d).map((l) => `      ${l}`));
  return lines;
}

function oneLine(s: string): string {
  const first = s.split('\n')[0] ?? '';
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

/** A unified-style line diff (small files: config, certificates' public parts). */
export function formatDiff(d: FileDiff): string[] {
  if (d.secret) return [`--- ${d.path}`, `+++ ${d.path}`, '(secret content changed; not shown)'];
  const a = d.before.split('\n');
  const b = d.after.split('\n');
  const out = [`--- ${d.path} (before)`, `+++ ${d.path} (after)`];
  // LCS-based diff, bounded: config files are small.
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) return [...out, `(${n} → ${m} lines; too large to diff)`];
  const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < m && (i >= n || dp[i]![j + 1]! >= dp[i + 1]![j]!)) {
      out.push(`+${b[j]}`);
      j++;
    } else {
      out.push(`-${a[i]}`);
      i++;
    }
  }
  return out;
}

export function formatRecapLine(h: HostSummary, width: number): string {
  return `${h.host.padEnd(width)} : ok=${h.ok} changed=${h.changed} failed=${h.failed} skipped=${h.skipped} unreachable=${h.unreachable} rolled_back=${h.rolledBack}  [${h.state}]`;
}

export function formatRecap(s: RunSummary): string[] {
  const width = Math.max(4, ...s.hosts.map((h) => h.host.length));
  const lines = ['', s.check ? 'CHECK RECAP (nothing was changed)' : 'PLAY RECAP'];
  for (const h of s.hosts) {
    lines.push(formatRecapLine(h, width));
    if (h.error && h.state !== 'ok' && h.state !== 'changed') lines.push(`${' '.repeat(width)}   ${oneLine(h.error)}`);
  }
  const count = (st: string) => s.hosts.filter((h) => h.state === st).length;
  const totals = ['ok', 'changed', 'failed', 'unreachable', 'rolled-back', 'rollback-failed', 'waiting', 'stopped']
    .map((st) => [st, count(st)] as const)
    .filter(([, c]) => c > 0)
    .map(([st, c]) => `${c} ${st}`)
    .join(', ');
  lines.push(`${s.hosts.length} hosts: ${totals || 'none'} in ${(s.durationMs / 1000).toFixed(1)}s — run ${s.runId} (${s.runDir})`);
  if (s.aborted) lines.push(`stopped: ${s.aborted}`);
  const somethingChanged = s.results.some((r) => r.status === 'changed');
  if (!s.check && s.hosts.some((h) => h.state === 'rollback-failed' || h.state === 'failed' || h.state === 'unreachable' || h.state === 'stopped')) {
    lines.push(
      somethingChanged
        ? `to undo what this run changed: fleetplay rollback ${s.runId}; to continue it: fleetplay resume ${s.runId}`
        : 'nothing was changed on any host',
    );
  }
  if (s.hosts.some((h) => h.state === 'waiting')) lines.push(`waiting hosts continue with: fleetplay resume ${s.runId}`);
  return lines;
}

/** The first line of a run. */
export function formatRunStart(e: { check: boolean; runId: string; playbook: string }): string {
  return `fleetplay ${e.check ? 'check (dry run: nothing will be changed)' : 'run'} ${e.runId} — ${e.playbook}`;
}

/** A play's header (with its batch when serial splits it). */
export function formatPlayStart(e: { play: string; batch: number; batches: number; hosts: readonly string[] }): string {
  return `PLAY [${e.play}]${e.batches > 1 ? ` batch ${e.batch}/${e.batches}` : ''} — ${e.hosts.length} host(s)`;
}

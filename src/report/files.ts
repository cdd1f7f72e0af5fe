/**
 * Machine-readable reports: --json (the full result) and --junit (one testcase per host and task).
 * Both are written from the redacted summary, with mode 0600.
 */
import { writeFileSync } from 'node:fs';
import type { RunSummary } from '../runner/events.js';

export function writeJsonReport(file: string, s: RunSummary): void {
  writeFileSync(file, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

export function junitXml(s: RunSummary): string {
  const byTask = new Map<string, typeof s.results>();
  for (const r of s.results) {
    const k = `${r.play} / ${r.task}`;
    byTask.set(k, [...(byTask.get(k) ?? []), r]);
  }
  const failures = s.results.filter((r) => r.status === 'failed' || r.status === 'unreachable').length;
  const out = [`<?xml version="1.0" encoding="UTF-8"?>`, `<testsuites name="fleetplay ${xml(s.runId)}" tests="${s.results.length}" failures="${failures}">`];
  for (const [name, rs] of byTask) {
    const f = rs.filter((r) => r.status === 'failed' || r.status === 'unreachable').length;
    out.push(`  <testsuite name="${xml(name)}" tests="${rs.length}" failures="${f}">`);
    for (const r of rs) {
      const t = (r.durationMs / 1000).toFixed(3);
      out.push(`    <testcase classname="${xml(r.host)}" name="${xml(r.task)}${r.item ? ` (${xml(r.item)})` : ''}" time="${t}">`);
      if (r.status === 'failed' || r.status === 'unreachable') out.push(`      <failure message="${xml(r.error ?? r.status)}">${xml(r.where)}</failure>`);
      else if (r.status === 'skipped') out.push(`      <skipped message="${xml(r.reason ?? '')}"/>`);
      else out.push(`      <system-out>${xml(`${r.status}${r.reason ? `: ${r.reason}` : ''}`)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export function writeJunitReport(file: string, s: RunSummary): void {
  writeFileSync(file, junitXml(s), { mode: 0o600 });
}

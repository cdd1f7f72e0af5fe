/**
 * The line reporter: for pipes, CI and logs (stdout not a TTY), and `-v`. Ansible-like sections;
 * ok/skipped hosts are counted, not listed, unless verbose, so 500 hosts stay readable.
 */
import type { Writable } from 'node:stream';
import type { EventSink, HostTaskResult, RunEvent } from '../runner/events.js';
import { formatPlayStart, formatRecap, formatResult, formatRunStart } from './format.js';

export interface ReporterOptions {
  out: Writable;
  diff: boolean;
  verbose: boolean;
}

export function createPlainReporter(o: ReporterOptions): EventSink {
  let check = false;
  let pending: HostTaskResult[] = [];
  let order = new Map<string, number>();
  const write = (lines: string[]) => o.out.write(lines.join('\n') + '\n');
  const flushTask = () => {
    if (pending.length === 0) return;
    const counts = new Map<string, number>();
    const lines: string[] = [];
    pending.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
    for (const r of pending) {
      counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      if (o.verbose || (r.status !== 'ok' && r.status !== 'skipped')) lines.push(...formatResult(r, { diff: o.diff, check, verbose: o.verbose }));
    }
    const summary = [...counts].map(([s, c]) => `${s}=${c}`).join(' ');
    write([...lines, `  (${summary})`]);
    pending = [];
  };
  return (e: RunEvent) => {
    switch (e.kind) {
      case 'run-start':
        check = e.check;
        write([formatRunStart(e)]);
        return;
      case 'play-start':
        write(['', formatPlayStart(e)]);
        return;
      case 'task-start':
        order = new Map(e.hosts.map((h, i) => [h, i]));
        write([`TASK [${e.task}]`]);
        return;
      case 'host-task':
        pending.push(e.result);
        return;
      case 'task-end':
        flushTask();
        return;
      case 'rollback-start':
        write([`ROLLBACK ${e.host}: ${e.records} record(s) — ${e.reason}`]);
        return;
      case 'rollback-step':
        if (o.verbose || !e.ok) write([`  ${e.ok ? 'ok' : 'FAILED'}: ${e.step}${e.error ? ` — ${e.error}` : ''}`]);
        return;
      case 'rollback-end':
        write([`  ${e.host}: ${e.ok ? 'rolled back, every restored file verified' : `ROLLBACK FAILED — ${e.error ?? ''}`}`]);
        return;
      case 'play-end':
        flushTask();
        return;
      case 'warning':
        write([`[WARNING]${e.host ? ` ${e.host}:` : ''} ${e.message}`]);
        return;
      case 'run-end':
        flushTask();
        write(formatRecap(e.summary));
        return;
    }
  };
}

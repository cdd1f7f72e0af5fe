/**
 * Live progress on a TTY with listr2. listr2 only displays: the runner owns the state (and the
 * multi-task rollback), and each task row shows per-host counts and names the failing hosts, so
 * 500 hosts stay one line per task. Free-strategy plays fall back to lines.
 */
import { Listr } from 'listr2';
import type { EventSink, HostTaskResult, RunEvent } from '../runner/events.js';
import { formatPlayStart, formatRecap, formatResult, formatRunStart } from './format.js';
import type { ReporterOptions } from './plain.js';

interface Row {
  title: string;
  results: HostTaskResult[];
  total: number;
  resolve: () => void;
  update: (title: string) => void;
  done: Promise<void>;
}

function countsTitle(r: Row, check: boolean): string {
  const c = (s: string) => r.results.filter((x) => x.status === s).length;
  const parts = [
    `ok=${c('ok')}`,
    `${check ? 'would-change' : 'changed'}=${c('changed')}`,
    c('failed') ? `failed=${c('failed')}` : '',
    c('unreachable') ? `unreachable=${c('unreachable')}` : '',
    c('skipped') ? `skipped=${c('skipped')}` : '',
    c('waiting') ? `waiting=${c('waiting')}` : '',
  ].filter(Boolean);
  const failing = r.results.filter((x) => x.status === 'failed' || x.status === 'unreachable').map((x) => x.host);
  const names = failing.length > 0 ? `  failing: ${failing.slice(0, 8).join(', ')}${failing.length > 8 ? ` +${failing.length - 8}` : ''}` : '';
  return `${r.title}  [${r.results.length}/${r.total}] ${parts.join(' ')}${names}`;
}

export function createProgressReporter(o: ReporterOptions): EventSink {
  let check = false;
  let row: Row | null = null;
  let running: Promise<unknown> = Promise.resolve();
  const write = (lines: string[]) => o.out.write(lines.join('\n') + '\n');
  const finish = () => {
    if (!row) return;
    const r = row;
    row = null;
    r.update(countsTitle(r, check));
    r.resolve();
    const details = r.results.filter((x) => o.verbose || (x.status !== 'ok' && x.status !== 'skipped'));
    running = running.then(() => {
      const lines = details.flatMap((x) => formatResult(x, { diff: o.diff, check, verbose: o.verbose }));
      if (lines.length > 0) write(lines);
    });
  };
  return (e: RunEvent) => {
    switch (e.kind) {
      case 'run-start':
        check = e.check;
        write([formatRunStart(e)]);
        return;
      case 'play-start':
        running = running.then(() => write(['', formatPlayStart(e)]));
        return;
      case 'task-start': {
        finish();
        let resolve!: () => void;
        const done = new Promise<void>((r) => (resolve = r));
        const r: Row = { title: e.task, results: [], total: e.hosts.length, resolve, done, update: () => undefined };
        row = r;
        const listr = new Listr(
          [
            {
              title: countsTitle(r, check),
              task: async (_ctx, task) => {
                r.update = (t) => (task.title = t);
                await done;
              },
            },
          ],
          { rendererOptions: { collapseSubtasks: false }, exitOnError: false },
        );
        running = running.then(() => listr.run());
        return;
      }
      case 'host-task':
        if (row) {
          row.results.push(e.result);
          row.update(countsTitle(row, check));
        } else {
          running = running.then(() => write(formatResult(e.result, { diff: o.diff, check, verbose: o.verbose })));
        }
        return;
      case 'task-end':
        finish();
        return;
      case 'rollback-start':
        finish();
        running = running.then(() => write([`ROLLBACK ${e.host}: ${e.records} record(s) — ${e.reason}`]));
        return;
      case 'rollback-step':
        if (!e.ok) running = running.then(() => write([`  FAILED: ${e.step} — ${e.error ?? ''}`]));
        return;
      case 'rollback-end':
        running = running.then(() => write([`  ${e.host}: ${e.ok ? 'rolled back, every restored file verified' : `ROLLBACK FAILED — ${e.error ?? ''}`}`]));
        return;
      case 'play-end':
        finish();
        return;
      case 'warning':
        running = running.then(() => write([`[WARNING]${e.host ? ` ${e.host}:` : ''} ${e.message}`]));
        return;
      case 'run-end':
        finish();
        running = running.then(() => write(formatRecap(e.summary)));
        return;
    }
  };
}

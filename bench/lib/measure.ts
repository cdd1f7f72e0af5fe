/**
 * Run one timed command under /usr/bin/time -v (wall time, controller CPU, and peak RSS of the
 * largest controller process), and small statistics. A failed run is an error: a benchmark that
 * measured a failure would be measuring the wrong thing.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export interface Sample {
  wallMs: number;
  /** user + system CPU of the process and its waited-for children. */
  cpuMs: number;
  /** Peak resident set of the largest single process in the tree, MiB. */
  maxRssMb: number;
}

export interface RunOpts {
  env?: Record<string, string>;
  cwd?: string;
  /** Where the output goes (kept for a failed run's message). */
  logFile: string;
  /** Exit codes that count as success (default [0]). */
  okCodes?: number[];
}

function field(text: string, label: string): number {
  const line = text.split('\n').find((l) => l.trim().startsWith(label));
  const v = line === undefined ? NaN : Number(line.slice(line.lastIndexOf(':') + 1).trim());
  return Number.isFinite(v) ? v : NaN;
}

export async function timed(argv: string[], opts: RunOpts): Promise<Sample> {
  const timeFile = `${opts.logFile}.time`;
  rmSync(timeFile, { force: true });
  const [cmd, ...args] = ['/usr/bin/time', '-v', '-o', timeFile, ...argv];
  const t0 = performance.now();
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolveRun) => {
    const child = spawn(cmd as string, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    child.stdout.on('data', (d) => (buf += d));
    child.stderr.on('data', (d) => (buf += d));
    child.on('close', (c) => resolveRun({ code: c, out: buf }));
  });
  const wallMs = performance.now() - t0;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(opts.logFile, out);
  if (!(opts.okCodes ?? [0]).includes(code ?? -1)) {
    const lines = out.split('\n');
    const cause = lines.filter((l) => /fatal|error|unreachable/i.test(l) && !/^\S+\s+: ok=/.test(l)).slice(0, 4);
    throw new Error(`${argv.slice(0, 3).join(' ')} ... exited ${code}; output in ${opts.logFile}:\n${[...cause, '...', ...lines.slice(-4)].join('\n')}`);
  }
  const t = readFileSync(timeFile, 'utf8');
  return {
    wallMs,
    cpuMs: (field(t, 'User time (seconds)') + field(t, 'System time (seconds)')) * 1000,
    maxRssMb: field(t, 'Maximum resident set size (kbytes)') / 1024,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function fmtS(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—';
}

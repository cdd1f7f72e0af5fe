/**
 * Process checks for the lab's bookkeeping: is a recorded PID still the process we started (not a
 * reused PID), and which processes descend from it. Processes are only ever stopped by recorded
 * PID, never by name.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** True when `pid` is alive and, if given, its command line contains `marker`. */
export function isOurProcess(pid: number, marker?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) is dead for our purposes.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return marker === undefined || cmdline.split('\0').join(' ').includes(marker);
  } catch {
    return false;
  }
}

/** All descendants of `pid`, read from /proc. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const todo = [pid];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    for (const k of children.get(p) ?? []) {
      out.push(k);
      todo.push(k);
    }
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves when the processes are gone. */
export async function terminate(pids: readonly number[], graceMs = 3000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        // already gone
      }
    }
  };
  const alive = () => pids.filter((p) => isOurProcess(p));
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await sleep(25);
  if (alive().length === 0) return;
  signal('SIGKILL');
  const hard = Date.now() + 2000;
  while (alive().length > 0 && Date.now() < hard) await sleep(25);
}

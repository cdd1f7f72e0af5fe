/**
 * The per-host run lock: two runs must never change the same host at once. Before a run's first
 * change on a host it creates `<fleetplay_backup_dir>/.lock` there (noclobber, so exactly one run
 * wins) holding its run id, the controller's pid and host name, and the time. A second run fails
 * that host before any change with "locked by run <id> (pid, since ...)". The lock is released when
 * the run finishes and when `rollback <id>` has put the host back. A lock whose run has ended (its
 * journal says so), whose controller process is gone, or that is older than
 * FLEETPLAY_LOCK_STALE_HOURS (default 12) is stale: it is reported as such, with the owning run id,
 * and only broken when the operator asks (`--break-stale-lock`).
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, posix } from 'node:path';
import { ConnectionError, TaskError } from '../errors.js';
import type { Connector } from './context.js';
import { readJournal } from './journal.js';
import { DEFAULT_BACKUP_ROOT, runDirFor } from './paths.js';

export interface LockInfo {
  runId: string;
  pid: number;
  controller: string;
  at: string;
}

export interface HostLocksOptions {
  runId: string;
  connector: Connector;
  /** Inventory vars of a host; undefined for a host outside the inventory (the controller). */
  hostVars(host: string): Readonly<Record<string, unknown>> | undefined;
  /** Take over a stale lock (the operator said so). */
  breakStale: boolean;
  /**
   * Called before the lock is created on a host (the run journals the intent, so that `rollback <id>`
   * of a run killed right after creating it still knows to release it), and once it is ours.
   */
  onTaking?(host: string): void;
  onTaken?(host: string): void;
}

/** `<fleetplay_backup_dir>/.lock` of a host. */
export function lockPathFor(vars: Readonly<Record<string, unknown>>): string {
  const root = typeof vars.fleetplay_backup_dir === 'string' ? vars.fleetplay_backup_dir : DEFAULT_BACKUP_ROOT;
  return posix.join(root, '.lock');
}

const ACQUIRE = 'umask 077; mkdir -p -- "$1" || exit 3; if (set -C; printf "%s\\n" "$3" > "$2") 2>/dev/null; then exit 0; fi; cat -- "$2" 2>/dev/null; exit 1';
/** Replace the lock only if it still holds exactly what we saw (two breakers cannot both win). */
const TAKEOVER = 'umask 077; [ "$(cat -- "$1" 2>/dev/null)" = "$2" ] || exit 1; printf "%s\\n" "$3" > "$1.new" && mv -f -- "$1.new" "$1"';
const RELEASE = 'if [ -f "$1" ] && grep -q -F -- "$2" "$1"; then rm -f -- "$1"; fi';

function staleHours(): number {
  const n = Number(process.env.FLEETPLAY_LOCK_STALE_HOURS ?? '12');
  return Number.isFinite(n) && n > 0 ? n : 12;
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text.trim()) as Partial<LockInfo>;
    if (typeof v.runId === 'string' && typeof v.at === 'string') return { runId: v.runId, pid: Number(v.pid), controller: String(v.controller ?? '?'), at: v.at };
  } catch {
    // not ours, or torn: reported as unreadable below
  }
  return undefined;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a lock is stale, or undefined when its run may still be going. */
export function staleReason(info: LockInfo, now = Date.now()): string | undefined {
  const journal = join(runDirFor(info.runId), 'journal.jsonl');
  if (existsSync(journal)) {
    try {
      const recs = readJournal(journal);
      const lastRun = recs.map((r) => r.t).lastIndexOf('run');
      const lastEnd = recs.map((r) => r.t).lastIndexOf('end');
      if (lastEnd > lastRun) return `its journal says run ${info.runId} ended`;
    } catch {
      // an unreadable journal decides nothing
    }
  }
  if (info.controller === hostname() && !pidAlive(info.pid)) return `controller process ${info.pid} on ${info.controller} is gone`;
  const age = now - Date.parse(info.at);
  if (Number.isFinite(age) && age > staleHours() * 3600_000) return `it is older than ${staleHours()} hours`;
  return undefined;
}

export class HostLocks {
  private readonly held = new Map<string, Promise<void>>();
  private readonly content: string;

  constructor(private readonly o: HostLocksOptions) {
    this.content = JSON.stringify({ runId: o.runId, pid: process.pid, controller: hostname(), at: new Date().toISOString() } satisfies LockInfo);
  }

  /** Whether `host` is one we lock: inventory hosts only (the controller is not a fleet host). */
  applies(host: string): boolean {
    return this.o.hostVars(host) !== undefined;
  }

  /** Take the lock on `host` once per run; throws TaskError (locked) or ConnectionError. */
  acquire(host: string): Promise<void> {
    if (!this.applies(host)) return Promise.resolve();
    let p = this.held.get(host);
    if (p === undefined) {
      p = this.take(host);
      this.held.set(host, p);
      p.catch(() => this.held.delete(host));
    }
    return p;
  }

  private async take(host: string): Promise<void> {
    const path = lockPathFor(this.o.hostVars(host) ?? {});
    const conn = await this.o.connector.get(host);
    this.o.onTaking?.(host);
    const r = await conn.exec(['sh', '-c', ACQUIRE, 'sh', posix.dirname(path), path, this.content]);
    if (r.exitCode === 0) return this.o.onTaken?.(host);
    if (r.exitCode !== 1) throw new TaskError(`cannot create the run lock ${path}: exit ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, { host, hint: 'the backup directory (fleetplay_backup_dir) must be writable' });
    const seen = r.stdout.trim();
    const info = parseLock(seen);
    if (info?.runId === this.o.runId) return this.o.onTaken?.(host); // resume, rollback: already ours
    const who = info ? `run ${info.runId} (pid ${info.pid} on ${info.controller}, since ${info.at})` : `an unreadable lock file`;
    const stale = info ? staleReason(info) : 'its content is not a fleetplay lock';
    if (stale !== undefined && this.o.breakStale) {
      const t = await conn.exec(['sh', '-c', TAKEOVER, 'sh', path, seen, this.content]);
      if (t.exitCode === 0) return this.o.onTaken?.(host);
      throw new TaskError(`${host} is locked by ${who}; breaking the stale lock failed (another run took it first?)`, { host });
    }
    if (stale !== undefined) {
      throw new TaskError(`${host} is locked by ${who}; the lock looks stale: ${stale}`, {
        host,
        hint: `roll that run back or resume it (fleetplay rollback ${info?.runId ?? '<id>'}), or pass --break-stale-lock to take the lock over; lock file ${path}`,
      });
    }
    throw new TaskError(`${host} is locked by ${who}: nothing was changed on this host`, {
      host,
      hint: `wait for that run to finish; its lock is ${path}`,
    });
  }

  /** Remove this run's lock from `host` (only if it is still ours). Never throws. */
  async release(host: string): Promise<boolean> {
    if (!this.applies(host)) return true;
    this.held.delete(host);
    const path = lockPathFor(this.o.hostVars(host) ?? {});
    const argv = ['sh', '-c', RELEASE, 'sh', path, `"runId":"${this.o.runId}"`];
    try {
      return (await (await this.o.connector.get(host)).exec(argv)).exitCode === 0;
    } catch (e) {
      if (!(e instanceof ConnectionError)) return false;
    }
    // the run's connection broke (the host went away and may be back): one fresh try
    try {
      return (await (await this.o.connector.reconnect(host)).exec(argv)).exitCode === 0;
    } catch {
      return false;
    }
  }

  /** Release every lock taken in this run; returns the hosts whose lock could not be removed. */
  async releaseAll(): Promise<string[]> {
    const hosts = [...this.held.keys()];
    const settled = await Promise.all(
      hosts.map(async (h) => {
        const took = await this.held.get(h)?.then(() => true, () => false);
        return took === false ? true : this.release(h);
      }),
    );
    return hosts.filter((_, i) => !settled[i]);
  }
}

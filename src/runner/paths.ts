/**
 * Where a run keeps its things: the controller's run directory and each host's backup directory.
 */
import { randomBytes } from 'node:crypto';
import { posix, resolve, join } from 'node:path';
import type { RunContext } from './context.js';

export const DEFAULT_BACKUP_ROOT = '/var/backups/fleetplay';

/** `.fleetplay/runs` under the working directory, or $FLEETPLAY_HOME/runs. */
export function runsRoot(): string {
  return resolve(process.env.FLEETPLAY_HOME ?? '.fleetplay', 'runs');
}

export function runDirFor(runId: string): string {
  return join(runsRoot(), runId);
}

/** A sortable, unique run id: 20261203-174501-ab12cd. */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const d = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const t = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${d}-${t}-${randomBytes(3).toString('hex')}`;
}

/** The per-run backup directory on a host: `fleetplay_backup_dir` (host var) or the default, plus the run id. */
export function backupDirFor(run: Pick<RunContext, 'runId' | 'hosts' | 'inventory'>, host: string): string {
  const vars = run.hosts.get(host)?.inv.vars ?? run.inventory.hosts.get(host)?.vars ?? {};
  const root = typeof vars.fleetplay_backup_dir === 'string' ? vars.fleetplay_backup_dir : DEFAULT_BACKUP_ROOT;
  return posix.join(root, run.runId);
}

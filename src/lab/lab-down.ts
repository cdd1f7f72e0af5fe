/**
 * `lab down`: stop everything a lab started, by the PIDs and paths in lab.json (agents and httpd
 * through their service commands, PostgreSQL with pg_ctl, sshd by recorded PID with the sessions it
 * forked). Safe to call twice and after a half-finished `lab up`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { labServiceCommands, runCtl } from './agent.js';
import { pemDbServiceCommands } from './pem-db.js';
import { descendantsOf, isOurProcess, terminate } from './procs.js';
import { readLabState, writeLabState } from './lab-state.js';
import type { LabState } from './lab-state.js';

export interface LabDownResult {
  dir: string;
  /** What was running and is now stopped ("pemagent on agent2 (pid 123)"). */
  stopped: string[];
  /** What could not be stopped, with the reason. */
  problems: string[];
}

async function pidFromFile(file: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(file, 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Stop the lab in `dir`. */
export async function labDown(dir: string): Promise<LabDownResult> {
  const state = await readLabState(dir);
  if (state === null) {
    throw new UsageError(`no lab in ${dir} (lab.json is missing)`, { hint: 'pass the directory given to `fleetplay lab up`' });
  }
  const out: LabDownResult = { dir, stopped: [], problems: [] };
  await stopServices(state, out);
  await stopDb(state, out);
  await stopSshd(state, out);
  state.stoppedAt = new Date().toISOString();
  await writeLabState(state);
  return out;
}

async function stopServices(state: LabState, out: LabDownResult): Promise<void> {
  const jobs: Promise<void>[] = [];
  const stopOne = async (what: string, argv: string[] | undefined, pidFile: string, startedPid: number | undefined, marker: string) => {
    const pid = (await pidFromFile(pidFile)) ?? startedPid ?? null;
    const wasRunning = pid !== null && isOurProcess(pid, marker);
    if (argv) {
      const r = await runCtl(argv);
      if (r.code !== 0) out.problems.push(`${what}: ${r.stderr.trim() || `exit ${r.code}`}`);
    }
    // The service command finds the daemon by its pid file; a daemon whose pid file is gone is stopped by recorded pid.
    if (startedPid !== undefined && isOurProcess(startedPid, marker)) await terminate([startedPid]);
    if (wasRunning) out.stopped.push(`${what} (pid ${pid})`);
  };
  for (const a of state.agents) {
    const argv = labServiceCommands('pemagent', a.root).stop;
    jobs.push(stopOne(`pemagent ${a.id} on ${a.host}`, argv, a.pidFile, a.startedPid, 'agent-daemon.mjs'));
  }
  if (state.httpd) {
    const argv = labServiceCommands('httpd', state.httpd.root).stop;
    jobs.push(stopOne(`httpd on ${state.httpd.host}`, argv, state.httpd.pidFile, state.httpd.startedPid, 'httpd-daemon.mjs'));
  }
  await Promise.all(jobs);
}

async function stopDb(state: LabState, out: LabDownResult): Promise<void> {
  const db = state.db;
  if (db === undefined) return;
  const pid = await pidFromFile(join(db.dataDir, 'postmaster.pid'));
  if (pid === null || !isOurProcess(pid, 'postgres')) {
    if (db.pid !== undefined && isOurProcess(db.pid, db.dataDir)) await terminate([db.pid], 10_000);
    return;
  }
  const stop = pemDbServiceCommands(db).stop;
  const r = await runCtl(stop ?? []);
  if (r.code !== 0 || isOurProcess(pid, 'postgres')) {
    out.problems.push(`pg_ctl stop for ${db.dataDir}: ${r.stderr.trim() || `exit ${r.code}`}; sending SIGTERM to the postmaster`);
    await terminate([pid], 10_000);
  }
  out.stopped.push(`PostgreSQL ${db.dataDir} (pid ${pid})`);
}

async function stopSshd(state: LabState, out: LabDownResult): Promise<void> {
  const live = state.sshd.pids.filter((p) => isOurProcess(p, 'sshd'));
  const all = live.flatMap((p) => [p, ...descendantsOf(p)]);
  if (all.length > 0) await terminate(all, 2000);
  for (const p of live) out.stopped.push(`sshd (pid ${p})`);
  // Per-host pid files of hosts restarted by startHost() after lab up (their pids are not in lab.json).
  for (const h of state.sshd.hosts) {
    const pf = join(state.dir, 'run', `${h.name}.pid`);
    if (!existsSync(pf)) continue;
    const pid = await pidFromFile(pf);
    if (pid !== null && !live.includes(pid) && isOurProcess(pid, join(state.dir, 'run'))) {
      await terminate([pid, ...descendantsOf(pid)], 2000);
      out.stopped.push(`sshd ${h.name} (pid ${pid})`);
    }
  }
}

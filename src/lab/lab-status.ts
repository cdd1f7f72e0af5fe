/**
 * `lab status`: per agent, whether its daemon runs, the certificate it loaded at start, its last
 * heartbeat in the PEM database (with the certificate that heartbeat used) and its last logged
 * error; plus whether sshd, PostgreSQL and httpd are up. Read-only.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { lastLoggedError, readAgentState } from './agent.js';
import { attachPgCluster } from './postgres.js';
import { isOurProcess } from './procs.js';
import { readLabState } from './lab-state.js';

export interface CertInUse {
  fingerprint: string;
  subject: string;
  issuer: string;
}

export interface AgentStatus {
  id: number;
  host: string;
  running: boolean;
  pid: number | null;
  /** The certificate the running daemon loaded at its start. */
  cert: CertInUse | null;
  /** ISO time of the last heartbeat row in pem.agent_heartbeat. */
  lastHeartbeat: string | null;
  /** The certificate that last heartbeat was made with. */
  lastHeartbeatCert: CertInUse | null;
  /** The last ERROR/FATAL line of the agent's log. */
  lastError: { at: string; message: string } | null;
  /** Running, and the last thing it did was a successful heartbeat. */
  healthy: boolean;
}

export interface LabStatus {
  dir: string;
  up: boolean;
  stoppedAt: string | null;
  sshd: { name: string; address: string; port: number; running: boolean }[];
  db: { port: number; pid: number | null; running: boolean; error: string | null };
  httpd: { port: number; pid: number | null; running: boolean } | null;
  agents: AgentStatus[];
  inventoryFile: string;
}

async function pidFromFile(file: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(file, 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

type Beat = { agent_id: number; at: Date; cert_fingerprint: string; cert_subject: string; cert_issuer: string };

export async function labStatus(dir: string): Promise<LabStatus> {
  const state = await readLabState(dir);
  if (state === null) throw new UsageError(`no lab in ${dir} (lab.json is missing)`, { hint: 'run `fleetplay lab up <dir>` first' });

  const sshdPids = new Set(state.sshd.pids);
  const sshd = await Promise.all(
    state.sshd.hosts.map(async (h) => {
      const pid = await pidFromFile(join(state.dir, 'run', `${h.name}.pid`));
      const running = [...(pid === null ? [] : [pid]), ...sshdPids].some((p) => isOurProcess(p, `${h.name}.conf`));
      return { name: h.name, address: h.address, port: h.port, running };
    }),
  );

  let beats = new Map<number, Beat>();
  const db: LabStatus['db'] = { port: state.db?.port ?? 0, pid: null, running: false, error: null };
  if (state.db) {
    db.pid = await pidFromFile(join(state.db.dataDir, 'postmaster.pid'));
    db.running = db.pid !== null && isOurProcess(db.pid, 'postgres');
    if (db.running) {
      try {
        const cluster = await attachPgCluster(state.db.clusterDir);
        const rows = (await cluster.query(
          'SELECT DISTINCT ON (agent_id) agent_id, at, cert_fingerprint, cert_subject, cert_issuer FROM pem.agent_heartbeat ORDER BY agent_id, at DESC',
          undefined,
          'pem',
        )) as unknown as Beat[];
        beats = new Map(rows.map((r) => [Number(r.agent_id), r]));
      } catch (e) {
        db.error = (e as Error).message;
      }
    }
  }

  let httpd: LabStatus['httpd'] = null;
  if (state.httpd) {
    const pid = await pidFromFile(state.httpd.pidFile);
    httpd = { port: state.httpd.port, pid, running: pid !== null && isOurProcess(pid, 'httpd-daemon.mjs') };
  }

  const agents = await Promise.all(
    state.agents.map(async (a): Promise<AgentStatus> => {
      const pid = await pidFromFile(a.pidFile);
      const running = pid !== null && isOurProcess(pid, 'agent-daemon.mjs');
      const daemon = running ? await readAgentState(a) : null;
      const log = await readFile(a.logFile, 'utf8').catch(() => '');
      const beat = beats.get(a.id);
      const lastOk = daemon?.lastOkAt ?? null;
      const lastErrAt = daemon?.lastErrorAt ?? null;
      return {
        id: a.id,
        host: a.host,
        running,
        pid: running ? pid : null,
        cert: daemon ? { fingerprint: daemon.cert.fingerprint, subject: daemon.cert.subject, issuer: daemon.cert.issuer } : null,
        lastHeartbeat: beat ? new Date(beat.at).toISOString() : null,
        lastHeartbeatCert: beat ? { fingerprint: beat.cert_fingerprint, subject: beat.cert_subject, issuer: beat.cert_issuer } : null,
        lastError: lastLoggedError(log),
        healthy: running && lastOk !== null && (lastErrAt === null || lastOk > lastErrAt),
      };
    }),
  );

  return {
    dir: state.dir,
    up: state.stoppedAt === undefined && db.running && agents.some((a) => a.running),
    stoppedAt: state.stoppedAt ?? null,
    sshd,
    db,
    httpd,
    agents,
    inventoryFile: state.inventoryFile,
  };
}

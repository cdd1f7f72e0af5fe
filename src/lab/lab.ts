/**
 * The local PEM lab: a PEM-like fleet on this machine. `labUp` starts one sshd per host
 * (`pem-server` runs the PEM backend database, agent 1 and httpd; `agent2`..`agent<N>` run one
 * agent each), makes PEM's self-signed certificate set and a corporate CA, starts the agents and
 * waits for one heartbeat from each, then writes lab.json, inventory.yaml and secrets.env.
 * `labStatus` and `labDown` work from lab.json alone, from any later process.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TaskError, UsageError } from '../errors.js';
import { agentLayout, labServiceCommands, runCtl, writeAgentCfg } from './agent.js';
import { makeCorporateCa } from './corporate-ca.js';
import { setupHttpd } from './httpd.js';
import { labInventoryYaml, PEM_DB_PASSWORD_ENV } from './inventory.js';
import { labDown } from './lab-down.js';
import { readLabState, writeLabState } from './lab-state.js';
import type { LabAgent, LabState } from './lab-state.js';
import { labStatus } from './lab-status.js';
import { issueAgentCert, pemCaFiles } from './pem-ca.js';
import { pemDbConfigure, setupPemDatabase } from './pem-db.js';
import { freePort, startPgCluster } from './postgres.js';
import type { PgCluster } from './postgres.js';
import { isOurProcess } from './procs.js';
import { startSshdFleet } from './sshd.js';

export { labDown } from './lab-down.js';
export type { LabDownResult } from './lab-down.js';
export { labStatus } from './lab-status.js';
export type { AgentStatus, LabStatus, CertInUse } from './lab-status.js';
export type { LabState, LabAgent, LabDb } from './lab-state.js';

export interface LabUpOptions {
  dir: string;
  /** Agents in total, ids 1..N (agent 1 on pem-server). Default 5. */
  agents?: number;
  /** Also make the EC P-256 corporate CA in <dir>/corporate-ca-ec. Default true. */
  ec?: boolean;
  /** Agent heartbeat interval. Default 1000 ms. */
  intervalMs?: number;
  /** RSA key size for the PEM and corporate CAs, server and agent keys. Default 2048 (PEM uses 4096). */
  rsaBits?: number;
  /** How long to wait for the first heartbeat of every agent. Default 30 s. */
  heartbeatTimeoutMs?: number;
  /** First loopback address for the hosts. Default 127.0.0.2 (sshd's default). */
  addressBase?: string;
}

export const PEM_SERVER_HOST = 'pem-server';

function agentHostName(id: number): string {
  return id === 1 ? PEM_SERVER_HOST : `agent${id}`;
}

/** Bring the lab up in `dir`; if a lab is already running there, return its state with alreadyUp. */
export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const dir = resolve(opts.dir);
  const n = opts.agents ?? 5;
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new UsageError(`agents must be between 1 and 200, got ${n}`);
  const existing = await readLabState(dir);
  if (existing !== null) {
    const status = await labStatus(dir);
    if (existing.stoppedAt === undefined && (status.db.running || status.agents.some((a) => a.running))) {
      return { ...existing, alreadyUp: true };
    }
    throw new UsageError(`${dir} holds a lab that is down (lab.json is there)`, {
      hint: 'remove that directory or choose another one for `lab up`',
    });
  }
  await mkdir(dir, { recursive: true });
  // The postgres user must traverse the lab dir to reach the data directory.
  await chmod(dir, 0o755);

  const names = Array.from({ length: n }, (_, i) => agentHostName(i + 1));
  const fleet = await startSshdFleet({ dir, names, ...(opts.addressBase ? { addressBase: opts.addressBase } : {}) });
  const state: LabState = {
    version: 1,
    dir,
    createdAt: new Date().toISOString(),
    inventoryFile: join(dir, 'inventory.yaml'),
    secretsFile: join(dir, 'secrets.env'),
    knownHostsFile: fleet.knownHostsFile,
    clientKeyFile: fleet.clientKeyFile,
    sshd: { pids: fleet.pids, hosts: fleet.hosts },
    agents: [],
  };
  await writeLabState(state);
  try {
    await bringUp(state, opts, n);
  } catch (e) {
    await labDown(dir).catch(() => undefined);
    throw e;
  }
  return state;
}

async function bringUp(state: LabState, opts: LabUpOptions, n: number): Promise<void> {
  const key = { type: 'rsa' as const, bits: opts.rsaBits ?? 2048 };
  const hostOf = (name: string) => {
    const h = state.sshd.hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`no lab host ${name}`);
    return h;
  };
  const serverHost = hostOf(PEM_SERVER_HOST);

  const corporate = Promise.all([
    makeCorporateCa({ dir: join(state.dir, 'corporate-ca'), keyType: 'rsa', bits: key.bits }),
    opts.ec === false ? Promise.resolve(undefined) : makeCorporateCa({ dir: join(state.dir, 'corporate-ca-ec'), keyType: 'ec' }),
  ]);

  const cluster: PgCluster = await startPgCluster({
    dir: join(serverHost.root, 'var/lib/edb/as15'),
    configure: pemDbConfigure({ key }),
  });
  state.db = {
    clusterDir: cluster.dir,
    dataDir: cluster.dataDir,
    host: cluster.host,
    port: cluster.port,
    socketDir: cluster.socketDir,
    logFile: cluster.logFile,
    osUser: cluster.osUser,
    superuser: cluster.superuser,
    pid: cluster.pid,
  };
  state.pemCa = pemCaFiles(cluster.dataDir);
  await writeLabState(state);
  await writeFile(state.secretsFile, `${PEM_DB_PASSWORD_ENV}=${cluster.superuserPassword}\n`, { mode: 0o600 });
  await chmod(state.secretsFile, 0o600);

  const ids = Array.from({ length: n }, (_, i) => i + 1);
  await setupPemDatabase(
    cluster,
    ids.map((id) => ({ id, description: id === 1 ? `Postgres Enterprise Manager Host (${PEM_SERVER_HOST})` : agentHostName(id) })),
  );

  const intervalMs = opts.intervalMs ?? 1000;
  const ca = state.pemCa;
  const agents: LabAgent[] = await Promise.all(
    ids.map(async (id) => {
      const host = hostOf(agentHostName(id));
      const layout = agentLayout(host.root, id);
      await issueAgentCert({ caCert: ca.caCert, caKey: ca.caKey, agentId: id, dir: layout.certDir, key });
      await writeAgentCfg(layout, { pemHost: cluster.host, pemPort: cluster.port, agentId: id });
      return { ...layout, id, host: host.name };
    }),
  );
  state.agents = agents;
  await writeLabState(state);
  await Promise.all(
    agents.map(async (a) => {
      const r = await runCtl(labServiceCommands('pemagent', a.root, { intervalMs }).start ?? []);
      if (r.code !== 0) throw labError(`pemagent ${a.id} did not start: ${r.stderr.trim()}`, a.host);
      a.startedPid = Number((await readFile(a.pidFile, 'utf8')).trim());
    }),
  );
  await writeLabState(state);

  const httpdPort = await freePort();
  const httpd = await setupHttpd({ root: serverHost.root, address: serverHost.address, port: httpdPort, serverName: PEM_SERVER_HOST, key });
  state.httpd = { ...httpd, host: PEM_SERVER_HOST, address: serverHost.address, port: httpdPort };
  const hr = await runCtl(labServiceCommands('httpd', serverHost.root).start ?? []);
  if (hr.code !== 0) throw labError(`httpd did not start: ${hr.stderr.trim()}`, PEM_SERVER_HOST);
  state.httpd.startedPid = Number((await readFile(httpd.pidFile, 'utf8')).trim());

  const [rsaCa, ecCa] = await corporate;
  state.corporateCa = rsaCa;
  if (ecCa) state.corporateCaEc = ecCa;
  await writeLabState(state);
  await writeFile(state.inventoryFile, labInventoryYaml(state, { intervalMs }), { mode: 0o644 });

  await waitForHeartbeats(state, cluster, opts.heartbeatTimeoutMs ?? 30_000);
}

function labError(message: string, host?: string): TaskError {
  return new TaskError(message, { task: 'lab up', ...(host ? { host } : {}), hint: 'see the host log under <lab>/hosts/<host>/var/log' });
}

/** Resolve when every agent has at least one heartbeat row; otherwise fail with each silent agent's last error. */
async function waitForHeartbeats(state: LabState, cluster: PgCluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await cluster.query('SELECT DISTINCT agent_id FROM pem.agent_heartbeat', undefined, 'pem');
    const seen = new Set(rows.map((r) => Number(r.agent_id)));
    const missing = state.agents.filter((a) => !seen.has(a.id));
    if (missing.length === 0) return;
    const dead = missing.filter((a) => a.startedPid === undefined || !isOurProcess(a.startedPid, 'agent-daemon.mjs'));
    if (Date.now() > deadline || dead.length > 0) {
      const status = await labStatus(state.dir);
      const detail = missing
        .map((a) => `agent ${a.id} on ${a.host}: ${status.agents.find((s) => s.id === a.id)?.lastError?.message ?? 'no error logged'}`)
        .join('; ');
      throw labError(`no heartbeat from ${missing.length} agent(s) within ${timeoutMs} ms: ${detail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The lab's pemagent stand-in, seen from TypeScript: where each agent host keeps its files (the PEM
 * layout under the host root), its agent.cfg, and the service commands that drive
 * service-ctl.mjs/agent-daemon.mjs (what the inventory hands to the `service` module).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths of one agent host, all under its root directory. */
export interface AgentLayout {
  root: string;
  cfgFile: string;
  certDir: string;
  certFile: string;
  keyFile: string;
  logFile: string;
  pidFile: string;
  stateFile: string;
}

export function agentLayout(root: string, agentId: number): AgentLayout {
  const certDir = join(root, 'root/.pem');
  return {
    root,
    cfgFile: join(root, 'usr/edb/pem/agent/etc/agent.cfg'),
    certDir,
    certFile: join(certDir, `agent${agentId}.crt`),
    keyFile: join(certDir, `agent${agentId}.key`),
    logFile: join(root, 'var/log/pem/agent.log'),
    pidFile: join(root, 'var/run/pemagent.pid'),
    stateFile: join(root, 'var/run/pemagent.state.json'),
  };
}

/** agent.cfg as pemworker --register-agent writes it (the keys the lab reads, plus a few usual ones). */
export function agentCfgText(o: { pemHost: string; pemPort: number; agentId: number; certFile: string; keyFile: string; agentUser?: string }): string {
  return [
    '[PEM/agent]',
    `pem_host=${o.pemHost}`,
    `pem_port=${o.pemPort}`,
    `agent_id=${o.agentId}`,
    ...(o.agentUser ? [`agent_user=${o.agentUser}`] : []),
    `agent_ssl_key=${o.keyFile}`,
    `agent_ssl_crt=${o.certFile}`,
    'agent_flag_dir=',
    'log_level=warning',
    'log_location=/var/log/pem/worker.log',
    'agent_log_location=/var/log/pem/agent.log',
    'long_wait=30',
    'short_wait=10',
    'alert_threads=0',
    'enable_smtp=false',
    'enable_snmp=false',
    'allow_server_restart=true',
    'max_connections=0',
    'connect_timeout=10',
    'connection_lifetime=0',
    'allow_batch_probes=false',
    'heartbeat_connection=false',
    '',
  ].join('\n');
}

export async function writeAgentCfg(layout: AgentLayout, o: { pemHost: string; pemPort: number; agentId: number; agentUser?: string }): Promise<void> {
  await mkdir(dirname(layout.cfgFile), { recursive: true, mode: 0o755 });
  await writeFile(layout.cfgFile, agentCfgText({ ...o, certFile: layout.certFile, keyFile: layout.keyFile }), { mode: 0o644 });
}

/** Absolute path of a lab script (.mjs); from a build in dist/, the sources in src/lab are used. */
export function labScript(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const direct = join(here, name);
  if (existsSync(direct)) return direct;
  const fromDist = resolve(here, '../../src/lab', name);
  if (existsSync(fromDist)) return fromDist;
  throw new Error(`lab script ${name} not found next to ${here}`);
}

export type LabService = 'pemagent' | 'httpd';
export type ServiceCommands = Record<string, string[]>;

function ctlBase(service: LabService, root: string, opts: { intervalMs?: number }): string[] {
  const base = [process.execPath, labScript('service-ctl.mjs'), service, '--root', root];
  if (service === 'pemagent') base.push('--interval-ms', String(opts.intervalMs ?? 1000));
  return base;
}

/**
 * start/stop/restart/status (and reload for httpd) argv for a lab service on a host: exactly the
 * keys the `service` module accepts in fleetplay_service_commands.
 */
export function labServiceCommands(service: LabService, root: string, opts: { intervalMs?: number } = {}): ServiceCommands {
  const base = ctlBase(service, root, opts);
  const actions = service === 'httpd' ? ['start', 'stop', 'restart', 'reload', 'status'] : ['start', 'stop', 'restart', 'status'];
  return Object.fromEntries(actions.map((a) => [a, [...base, a]]));
}

/** `apachectl configtest` for the lab httpd: parses the conf, loads cert and key; exit 1 on error. */
export function labHttpdConfigtest(root: string): string[] {
  return [...ctlBase('httpd', root, {}), 'configtest'];
}

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run one service command locally (the lab itself starts and stops services this way). */
export function runCtl(argv: readonly string[]): Promise<CtlResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('runCtl: empty argv');
  return new Promise((res) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** What agent-daemon.mjs records each cycle. */
export interface AgentDaemonState {
  pid: number;
  startedAt: string;
  agentId: number;
  user: string;
  certFile: string;
  keyFile: string;
  cert: { fingerprint: string; subject: string; issuer: string; notAfter: string };
  lastOkAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

export async function readAgentState(layout: AgentLayout): Promise<AgentDaemonState | null> {
  try {
    return JSON.parse(await readFile(layout.stateFile, 'utf8')) as AgentDaemonState;
  } catch {
    return null;
  }
}

/** The last ERROR/FATAL line of a lab daemon log: its time and message. */
export function lastLoggedError(log: string): { at: string; message: string } | null {
  const lines = log.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^(\S+) (ERROR|FATAL) (.*)$/.exec(lines[i] ?? '');
    if (m) return { at: m[1] ?? '', message: m[3] ?? '' };
  }
  return null;
}

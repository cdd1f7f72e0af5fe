/**
 * lab.json: what a running lab is made of (PIDs, ports, paths; never a secret), written as the lab
 * comes up so that `lab down` can stop whatever did start, even after a failed `lab up`.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentLayout } from './agent.js';
import type { CorporateCa } from './corporate-ca.js';
import type { HttpdLayout } from './httpd.js';
import type { PemCaFiles } from './pem-ca.js';
import type { SshdHost } from './sshd.js';

export interface LabAgent extends AgentLayout {
  id: number;
  host: string;
  /** PID when lab up started it; the current one is in pidFile. */
  startedPid?: number;
}

export interface LabDb {
  /** The cluster directory (holds data/, socket/, postgres.log). */
  clusterDir: string;
  dataDir: string;
  host: string;
  port: number;
  socketDir: string;
  logFile: string;
  osUser: string;
  superuser: string;
  /** postmaster PID when lab up started it. */
  pid?: number;
}

export interface LabState {
  version: 1;
  dir: string;
  createdAt: string;
  /** Set by lab down. */
  stoppedAt?: string;
  /** True when labUp found this lab already running and started nothing. */
  alreadyUp?: boolean;
  inventoryFile: string;
  /** Holds PEM_DB_PASSWORD=... (mode 0600). */
  secretsFile: string;
  knownHostsFile: string;
  clientKeyFile: string;
  sshd: { pids: number[]; hosts: SshdHost[] };
  db?: LabDb;
  pemCa?: PemCaFiles;
  agents: LabAgent[];
  httpd?: HttpdLayout & { host: string; address: string; port: number; startedPid?: number };
  corporateCa?: CorporateCa;
  corporateCaEc?: CorporateCa;
}

export function labStateFile(dir: string): string {
  return join(dir, 'lab.json');
}

export async function readLabState(dir: string): Promise<LabState | null> {
  try {
    return JSON.parse(await readFile(labStateFile(dir), 'utf8')) as LabState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function writeLabState(state: LabState): Promise<void> {
  const file = labStateFile(state.dir);
  const { alreadyUp: _ignored, ...persist } = state;
  await writeFile(`${file}.tmp`, `${JSON.stringify(persist, null, 2)}\n`, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
}

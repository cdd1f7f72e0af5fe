/**
 * The registry of task modules: an explicit list, no filesystem discovery. Add a module by
 * importing it here and appending it to `ALL_TASKS`.
 */
import { pgConnectTask } from './pg_connect.js';
import { sqlTask } from './sql.js';
import { tlsProbeTask } from './tls_probe.js';
import { pemAgentFactsTask } from './pem_agent_facts.js';
import { pemFleetCheckTask } from './pem_fleet_check.js';
import { slurpTask } from './slurp.js';
import { assertTask } from './assert.js';
import { backupTask } from './backup.js';
import { commandTask } from './command.js';
import { copyTask } from './copy.js';
import { debugTask } from './debug.js';
import { fetchTask } from './fetch.js';
import { fileTask } from './file.js';
import { iniTask } from './ini.js';
import { lineinfileTask } from './lineinfile.js';
import { pauseTask } from './pause.js';
import { serviceTask } from './service.js';
import { set_factTask } from './set_fact.js';
import { shellTask } from './shell.js';
import { wait_forTask } from './wait_for.js';
import { genkeyTask } from './genkey.js';
import { csrTask } from './csr.js';
import { signTask } from './sign.js';
import { certInfoTask } from './cert_info.js';
import { verifyTask } from './verify.js';
import { crlTask } from './crl.js';
import { caCertTask } from './ca_cert.js';
import { certBundleTask } from './cert_bundle.js';
import type { TaskModule } from './types.js';

export const ALL_TASKS: readonly TaskModule[] = [
  assertTask,
  backupTask,
  commandTask,
  copyTask,
  debugTask,
  fetchTask,
  fileTask,
  iniTask,
  lineinfileTask,
  pauseTask,
  serviceTask,
  set_factTask,
  shellTask,
  wait_forTask,
  pemAgentFactsTask,
  pemFleetCheckTask,
  slurpTask,
  sqlTask,
  pgConnectTask,
  tlsProbeTask,
  genkeyTask,
  csrTask,
  signTask,
  certInfoTask,
  verifyTask,
  crlTask,
  caCertTask,
  certBundleTask,
];

const byName = new Map<string, TaskModule>();
for (const t of ALL_TASKS) {
  for (const n of [t.name, ...t.aliases]) {
    if (byName.has(n)) throw new Error(`task module name registered twice: ${n}`);
    byName.set(n, t);
  }
}

/** The module a YAML keyword names, or undefined. */
export function findTask(name: string): TaskModule | undefined {
  return byName.get(name);
}

/** All keywords (names and aliases), for "did you mean" suggestions. */
export function taskNames(): string[] {
  return [...byName.keys()].sort();
}

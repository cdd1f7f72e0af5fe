/**
 * Who runs each scenario, and how: fleetplay at its defaults, Ansible in the configurations the
 * issue asks for (forks 5/50, pipelining off/on, ControlPersist on, facts off; and Mitogen), and
 * the floors. Each contender is an argv + env run by measure.ts; `after` cleans up what a run left
 * (Ansible's ControlPersist masters, stopped through their own control sockets).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellJoin } from '../../src/shell/quote.js';
import type { BenchFleet } from './fleet.js';
import { BENCH_DIR, EXT_FILE, SVC } from './fleet.js';
import { HOST_PART1, HOST_PART2 } from './scenarios.js';

export type Scenario = 'noop' | 'rotate';
export type Kind = 'fleetplay' | 'ansible' | 'floor';

export interface Contender {
  id: string;
  label: string;
  kind: Kind;
  argv: string[];
  env: Record<string, string>;
  /** Runs of this contender per size (the alternation loop skips it once they are done). */
  reps: number;
  after?: () => void;
}

export interface AnsibleConfig {
  id: string;
  forks: number;
  pipelining: boolean;
  mitogen: boolean;
}

export const ANSIBLE_CONFIGS: AnsibleConfig[] = [
  { id: 'ansible-f5', forks: 5, pipelining: false, mitogen: false },
  { id: 'ansible-f5-pipe', forks: 5, pipelining: true, mitogen: false },
  { id: 'ansible-f50', forks: 50, pipelining: false, mitogen: false },
  { id: 'ansible-f50-pipe', forks: 50, pipelining: true, mitogen: false },
  { id: 'mitogen-f50', forks: 50, pipelining: true, mitogen: true },
];

/** SSH connect timeout for every tool (seconds), the same for all. */
export const CONNECT_TIMEOUT_S = 60;

export const MITOGEN_STRATEGY_DIR = '/usr/lib/python3/dist-packages/ansible_mitogen/plugins/strategy';

export function ansibleLabel(c: AnsibleConfig): string {
  if (c.mitogen) return `Ansible + Mitogen (mitogen_linear, forks ${c.forks})`;
  return `Ansible forks ${c.forks}, pipelining ${c.pipelining ? 'on' : 'off'}`;
}

export function fleetplayContender(playbook: string, fleet: BenchFleet, work: string, reps: number, profileDir?: string): Contender {
  const prof = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  return {
    id: 'fleetplay',
    label: 'fleetplay (defaults: forks 50)',
    kind: 'fleetplay',
    argv: [process.execPath, ...prof, join(BENCH_DIR, 'lib', 'fleetplay-bin.mjs'), 'run', playbook, '-i', fleet.inventory, '--plain', '-T', String(CONNECT_TIMEOUT_S)],
    env: { FLEETPLAY_HOME: join(work, '.fleetplay') },
    reps,
  };
}

/** Stop the ControlPersist masters an Ansible run left, each through its own control socket. */
function closeMasters(dir: string): void {
  if (!existsSync(dir)) return;
  for (const sock of readdirSync(dir)) {
    try {
      execFileSync('ssh', ['-o', `ControlPath=${join(dir, sock)}`, '-O', 'exit', 'bench'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

function emptyConfig(work: string): string {
  const f = join(work, 'ansible.cfg');
  writeFileSync(f, '[defaults]\n');
  return f;
}

export function ansibleContender(cfg: AnsibleConfig, playbook: string, fleet: BenchFleet, work: string, reps: number): Contender {
  const cp = join(work, `cp-${cfg.id}`);
  const env: Record<string, string> = {
    ANSIBLE_FORKS: String(cfg.forks),
    ANSIBLE_PIPELINING: cfg.pipelining ? 'True' : 'False',
    ANSIBLE_GATHERING: 'explicit',
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    // Ansible's default ControlPersist, the fleet's known_hosts; no -C (compression only costs CPU on loopback).
    ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${fleet.sshd.knownHostsFile} -o StrictHostKeyChecking=yes`,
    ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    // A loaded machine makes Mitogen's bootstrap exceed the default 10 s connect timeout.
    ANSIBLE_TIMEOUT: String(CONNECT_TIMEOUT_S),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_LOCAL_TEMP: join(work, 'ansible-local'),
    // An empty config file: only the settings above apply, whatever /etc/ansible or ~ hold.
    ANSIBLE_CONFIG: emptyConfig(work),
  };
  if (cfg.mitogen) {
    env.ANSIBLE_STRATEGY_PLUGINS = MITOGEN_STRATEGY_DIR;
    env.ANSIBLE_STRATEGY = 'mitogen_linear';
  }
  return {
    id: cfg.id,
    label: ansibleLabel(cfg),
    kind: 'ansible',
    argv: ['ansible-playbook', '-i', fleet.inventory, playbook],
    env,
    reps,
    after: () => closeMasters(cp),
  };
}

export function ssh2FloorContender(fleet: BenchFleet, work: string, reps: number): Contender {
  const file = join(work, `ssh2-targets-${fleet.n}.json`);
  const targets = fleet.hosts.map((h) => ({ address: h.address, port: h.port, user: 'root', keyFile: fleet.sshd.clientKeyFile }));
  writeFileSync(file, JSON.stringify(targets));
  return { id: 'floor-ssh2', label: 'floor: bare ssh2 loop', kind: 'floor', argv: [process.execPath, join(BENCH_DIR, 'lib', 'floor-ssh2.mjs'), file], env: {}, reps };
}

export function shellFloorContender(fleet: BenchFleet, work: string, reps: number): Contender {
  const file = join(work, `rotate-targets-${fleet.n}.json`);
  mkdirSync(work, { recursive: true });
  const spec = {
    sshOpts: ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${fleet.sshd.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-i', fleet.sshd.clientKeyFile],
    caCert: fleet.caCert,
    caKey: fleet.caKey,
    extFile: EXT_FILE,
    hosts: fleet.hosts.map((h) => ({
      dest: `root@${h.address}`,
      port: h.port,
      part1: shellJoin(['sh', '-c', HOST_PART1, 'sh', h.root, SVC, h.name]),
      part2: shellJoin(['sh', '-c', HOST_PART2, 'sh', h.root, SVC, h.name]),
    })),
  };
  writeFileSync(file, JSON.stringify(spec));
  return { id: 'floor-shell', label: 'floor: hand-written script per host over plain ssh, in parallel', kind: 'floor', argv: [process.execPath, join(BENCH_DIR, 'lib', 'floor-rotate.mjs'), file], env: {}, reps };
}

/**
 * The host-side work of `rotate` alone (the same shell and openssl, no ssh, no controller), for
 * every host one after another: its CPU time divided by the cores is the physical floor.
 */
export function cpuFloorScript(fleet: BenchFleet): string {
  const lines = fleet.hosts.map((h) => {
    const p1 = shellJoin(['sh', '-c', HOST_PART1, 'sh', h.root, SVC, h.name]);
    const sign = shellJoin(['openssl', 'x509', '-req', '-CA', fleet.caCert, '-CAkey', fleet.caKey, '-set_serial', String(1000 + fleet.hosts.indexOf(h)), '-days', '365', '-extfile', EXT_FILE, '-extensions', 'v3']);
    const p2 = shellJoin(['sh', '-c', HOST_PART2, 'sh', h.root, SVC, h.name]);
    return `${p1} | ${sign} 2>/dev/null | ${p2}`;
  });
  return `set -e\n${lines.join('\n')}\n`;
}

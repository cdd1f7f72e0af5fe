/**
 * A fleet of real OpenSSH sshd daemons on loopback, one process per simulated host, for the tests,
 * the lab and the benchmarks. One process per host so that `stopHost()` takes exactly one host down
 * (and drops its live sessions, like a crash); starting 100 of them takes well under a second.
 * Every host has its own loopback address and root directory; all share one ed25519 host key and
 * one client key, and root logs in with that key.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';

export interface SshdHost {
  name: string;
  address: string;
  port: number;
  /** A directory that stands for this host's file system in tests (`${dir}/hosts/<name>`). */
  root: string;
}

export interface SshdFleet {
  hosts: SshdHost[];
  knownHostsFile: string;
  clientKeyFile: string;
  user: string;
  pids: number[];
  dir: string;
  /** The public host key line (`ssh-ed25519 AAAA...`) every host serves. */
  hostPublicKey: string;
  stop(): Promise<void>;
  /** Kill one host's sshd and every session it serves (established connections drop). */
  stopHost(name: string): Promise<void>;
  startHost(name: string): Promise<void>;
}

export interface SshdFleetOptions {
  dir: string;
  names: string[];
  /** All hosts listen on this port (each on its own address); default: a random free high port. */
  basePort?: number;
  /** First host address; the next hosts count up from it. Default 127.0.0.2. */
  addressBase?: string;
}

const SSHD = '/usr/sbin/sshd';

/** The n-th loopback address after `base`, skipping .0 and .255 in the last octet. */
export function nthAddress(base: string, n: number): string {
  const parts = base.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || parts[0] !== 127) {
    throw new Error(`addressBase must be an IPv4 loopback address (127.x.y.z), got "${base}"`);
  }
  let v = ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0);
  for (let i = 0; i < n; i++) {
    v++;
    while ((v & 0xff) === 0 || (v & 0xff) === 255) v++;
  }
  if (v > 0xffffff) throw new Error('too many hosts for the loopback range');
  return `127.${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
}

function sshdConfig(dir: string, host: SshdHost): string {
  return [
    `ListenAddress ${host.address}:${host.port}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'run', `${host.name}.pid`)}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    // bash sources ~/.bashrc for every ssh command when SHLVL<2; this machine's root .bashrc is slow
    // (pyenv init) and would dominate each exec. Starting at 1 skips it, like a guarded .bashrc.
    'SetEnv SHLVL=1',
    'MaxSessions 10',
    'MaxStartups 200:30:400',
    'PrintMotd no',
    'PrintLastLog no',
    'LogLevel ERROR',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

function portAccepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Does process `pid` itself hold a listening TCP socket on address:port? Another sshd (another
 * fleet started at the same moment) may answer on that port while ours failed to bind and exited.
 */
async function ownsListener(pid: number, address: string, port: number): Promise<boolean> {
  const octets = address.split('.').map(Number);
  const le = endianness() === 'LE' ? [...octets].reverse() : octets;
  const want = `${le.map((o) => o.toString(16).padStart(2, '0')).join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if (f[1] === want && f[3] === '0A' && f[9] !== undefined) inodes.add(f[9]);
  }
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1] !== undefined && inodes.has(m[1])) return true;
  }
  return false;
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process tree (ppid -> children), read once from /proc. */
async function processTree(): Promise<Map<number, number[]>> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may itself contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const kids = parents.get(ppid) ?? [];
      kids.push(Number(entry));
      parents.set(ppid, kids);
    } catch {
      // the process exited while we looked
    }
  }
  return parents;
}

/** All descendants of `pid` (the per-connection sshd children and their commands). */
function descendants(parents: Map<number, number[]>, pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    for (const k of parents.get(p) ?? []) {
      out.push(k);
      todo.push(k);
    }
  }
  return out;
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(10);
}

/** Start an sshd per host; resolves when every port accepts TCP. */
export async function startSshdFleet(opts: SshdFleetOptions): Promise<SshdFleet> {
  const dir = opts.dir;
  await mkdir(join(dir, 'run'), { recursive: true });
  await mkdir(join(dir, 'hosts'), { recursive: true });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  // Non-root logins read authorized_keys as themselves: the directory must be traversable.
  await chmod(dir, 0o755);

  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const clientKeyFile = join(dir, 'client_ed25519');
  await Promise.all(
    [hostKey, clientKeyFile]
      .filter((f) => !existsSync(f))
      .map((f) => run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'fleetplay-lab', '-f', f], { what: 'generate an ssh key' })),
  );
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKeyFile}.pub`), { mode: 0o644 });
  await chmod(join(dir, 'authorized_keys'), 0o644);

  const port = opts.basePort ?? randomPort();
  const hosts: SshdHost[] = opts.names.map((name, i) => ({
    name,
    address: nthAddress(opts.addressBase ?? '127.0.0.2', i),
    port,
    root: join(dir, 'hosts', name),
  }));
  const knownHostsFile = join(dir, 'known_hosts');
  const writeKnownHosts = () =>
    writeFile(knownHostsFile, hosts.map((h) => `[${h.address}]:${h.port} ${hostPublicKey}\n`).join(''), { mode: 0o600 });
  await writeKnownHosts();

  const pidOf = new Map<string, number>();
  const logFile = join(dir, 'sshd.log');

  async function startOne(h: SshdHost): Promise<void> {
    await mkdir(h.root, { recursive: true });
    const conf = join(dir, 'run', `${h.name}.conf`);
    await writeFile(conf, sshdConfig(dir, h));
    const child = spawn(SSHD, ['-D', '-f', conf, '-E', logFile], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start sshd for ${h.name}`);
    pidOf.set(h.name, pid);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if ((await portAccepts(h.address, h.port)) && (await ownsListener(pid, h.address, h.port))) return;
      if (!alive(pid) || child.exitCode !== null) {
        const log = existsSync(logFile) ? (await readFile(logFile, 'utf8')).trim().split('\n').slice(-3).join('\n') : '';
        throw new Error(`sshd for ${h.name} on ${h.address}:${h.port} exited at start${log ? `: ${log}` : ''}`);
      }
      if (Date.now() > deadline) throw new Error(`sshd for ${h.name} on ${h.address}:${h.port} did not accept connections within 10s`);
      await sleep(10);
    }
  }

  async function stopMany(names: string[]): Promise<void> {
    const listeners = names.flatMap((n) => {
      const pid = pidOf.get(n);
      pidOf.delete(n);
      return pid === undefined ? [] : [pid];
    });
    if (listeners.length === 0) return;
    // Kill the listeners and the live sessions they forked (and those sessions' commands).
    const tree = await processTree();
    const all = listeners.flatMap((pid) => [pid, ...descendants(tree, pid)]);
    for (const p of all) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitGone(all, 5_000);
    await Promise.all(names.map((n) => rm(join(dir, 'run', `${n}.pid`), { force: true })));
  }

  const fleet: SshdFleet = {
    hosts,
    knownHostsFile,
    clientKeyFile,
    user: 'root',
    get pids() {
      return [...pidOf.values()];
    },
    dir,
    hostPublicKey,
    stop: () => stopMany([...pidOf.keys()]),
    stopHost: async (name) => {
      if (!hosts.some((h) => h.name === name)) throw new Error(`no host ${name} in this sshd fleet`);
      await stopMany([name]);
    },
    startHost: async (name) => {
      const h = hosts.find((x) => x.name === name);
      if (h === undefined) throw new Error(`no host ${name} in this sshd fleet`);
      if (pidOf.has(name)) return;
      await startOne(h);
    },
  };

  // A random port may be taken by someone else: then every host moves to another one.
  for (let attempt = 1; ; attempt++) {
    try {
      // Bounded parallelism: starting hundreds at once only makes them fight for the CPU.
      const queue = [...hosts];
      const workers = Array.from({ length: Math.min(16, queue.length) }, async () => {
        for (let h = queue.shift(); h !== undefined; h = queue.shift()) await startOne(h);
      });
      await Promise.all(workers);
      break;
    } catch (e) {
      await fleet.stop();
      if (opts.basePort !== undefined || attempt >= 5) throw e;
      const next = randomPort();
      for (const h of hosts) h.port = next;
      await writeKnownHosts();
    }
  }
  return fleet;
}

/**
 * A real PostgreSQL 15 cluster for the lab and the integration tests. The server binaries refuse to
 * run as root, so initdb/pg_ctl run as the `postgres` OS user (runuser). The cluster listens on
 * 127.0.0.1 only, keeps its socket, log and data inside one directory, and is stopped with
 * `pg_ctl stop -m fast` (never by killing processes by name). The superuser password is random,
 * kept in a 0600 root-only file in the cluster dir (so `lab status/down` can reattach) and never printed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const OS_USER = 'postgres';
const PASSWORD_FILE = '.superuser-password';

export interface PgCluster {
  /** The cluster's top directory (data/, socket/, postgres.log live in it). */
  dir: string;
  dataDir: string;
  port: number;
  host: string;
  socketDir: string;
  logFile: string;
  osUser: string;
  superuser: string;
  /** Never print this. */
  superuserPassword: string;
  /** The postmaster's pid (from postmaster.pid). */
  pid: number;
  stop(): Promise<void>;
  reload(): Promise<void>;
  restart(): Promise<void>;
  /** Run SQL as the superuser over the unix socket; returns rows. */
  query(sql: string, params?: unknown[], db?: string): Promise<Record<string, unknown>[]>;
}

export interface StartPgClusterOptions {
  /** Cluster directory (created if absent; made traversable and owned by the postgres user). */
  dir: string;
  /** A free loopback port is chosen when absent. */
  port?: number;
  /**
   * Called after initdb, before the first start: write ssl files, edit postgresql.conf/pg_hba.conf.
   * Files it writes are chowned to the postgres user afterwards (modes are kept).
   */
  configure?: (dataDir: string) => Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; racy only against other port pickers). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

async function asPostgres(argv: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('runuser', ['-u', OS_USER, '--', ...argv], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message?: string };
    const tail = `${err.stderr ?? ''}${err.stdout ?? ''}`.trim().split('\n').slice(-8).join('\n');
    throw new Error(`${argv[0] ?? 'command'} failed as ${OS_USER}: ${tail || err.message}`, { cause: e });
  }
}

async function osIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', OS_USER])).stdout.trim());
  const gid = Number((await run('id', ['-g', OS_USER])).stdout.trim());
  return { uid, gid };
}

/** Fails with a clear message when the postgres user cannot reach `dir` (a 0700 parent). */
async function assertTraversable(dir: string): Promise<void> {
  try {
    await run('runuser', ['-u', OS_USER, '--', 'test', '-x', dir]);
  } catch {
    throw new Error(
      `the ${OS_USER} user cannot traverse ${dir}: every parent directory needs o+x (a mkdtemp directory is 0700: chmod it 0711)`,
    );
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  const st = await stat(path);
  if (!st.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
}

function hbaLines(): string {
  return [
    '# fleetplay lab: written by src/lab/postgres.ts (first match wins)',
    'local   all   all                    trust',
    'host    all   postgres  127.0.0.1/32  scram-sha-256',
    '',
  ].join('\n');
}

function confLines(port: number, socketDir: string): string {
  return [
    '',
    '# fleetplay lab settings',
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    "password_encryption = 'scram-sha-256'",
    'max_connections = 50',
    "shared_buffers = '16MB'",
    'fsync = off',
    'log_connections = on',
    "log_line_prefix = '%m [%p] %u@%d '",
    '',
  ].join('\n');
}

/** initdb, configure, start, and wait until it accepts connections. */
export async function startPgCluster(opts: StartPgClusterOptions): Promise<PgCluster> {
  const dir = resolve(opts.dir);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const { uid, gid } = await osIds();
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  await chown(dir, uid, gid);
  await assertTraversable(dir);
  await mkdir(socketDir, { recursive: true });
  await chown(socketDir, uid, gid);

  const password = randomBytes(18).toString('base64url');
  // initdb reads the password from a file; postgres must read it, nobody else, and it is removed at once.
  const pwTmp = join(dir, `.initdb-pw-${randomBytes(4).toString('hex')}`);
  await writeFile(pwTmp, `${password}\n`, { mode: 0o600 });
  await chown(pwTmp, uid, gid);
  try {
    await asPostgres([
      join(PG_BIN, 'initdb'),
      '-D', dataDir,
      '-U', OS_USER,
      '--pwfile', pwTmp,
      '-A', 'trust',
      '-E', 'UTF8',
      '--locale', 'C',
      '--no-sync',
      '--no-instructions',
    ]);
  } finally {
    await rm(pwTmp, { force: true });
  }
  await writeFile(join(dir, PASSWORD_FILE), password, { mode: 0o600 });

  const port = opts.port ?? (await freePort());
  await appendFile(join(dataDir, 'postgresql.conf'), confLines(port, socketDir));
  await writeFile(join(dataDir, 'pg_hba.conf'), hbaLines());
  if (opts.configure) await opts.configure(dataDir);
  await chownTree(dataDir, uid, gid);

  const cluster = makeCluster(dir, port, password, 0);
  await pgCtl(cluster, ['start', '-w', '-t', '60', '-l', cluster.logFile]);
  cluster.pid = await readPid(dataDir);
  return cluster;
}

/**
 * Reattach to a running (or stopped) cluster made by startPgCluster, from its directory
 * (the one holding data/) or its data directory.
 */
export async function attachPgCluster(dirOrDataDir: string): Promise<PgCluster> {
  let dir = resolve(dirOrDataDir);
  if (dir.endsWith('/data')) dir = dirname(dir);
  const dataDir = join(dir, 'data');
  const conf = await readFile(join(dataDir, 'postgresql.conf'), 'utf8').catch(() => {
    throw new Error(`no PostgreSQL cluster at ${dataDir} (postgresql.conf missing)`);
  });
  const ports = [...conf.matchAll(/^\s*port\s*=\s*(\d+)/gm)];
  const port = Number(ports.at(-1)?.[1] ?? 5432);
  const password = (await readFile(join(dir, PASSWORD_FILE), 'utf8').catch(() => '')).trim();
  const pid = await readPid(dataDir).catch(() => 0);
  return makeCluster(dir, port, password, pid);
}

/** The postmaster pid from postmaster.pid (first line). */
async function readPid(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8');
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad postmaster.pid in ${dataDir}`);
  return pid;
}

async function pgCtl(c: PgCluster, args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  try {
    await asPostgres([join(PG_BIN, 'pg_ctl'), '-D', c.dataDir, ...rest, verb ?? 'status']);
  } catch (e) {
    const log = await readFile(c.logFile, 'utf8').catch(() => '');
    const tail = log.trim().split('\n').slice(-6).join('\n');
    throw new Error(`pg_ctl ${verb} failed for ${c.dataDir}: ${(e as Error).message}\nserver log tail:\n${tail}`, { cause: e });
  }
}

function makeCluster(dir: string, port: number, password: string, pid: number): PgCluster {
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const c: PgCluster = {
    dir,
    dataDir,
    port,
    host: '127.0.0.1',
    socketDir,
    logFile: join(dir, 'postgres.log'),
    osUser: OS_USER,
    superuser: OS_USER,
    superuserPassword: password,
    pid,
    async stop() {
      await pgCtl(c, ['stop', '-m', 'fast', '-w', '-t', '60']);
    },
    async reload() {
      await pgCtl(c, ['reload']);
    },
    async restart() {
      await pgCtl(c, ['restart', '-m', 'fast', '-w', '-t', '60', '-l', c.logFile]);
      c.pid = await readPid(dataDir);
    },
    async query(sql, params, db) {
      const client = new pg.Client({ host: socketDir, port, user: OS_USER, database: db ?? 'postgres' });
      await client.connect();
      try {
        const r = await client.query(sql, params as unknown[] | undefined);
        return r.rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
  };
  return c;
}

/**
 * Test support: a real PostgreSQL cluster with SSL and client-certificate auth, laid out like a PEM
 * server (root.crt, root.crl, server.crt/key in PGDATA; `hostssl pem +pem_agent 127.0.0.0/8 cert`),
 * plus small openssl-CLI certificate authorities to issue, revoke and publish CRLs, and a minimal
 * local Connection so task modules can be exercised against the controller itself.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Step, StepApi } from '../../src/tasks/steps.js';
import type { TaskContext } from '../../src/tasks/types.js';
import type { Connection, RemoteStat } from '../../src/transport/types.js';
import { startPgCluster } from '../../src/lab/postgres.js';
import type { PgCluster } from '../../src/lab/postgres.js';

const run = promisify(execFile);

async function openssl(args: string[], cwd?: string): Promise<string> {
  try {
    const r = await run('openssl', args, { cwd });
    return r.stdout;
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? String(e)}`, { cause: e });
  }
}

export interface IssuedCert {
  cert: string;
  key: string;
}

/** A throwaway CA driven by the openssl CLI (EC P-256 keys: fast). */
export interface TestCa {
  cn: string;
  dir: string;
  cert: string;
  key: string;
  /** Issue a leaf certificate; `server` adds serverAuth and SANs (default 127.0.0.1, localhost). */
  issue(cn: string, opts?: { server?: boolean; sans?: string[]; name?: string }): Promise<IssuedCert>;
  revoke(certPath: string): Promise<void>;
  /** Write a fresh CRL (PEM) to `out` (default <dir>/ca.crl) and return its path. */
  crl(out?: string): Promise<string>;
}

export async function makeTestCa(dir: string, cn: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  await openssl([
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  const cnf = join(dir, 'ca.cnf');
  await writeFile(
    cnf,
    [
      '[ ca ]',
      'default_ca = CA_default',
      '[ CA_default ]',
      `database = ${join(dir, 'index.txt')}`,
      `crlnumber = ${join(dir, 'crlnumber')}`,
      `certificate = ${cert}`,
      `private_key = ${key}`,
      'default_md = sha256',
      'default_crl_days = 30',
      '',
    ].join('\n'),
  );
  const ca: TestCa = {
    cn,
    dir,
    cert,
    key,
    async issue(leafCn, opts = {}) {
      const base = join(dir, opts.name ?? leafCn.replace(/[^A-Za-z0-9_.-]/g, '_'));
      const leafKey = `${base}.key`;
      const csr = `${base}.csr`;
      const leafCert = `${base}.crt`;
      const ext = `${base}.ext`;
      await openssl([
        'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', leafKey, '-out', csr, '-subj', `/CN=${leafCn}`,
      ]);
      const sans = opts.sans ?? ['IP:127.0.0.1', 'DNS:localhost'];
      await writeFile(
        ext,
        [
          '[ v3 ]',
          'basicConstraints = critical,CA:FALSE',
          'keyUsage = critical,digitalSignature,keyEncipherment',
          `extendedKeyUsage = ${opts.server ? 'serverAuth' : 'clientAuth'}`,
          ...(opts.server ? [`subjectAltName = ${sans.join(',')}`] : []),
          '',
        ].join('\n'),
      );
      await openssl([
        'x509', '-req', '-in', csr, '-CA', cert, '-CAkey', key, '-days', '30', '-sha256',
        '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-extfile', ext, '-extensions', 'v3', '-out', leafCert,
      ]);
      return { cert: leafCert, key: leafKey };
    },
    async revoke(certPath) {
      await openssl(['ca', '-config', cnf, '-revoke', certPath, '-batch']);
    },
    async crl(out = join(dir, 'ca.crl')) {
      await openssl(['ca', '-config', cnf, '-gencrl', '-out', out, '-batch']);
      return out;
    },
  };
  return ca;
}

export interface SslTestCluster {
  cluster: PgCluster;
  /** The CA whose certificate is root.crt and whose CRL is root.crl. */
  ca: TestCa;
  /** Paths inside PGDATA. */
  serverCert: string;
  serverKey: string;
  rootCrt: string;
  rootCrl: string;
  /** Client certificate for the `agent1` role, issued by `ca`. */
  agent1: IssuedCert;
  /** Replace root.crl (atomically, owned by postgres) and reload the server. */
  setRootCrl(pem: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A PEM-like SSL cluster: ssl=on with server.crt/server.key, ssl_ca_file=root.crt,
 * ssl_crl_file=root.crl (a CRL from the CA), a `pem` database, a NOLOGIN `pem_agent` role and an
 * `agent1` login role that is a member of it.
 */
export async function startSslPgCluster(dir: string): Promise<SslTestCluster> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o711); // the postgres user must traverse it (mkdtemp makes it 0700)
  const ca = await makeTestCa(join(dir, 'ca'), 'fleetplay test CA');
  const server = await ca.issue('PEM', { server: true, name: 'server' });
  const agent1 = await ca.issue('agent1');
  const crl = await ca.crl();
  let dataDir = '';
  const cluster = await startPgCluster({
    dir: join(dir, 'pg'),
    async configure(d) {
      dataDir = d;
      await copyFile(server.cert, join(d, 'server.crt'));
      await copyFile(server.key, join(d, 'server.key'));
      await copyFile(ca.cert, join(d, 'root.crt'));
      await copyFile(crl, join(d, 'root.crl'));
      await writeFile(
        join(d, 'postgresql.conf'),
        [
          'ssl = on',
          "ssl_cert_file = 'server.crt'",
          "ssl_key_file = 'server.key'",
          "ssl_ca_file = 'root.crt'",
          "ssl_crl_file = 'root.crl'",
          '',
        ].join('\n'),
        { flag: 'a' },
      );
      const hba = await readFile(join(d, 'pg_hba.conf'), 'utf8');
      await writeFile(join(d, 'pg_hba.conf'), `hostssl pem +pem_agent 127.0.0.0/8 cert\n${hba}`);
    },
  });
  await cluster.query('CREATE DATABASE pem');
  await cluster.query('CREATE ROLE pem_agent NOLOGIN');
  await cluster.query('CREATE ROLE agent1 LOGIN IN ROLE pem_agent');
  const rootCrl = join(dataDir, 'root.crl');
  return {
    cluster,
    ca,
    serverCert: join(dataDir, 'server.crt'),
    serverKey: join(dataDir, 'server.key'),
    rootCrt: join(dataDir, 'root.crt'),
    rootCrl,
    agent1,
    async setRootCrl(pem) {
      const tmp = `${rootCrl}.tmp`;
      await writeFile(tmp, pem, { mode: 0o600 });
      await run('chown', [`${cluster.osUser}:`, tmp]);
      await rename(tmp, rootCrl);
      await cluster.reload();
      // The postmaster reloads asynchronously after SIGHUP; give it a moment to rebuild the SSL context.
      await new Promise((r) => setTimeout(r, 500));
    },
    stop: () => cluster.stop(),
  };
}

/** SHA-256 fingerprint of a PEM certificate file, as openssl prints it (colon hex, upper case). */
export async function fingerprintOf(certPath: string): Promise<string> {
  return new X509Certificate(await readFile(certPath)).fingerprint256;
}

/**
 * A minimal Connection to the controller itself, for tests of task modules (the real local and ssh
 * transports are tested on their own). exec never throws for a non-zero exit.
 */
export function localTestConnection(name = 'localhost'): Connection {
  return {
    host: name,
    kind: 'local',
    async exec(argv, opts = {}) {
      const started = Date.now();
      const [file, ...args] = argv;
      return new Promise((res) => {
        const child = execFile(
          file ?? 'true',
          args,
          { env: { ...process.env, ...(opts.env ?? {}) }, cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 16 << 20 },
          (err, stdout, stderr) => {
            const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: string | null }) | null;
            const exitCode = e === null ? 0 : typeof e.code === 'number' ? e.code : e.code === 'ENOENT' ? 127 : 1;
            res({ argv, exitCode, signal: e?.signal ?? null, stdout: String(stdout), stderr: String(stderr), durationMs: Date.now() - started });
          },
        );
        if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
        else child.stdin?.end();
      });
    },
    async stat(path) {
      const st = await lstat(path).catch(() => null);
      if (st === null) return null;
      const type: RemoteStat['type'] = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
      return { path, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, owner: String(st.uid), group: String(st.gid), size: st.size, mtimeMs: st.mtimeMs };
    },
    async readFile(path) {
      return readFile(path).catch(() => null);
    },
    async writeFileAtomic(path, data, opts) {
      const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
      await writeFile(tmp, data, { mode: opts.mode });
      await rename(tmp, path);
    },
    async forwardTcp(host, port) {
      return new Promise((res, rej) => {
        const s = connect({ host, port }, () => res(s));
        s.once('error', rej);
      });
    },
    async close() {},
  };
}

/** A TaskContext for calling a module's plan() directly (the runner is tested on its own). */
export function testTaskContext<A>(
  args: A,
  opts: { conn?: Connection; check?: boolean; tunnel?: boolean; host?: string } = {},
): { ctx: TaskContext<A>; secrets: string[] } {
  const conn = opts.conn ?? localTestConnection(opts.host ?? 'localhost');
  const secrets: string[] = [];
  const ctx: TaskContext<A> = {
    args,
    host: { name: conn.host, vars: {} },
    probe: conn,
    probeHost: async () => conn,
    check: opts.check ?? false,
    runId: 'test-run',
    backupDir: '/tmp/fleetplay-test-backups',
    taskKey: 'test-task',
    runDir: '/tmp/fleetplay-test-run',
    registered: {},
    addSecret: (v) => secrets.push(v),
    signal: new AbortController().signal,
    ...(opts.tunnel ? { openTcp: (h: string, p: number) => conn.forwardTcp(h, p) } : {}),
  };
  return { ctx, secrets };
}

/** Run a plan's call steps the way the runner would on apply; returns each step's result. */
export async function runCallSteps(steps: readonly Step[], conn: Connection = localTestConnection()): Promise<unknown[]> {
  const api: StepApi = {
    conn,
    connectionFor: async () => conn,
    captures: new Map(),
    signal: new AbortController().signal,
    addSecret: () => undefined,
  };
  const out: unknown[] = [];
  for (const s of steps) {
    if (s.kind !== 'call') throw new Error(`runCallSteps only runs call steps, got ${s.kind}`);
    out.push(await s.run(api));
  }
  return out;
}

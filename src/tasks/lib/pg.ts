/**
 * Database connections for the sql, pg_connect and tls_probe modules: one place that turns a
 * target (host, port, user, sslmode, certificate paths) into a connected pg.Client, either directly
 * from the controller or through the host's SSH tunnel, and that turns connection failures into a
 * message with the server's words and a hint. Certificate and key files are read from the target
 * host into memory (never written on the controller); key contents and passwords are marked secret.
 */
import { X509Certificate } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { checkServerIdentity } from 'node:tls';
import pg from 'pg';

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** Where and how to connect. Paths are on the host whose files `PgAccess.readFile` reads. */
export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Never printed. */
  password?: string;
  sslmode: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  /** Connect through `PgAccess.openTcp` (an SSH direct-tcpip channel) instead of from the controller. */
  tunnel: boolean;
}

export interface PgAccess {
  readFile(path: string): Promise<Buffer | null>;
  openTcp?: (host: string, port: number) => Promise<Duplex>;
  addSecret(value: string): void;
}

/** A connection failure, already explained: `message` quotes the server/TLS error, `hint` says what to check. */
export class PgConnectError extends Error {
  readonly hint: string;
  readonly pgCode: string | undefined;
  constructor(message: string, hint: string, pgCode: string | undefined, cause: unknown) {
    super(message, { cause });
    this.name = 'PgConnectError';
    this.hint = hint;
    this.pgCode = pgCode;
  }
}

export function describeTarget(t: PgTarget): string {
  return `${t.user}@${t.host}:${t.port}/${t.database}${t.tunnel ? ' (through the SSH tunnel)' : ''}`;
}

async function readRequired(access: PgAccess, path: string, what: string): Promise<string> {
  const data = await access.readFile(path);
  if (data === null) throw new PgConnectError(`${what} ${path} does not exist`, `check the ${what} path`, undefined, undefined);
  return data.toString('utf8');
}

/** pg's `ssl` option for a libpq-style sslmode (require + a root cert behaves like verify-ca, as in libpq). */
async function sslOption(t: PgTarget, access: PgAccess): Promise<pg.ClientConfig['ssl']> {
  if (t.sslmode === 'disable') return false;
  const opt: Record<string, unknown> = { rejectUnauthorized: false };
  if (t.sslcert !== undefined) opt.cert = await readRequired(access, t.sslcert, 'client certificate');
  if (t.sslkey !== undefined) {
    const key = await readRequired(access, t.sslkey, 'client key');
    access.addSecret(key);
    opt.key = key;
  }
  const verify = t.sslmode === 'verify-ca' || t.sslmode === 'verify-full' || (t.sslmode === 'require' && t.sslrootcert !== undefined);
  if (verify) {
    if (t.sslrootcert === undefined) {
      throw new PgConnectError(`sslmode ${t.sslmode} needs sslrootcert`, 'set sslrootcert to the CA file that signed the server certificate', undefined, undefined);
    }
    opt.ca = await readRequired(access, t.sslrootcert, 'root certificate');
    opt.rejectUnauthorized = true;
    opt.checkServerIdentity =
      t.sslmode === 'verify-full' ? (_h: string, cert: PeerCertificate) => checkServerIdentity(t.host, cert) : () => undefined;
  }
  return opt as pg.ClientConfig['ssl'];
}

/** pg drives its stream like a net.Socket (connect, setNoDelay); make an SSH channel look like one. */
function socketLike(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>;
  for (const m of ['setNoDelay', 'setKeepAlive', 'ref', 'unref']) if (typeof s[m] !== 'function') s[m] = () => s;
  s.connect = () => {
    process.nextTick(() => s.emit('connect'));
    return s;
  };
  return s;
}

async function openClient(t: PgTarget, access: PgAccess, ssl: pg.ClientConfig['ssl'], timeoutMs: number): Promise<pg.Client> {
  let stream: Duplex | undefined;
  if (t.tunnel) {
    if (!access.openTcp) throw new PgConnectError('no SSH tunnel is available for this host', 'set tunnel: false to connect from the controller', undefined, undefined);
    try {
      stream = socketLike(await access.openTcp(t.host, t.port));
    } catch (e) {
      throw explainPgError(e, t);
    }
  }
  const client = new pg.Client({
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    password: t.password,
    ssl,
    connectionTimeoutMillis: timeoutMs,
    application_name: 'fleetplay',
    ...(stream ? { stream: () => stream } : {}),
  } as pg.ClientConfig);
  client.on('error', () => undefined); // errors after connect surface on the next query
  try {
    await client.connect();
  } catch (e) {
    // pg's end() can wait forever after a failed TLS connect (the close event is already gone).
    destroyStream(client);
    throw explainPgError(e, t);
  }
  return client;
}

function destroyStream(c: pg.Client): void {
  (c as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/** end() with a bound: a connection the server already dropped is destroyed instead of awaited. */
export async function closePg(c: pg.Client, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    c.end().then(() => true, () => true),
    new Promise<boolean>((res) => {
      timer = setTimeout(() => res(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!ended) destroyStream(c);
}

/** Connect, or throw PgConnectError. `prefer` tries TLS first and falls back to plain like libpq. */
export async function connectPg(t: PgTarget, access: PgAccess, timeoutMs = 10_000): Promise<pg.Client> {
  if (t.password !== undefined && t.password !== '') access.addSecret(t.password);
  const ssl = await sslOption(t, access);
  if (t.sslmode !== 'prefer') return openClient(t, access, ssl, timeoutMs);
  try {
    return await openClient(t, access, ssl, timeoutMs);
  } catch (e) {
    if (e instanceof PgConnectError && /does not support SSL/i.test(e.message)) return openClient(t, access, false, timeoutMs);
    throw e;
  }
}

export async function withPg<T>(t: PgTarget, access: PgAccess, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectPg(t, access);
  try {
    return await fn(client);
  } finally {
    await closePg(client);
  }
}

/** SQLSTATE of "cannot execute X in a read-only transaction". */
export const READ_ONLY_VIOLATION = '25006';

/** Run a statement inside BEGIN READ ONLY ... ROLLBACK, so it cannot change anything. */
export async function readOnlyQuery(c: pg.Client, sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
  await c.query('BEGIN TRANSACTION READ ONLY');
  try {
    const r = await c.query(sql, params as unknown[]);
    return r.rows as Record<string, unknown>[];
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
  }
}

/** The SQLSTATE of a pg error, if any. */
export function pgCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Node prints OpenSSL errors as `80EC...:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert
 * unknown ca:../deps/...`; keep the reason, worded as libpq/psql word it ("SSL error: ...").
 */
export function opensslReason(message: string): string {
  const m = /error:[0-9A-F]+:SSL routines:[^:]*:([^:]+)(?::|$)/.exec(message);
  return m?.[1] ? `SSL error: ${m[1].trim()}` : message.trim();
}

/** A connection failure as one clear message (the server's/TLS's own words) and a hint. */
export function explainPgError(e: unknown, t: PgTarget): PgConnectError {
  if (e instanceof PgConnectError) return e;
  const raw = opensslReason(e instanceof Error ? e.message : String(e));
  const code = pgCode(e);
  const errno = (e as { code?: unknown } | null)?.code;
  const where = describeTarget(t);
  const msg = `cannot connect as ${where}: ${raw}`;
  let hint = `is PostgreSQL running and listening there? does pg_hba.conf have a rule for user ${t.user}, database ${t.database} from this address?`;
  if (errno === 'ECONNREFUSED' || errno === 'EHOSTUNREACH' || errno === 'ETIMEDOUT' || /timeout/i.test(raw)) {
    hint = `is PostgreSQL running and listening on ${t.host}:${t.port} (listen_addresses, port)?${t.tunnel ? '' : ' If it is only reachable from the host, set tunnel: true.'}`;
  } else if (/unknown ca/i.test(raw)) {
    hint = `the server did not accept the client certificate's CA: root.crt (ssl_ca_file) must contain its issuer, and root.crl (ssl_crl_file) must hold a current CRL from every CA in root.crt — a missing or foreign CRL gives the same "unknown ca"`;
  } else if (/certificate has expired|certificate expired/i.test(raw)) {
    hint = 'a certificate has expired: check notAfter of the client certificate and of the server certificate';
  } else if (/self[- ]signed|unable to (get|verify)|verify failed/i.test(raw)) {
    hint = 'the server certificate does not chain to sslrootcert: use the CA that signed server.crt, or sslmode=require';
  } else if (/altnames|hostname|does not match/i.test(raw)) {
    hint = `verify-full: the server certificate's SAN/CN does not name ${t.host}`;
  } else if (/certificate authentication failed/i.test(raw)) {
    hint = `the certificate's CN must equal the database user ${t.user} (or a pg_ident map= must map it)`;
  } else if (code === '28P01') {
    hint = `the password for ${t.user} was rejected: check the environment variable named in password_env`;
  } else if (code === '28000') {
    hint = `add a pg_hba.conf rule for user ${t.user}, database ${t.database} from this address (hostssl ... cert for certificates) and reload`;
  } else if (code === '3D000') {
    hint = `create database ${t.database}, or set db:`;
  } else if (/does not support SSL/i.test(raw)) {
    hint = 'the server has ssl = off: turn it on or use sslmode=disable/prefer';
  } else if (/bad decrypt|private key|key values mismatch|PEM/i.test(raw)) {
    hint = 'the client key does not load or does not match the certificate: check sslkey and sslcert';
  }
  return new PgConnectError(msg, hint, code, e);
}

/** The certificate the server presented on a connected TLS client (pg internals), or null. */
export function serverCertificate(c: pg.Client): DetailedPeerCertificate | null {
  const stream = (c as unknown as { connection?: { stream?: Partial<TLSSocket> } }).connection?.stream;
  if (!stream || typeof stream.getPeerCertificate !== 'function') return null;
  const cert = stream.getPeerCertificate(true);
  return cert && cert.raw ? cert : null;
}

export interface CertFacts {
  subject: string;
  issuer: string;
  serial: string;
  /** SHA-256, colon hex upper case (as `openssl x509 -fingerprint -sha256` prints it). */
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  /** Subjects of the presented chain, leaf first. */
  chain: string[];
}

function dn(text: string): string {
  return text.split('\n').filter(Boolean).join(', ');
}

/** Facts about a presented certificate and its chain (as far as the peer sent it). */
export function certFacts(peer: DetailedPeerCertificate): CertFacts {
  const leaf = new X509Certificate(peer.raw);
  const chain: string[] = [];
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = peer;
  while (cur && cur.raw && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    chain.push(dn(new X509Certificate(cur.raw).subject));
    cur = cur.issuerCertificate;
  }
  return {
    subject: dn(leaf.subject),
    issuer: dn(leaf.issuer),
    serial: leaf.serialNumber,
    fingerprint: leaf.fingerprint256,
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    chain,
  };
}

/** Whether host:port accepts a TCP connection from the controller within `timeoutMs`. */
export async function tcpReachable(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((res) => {
    const s = netConnect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * pg_connect: prove that a client certificate logs in (PEM verification test 2). Connects as `user`
 * with the cert/key and registers the server version, what pg_stat_ssl saw (TLS version, the client
 * DN) and the SHA-256 fingerprint of the certificate the server presented.
 *
 * from: controller — the cert/key are read from the target host into memory (never written on the
 * controller; the key is marked secret) and pg connects from the controller.
 * from: host — psql runs on the target host with PGSSLCERT/PGSSLKEY/PGSSLMODE and PGDATABASE set
 * (the documented test omits PGDATABASE, so psql picks a database named like the user).
 * Read-only: never changes anything; a refused login is `failed` with the server's words and a hint.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { explainFailure } from './steps.js';
import { defineTask, noChange } from './types.js';
import type { Plan, TaskContext } from './types.js';
import { PgConnectError, certFacts, explainPgError, serverCertificate, withPg } from './lib/pg.js';
import type { PgAccess, PgTarget } from './lib/pg.js';

const portArg = z.union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}$/).transform(Number)]);

export const pgConnectArgs = z
  .object({
    host: z.string().min(1),
    port: portArg.default(5432),
    db: z.string().min(1).default('pem'),
    user: z.string().min(1),
    sslcert: z.string().min(1),
    sslkey: z.string().min(1),
    sslrootcert: z.string().min(1).optional(),
    sslmode: z.enum(['require', 'verify-ca', 'verify-full']).default('require'),
    from: z.enum(['controller', 'host']).default('controller'),
    tunnel: z.boolean().default(false),
  })
  .strict();

export type PgConnectArgs = z.infer<typeof pgConnectArgs>;

const SSL_INFO = 'SELECT version() AS version, current_user AS user, s.ssl, s.version AS tls_version, s.client_dn FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()';

function fail(message: string, hint: string): Plan {
  return { changed: false, steps: [], failed: `${message}\n  fix: ${hint}`, result: { connected: false, error: message, hint } };
}

async function fromController(ctx: TaskContext<PgConnectArgs>): Promise<Plan> {
  const a = ctx.args;
  const target: PgTarget = {
    host: a.host, port: a.port, database: a.db, user: a.user, sslmode: a.sslmode, tunnel: a.tunnel,
    sslcert: a.sslcert, sslkey: a.sslkey, ...(a.sslrootcert ? { sslrootcert: a.sslrootcert } : {}),
  };
  const access: PgAccess = {
    readFile: (p) => ctx.probe.readFile(p),
    addSecret: (v) => ctx.addSecret(v),
    ...(ctx.openTcp ? { openTcp: (h: string, p: number) => ctx.openTcp!(h, p) } : {}),
  };
  try {
    return await withPg(target, access, async (c) => {
      const row = (await c.query(SSL_INFO)).rows[0] as Record<string, unknown> | undefined;
      const peer = serverCertificate(c);
      const facts = peer ? certFacts(peer) : null;
      return noChange(`${a.user} logged in to ${a.host}:${a.port}/${a.db} with ${a.sslcert}`, {
        connected: true,
        server_version: row?.version ?? null,
        user: row?.user ?? null,
        tls_version: row?.tls_version ?? null,
        client_dn: row?.client_dn ?? null,
        server_fingerprint: facts?.fingerprint ?? null,
        server_subject: facts?.subject ?? null,
      });
    });
  } catch (e) {
    const err = e instanceof PgConnectError ? e : explainPgError(e, target);
    return fail(err.message, err.hint);
  }
}

/** The server certificate as `openssl s_client -starttls postgres` sees it from the host (best effort). */
async function fingerprintFromHost(ctx: TaskContext<PgConnectArgs>): Promise<string | null> {
  const a = ctx.args;
  const r = await ctx.probe.exec(['openssl', 's_client', '-connect', `${a.host}:${a.port}`, '-starttls', 'postgres'], { stdin: '', timeoutMs: 15_000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  if (!pem) return null;
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return null;
  }
}

async function fromHost(ctx: TaskContext<PgConnectArgs>): Promise<Plan> {
  const a = ctx.args;
  const env: Record<string, string> = {
    PGHOST: a.host, PGPORT: String(a.port), PGDATABASE: a.db, PGUSER: a.user,
    PGSSLMODE: a.sslmode, PGSSLCERT: a.sslcert, PGSSLKEY: a.sslkey, PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'fleetplay',
  };
  if (a.sslrootcert) env.PGSSLROOTCERT = a.sslrootcert;
  const r = await ctx.probe.exec(['psql', '-X', '-A', '-t', '-F', '\t', '-w', '-c', SSL_INFO], { env, timeoutMs: 30_000 });
  if (r.exitCode !== 0) {
    const why = explainFailure(r);
    const hint = explainPgError(new Error(r.stderr), {
      host: a.host, port: a.port, database: a.db, user: a.user, sslmode: a.sslmode, tunnel: false,
    }).hint;
    return fail(`psql on ${ctx.host.name} as ${a.user}@${a.host}:${a.port}/${a.db} failed: ${why}`, r.exitCode === 127 ? 'install the PostgreSQL client (psql) on the host' : hint);
  }
  const [version, user, , tlsVersion, clientDn] = r.stdout.replace(/\n$/, '').split('\t');
  return noChange(`${a.user} logged in to ${a.host}:${a.port}/${a.db} from ${ctx.host.name} with ${a.sslcert}`, {
    connected: true,
    server_version: version ?? null,
    user: user ?? null,
    tls_version: tlsVersion || null,
    client_dn: clientDn || null,
    server_fingerprint: await fingerprintFromHost(ctx),
  });
}

export const pgConnectTask = defineTask({
  name: 'pg_connect',
  args: pgConnectArgs,
  async plan(ctx) {
    return ctx.args.from === 'host' ? fromHost(ctx) : fromController(ctx);
  },
});

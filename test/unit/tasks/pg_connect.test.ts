/**
 * pg_connect: argument handling and the `from: host` path against a fake host whose psql behaves
 * like the real one (no PGDATABASE: it picks a database named after the user, which the PEM hba rule
 * does not match). The real logins are in test/integration/postgres-tasks.test.ts.
 */
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pgConnectArgs, pgConnectTask } from '../../../src/tasks/pg_connect.js';
import type { CommandResult, Connection, ExecOptions } from '../../../src/transport/types.js';
import { localTestConnection, testTaskContext } from '../../support/pg-cluster.js';

const base = { host: 'pem.example', port: 5432, user: 'agent7', sslcert: '/root/.pem/agent7.crt', sslkey: '/root/.pem/agent7.key' };

function selfSigned(): string {
  const d = mkdtempSync(join(tmpdir(), 'fp-unit-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(d, 'k'), '-out', join(d, 'c'), '-days', '2', '-subj', '/CN=PEM'], { stdio: 'ignore' });
  return readFileSync(join(d, 'c'), 'utf8');
}

/** A host where psql and openssl s_client act like the real ones for this scenario. */
function fakeHost(opts: { caTrusted: boolean; serverPem: string }): Connection {
  const real = localTestConnection('agent7');
  const res = (argv: readonly string[], exitCode: number, stdout: string, stderr = ''): CommandResult => ({ argv, exitCode, signal: null, stdout, stderr, durationMs: 1 });
  return {
    ...real,
    async exec(argv: readonly string[], o: ExecOptions = {}) {
      const env = o.env ?? {};
      if (argv[0] === 'psql') {
        const db = env.PGDATABASE ?? env.PGUSER;
        if (!opts.caTrusted) return res(argv, 2, '', `psql: error: connection to server at "${env.PGHOST}", port ${env.PGPORT} failed: SSL error: tlsv1 alert unknown ca\n`);
        if (db !== 'pem') return res(argv, 2, '', `psql: error: connection to server failed: FATAL:  no pg_hba.conf entry for host "10.0.0.7", user "${env.PGUSER}", database "${db}", SSL encryption\n`);
        return res(argv, 0, `PostgreSQL 15.18 on x86_64\t${env.PGUSER}\tt\tTLSv1.3\t/CN=${env.PGUSER}\n`);
      }
      if (argv[0] === 'openssl' && argv[1] === 's_client') return res(argv, 0, `CONNECTED(00000003)\n---\nServer certificate\n${opts.serverPem}subject=CN = PEM\n`);
      return res(argv, 127, '', 'not faked');
    },
  };
}

describe('pg_connect args', () => {
  it('defaults: db pem, sslmode require, from controller', () => {
    expect(pgConnectArgs.parse(base)).toMatchObject({ db: 'pem', sslmode: 'require', from: 'controller', tunnel: false });
  });
  it.each([
    [{ ...base, sslmode: 'disable' }, /sslmode/],
    [{ ...base, sslkey: undefined }, /sslkey/],
    [{ ...base, from: 'elsewhere' }, /from/],
    [{ ...base, password: 'x' }, /password/],
  ])('refuses %j', (raw, msg) => {
    const r = pgConnectArgs.safeParse(raw);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(msg);
  });
});

describe('pg_connect from: host', () => {
  const serverPem = selfSigned();

  it('sets PGDATABASE (pitfall 9), so the login matches the hostssl pem rule, and reports the served cert', async () => {
    const { ctx } = testTaskContext(pgConnectArgs.parse({ ...base, from: 'host' }), { conn: fakeHost({ caTrusted: true, serverPem }) });
    const p = await pgConnectTask.plan(ctx);
    expect(p.failed).toBeUndefined();
    expect(p.changed).toBe(false);
    expect(p.reason).toMatch(/agent7 logged in to pem\.example:5432\/pem from agent7/);
    expect(p.result).toMatchObject({ connected: true, user: 'agent7', tls_version: 'TLSv1.3', client_dn: '/CN=agent7' });
    expect(p.result?.server_fingerprint).toBe(new X509Certificate(serverPem).fingerprint256);
  });

  it('fails with psql\'s words and the CRL hint on "unknown ca"', async () => {
    const { ctx } = testTaskContext(pgConnectArgs.parse({ ...base, from: 'host' }), { conn: fakeHost({ caTrusted: false, serverPem }) });
    const p = await pgConnectTask.plan(ctx);
    expect(p.changed).toBe(false);
    expect(p.steps).toEqual([]);
    expect(p.failed).toMatch(/exit 2: psql: error: .*SSL error: tlsv1 alert unknown ca/);
    expect(p.failed).toMatch(/fix: .*root\.crl/);
    expect(p.result?.connected).toBe(false);
  });
});

describe('pg_connect from: controller', () => {
  it('fails clearly when the key file is missing on the host (nothing is written anywhere)', async () => {
    const { ctx } = testTaskContext(pgConnectArgs.parse({ ...base, host: '127.0.0.1', port: 1, sslcert: '/nonexistent/a.crt', sslkey: '/nonexistent/a.key' }));
    const p = await pgConnectTask.plan(ctx);
    expect(p.failed).toMatch(/client certificate \/nonexistent\/a\.crt does not exist/);
  });
});

/**
 * sql, pg_connect and tls_probe against a real PostgreSQL 15 cluster with SSL and client-certificate
 * auth (PEM layout: root.crt, root.crl, `hostssl pem +pem_agent 127.0.0.0/8 cert`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskError } from '../../src/errors.js';
import { pgConnectTask } from '../../src/tasks/pg_connect.js';
import { sqlTask } from '../../src/tasks/sql.js';
import { tlsProbeTask } from '../../src/tasks/tls_probe.js';
import type { Plan, TaskModule } from '../../src/tasks/types.js';
import { makeTestCa, runCallSteps, startSslPgCluster, testTaskContext } from '../support/pg-cluster.js';
import type { SslTestCluster, TestCa } from '../support/pg-cluster.js';

let dir = '';
let s: SslTestCluster;
let foreign: TestCa;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetplay-pg-'));
  s = await startSslPgCluster(dir);
  foreign = await makeTestCa(join(dir, 'foreign-ca'), 'foreign CA');
  await s.cluster.query('CREATE ROLE agent2 LOGIN IN ROLE pem_agent');
  await s.cluster.query('CREATE ROLE intruder LOGIN IN ROLE pem_agent');
});

afterAll(async () => {
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function plan(task: TaskModule, raw: unknown, opts: Parameters<typeof testTaskContext>[1] = {}) {
  const { ctx, secrets } = testTaskContext(task.args.parse(raw), opts);
  return { plan: await task.plan(ctx), secrets };
}

function login(cert: { cert: string; key: string }, user: string, extra: Record<string, unknown> = {}) {
  return plan(pgConnectTask, { host: '127.0.0.1', port: s.cluster.port, user, sslcert: cert.cert, sslkey: cert.key, ...extra });
}

async function roleExists(name: string): Promise<boolean> {
  return (await s.cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length > 0;
}

function opensslFingerprint(path: string): string {
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path]).toString();
  return out.trim().replace(/^.*Fingerprint=/i, '');
}

describe('pg_connect', () => {
  it('logs in with a client certificate from the cluster CA and reports the served certificate', async () => {
    const { plan: p, secrets } = await login(s.agent1, 'agent1');
    expect(p.failed).toBeUndefined();
    expect(p.changed).toBe(false);
    expect(p.result?.connected).toBe(true);
    expect(p.result?.user).toBe('agent1');
    expect(p.result?.client_dn).toBe('/CN=agent1');
    expect(String(p.result?.server_version)).toMatch(/^PostgreSQL 15/);
    expect(p.result?.server_fingerprint).toBe(opensslFingerprint(s.serverCert));
    expect(secrets).toContain(await readFile(s.agent1.key, 'utf8'));
  });

  it('logs in from the host with psql (PGDATABASE set) and verify-full against root.crt', async () => {
    const { plan: p } = await login(s.agent1, 'agent1', { from: 'host', sslmode: 'verify-full', sslrootcert: s.ca.cert });
    expect(p.failed).toBeUndefined();
    expect(p.result?.user).toBe('agent1');
    expect(p.result?.client_dn).toBe('/CN=agent1');
    expect(p.result?.server_fingerprint).toBe(opensslFingerprint(s.serverCert));
  });

  it('verify-ca fails against a CA that did not sign the server certificate', async () => {
    const { plan: p } = await login(s.agent1, 'agent1', { sslmode: 'verify-ca', sslrootcert: foreign.cert });
    expect(p.failed).toMatch(/unable to (get|verify)|self.signed|verify/i);
  });

  it('refuses a certificate from another CA with "unknown ca"', async () => {
    const intruder = await foreign.issue('intruder');
    const { plan: p } = await login(intruder, 'intruder');
    expect(p.result?.connected).toBe(false);
    expect(p.failed).toMatch(/tlsv1 alert unknown ca/);
    expect(p.failed).toMatch(/root\.crl/); // the hint names the CRL trap
  });

  it('refuses a certificate whose CN is not the user', async () => {
    const { plan: p } = await login(s.agent1, 'agent2');
    expect(p.failed).toMatch(/certificate authentication failed for user "agent2"/);
  });
});

describe('tls_probe', () => {
  it('returns the fingerprint openssl computes for server.crt', async () => {
    const { plan: p } = await plan(tlsProbeTask, { host: '127.0.0.1', port: s.cluster.port, protocol: 'postgres' });
    expect(p.failed).toBeUndefined();
    expect(p.result?.fingerprint).toBe(opensslFingerprint(s.serverCert));
    expect(p.result?.subject).toBe('CN=PEM');
    expect(p.result?.issuer).toBe('CN=fleetplay test CA');
    // PostgreSQL builds the chain from ssl_ca_file and sends the CA too (as `openssl s_client -showcerts` shows).
    expect(p.result?.chain).toEqual(['CN=PEM', 'CN=fleetplay test CA']);
    expect(Date.parse(String(p.result?.not_after))).toBeGreaterThan(Date.now());
  });

  it('works through the host connection (tunnel)', async () => {
    const { plan: p } = await plan(tlsProbeTask, { host: '127.0.0.1', port: s.cluster.port, tunnel: true }, { tunnel: true });
    expect(p.result?.fingerprint).toBe(opensslFingerprint(s.serverCert));
  });

  it('fails clearly when nothing listens', async () => {
    const { plan: p } = await plan(tlsProbeTask, { host: '127.0.0.1', port: 1, protocol: 'postgres' });
    expect(p.failed).toMatch(/ECONNREFUSED/);
  });
});

describe('sql', () => {
  const su = () => ({ host: '127.0.0.1', port: s.cluster.port, user: 'postgres', password_env: 'FLEETPLAY_TEST_PGPASS', sslmode: 'require' });
  beforeAll(() => {
    process.env.FLEETPLAY_TEST_PGPASS = s.cluster.superuserPassword;
  });

  const createRole = () => ({
    query: 'CREATE ROLE fp_agent9 LOGIN IN ROLE pem_agent',
    conn: su(),
    creates_if: { query: 'SELECT 1 FROM pg_roles WHERE rolname = $1', params: ['fp_agent9'] },
    undo: { query: 'DROP ROLE fp_agent9' },
  });

  it('creates a role idempotently, and its undo drops it', async () => {
    expect(await roleExists('fp_agent9')).toBe(false);
    const { plan: first, secrets } = await plan(sqlTask, createRole());
    expect(secrets).toContain(s.cluster.superuserPassword);
    expect(first.changed).toBe(true);
    expect(first.steps).toHaveLength(1);
    expect(await roleExists('fp_agent9')).toBe(false); // plan changed nothing
    await runCallSteps(first.steps);
    expect(await roleExists('fp_agent9')).toBe(true);
    expect(JSON.stringify(first.undo)).not.toContain(s.cluster.superuserPassword);

    const { plan: second } = await plan(sqlTask, createRole());
    expect(second.changed).toBe(false);
    expect(second.steps).toHaveLength(0);
    expect(second.reason).toMatch(/creates_if found 1 row/);
    expect(second.undo).toBeUndefined();

    const back = sqlTask.rollback(JSON.parse(JSON.stringify(first.undo)), { host: { name: 'localhost', vars: {} }, runId: 'r' });
    await runCallSteps(back);
    expect(await roleExists('fp_agent9')).toBe(false);
  });

  it('runs a read-only statement in check mode and registers its rows', async () => {
    const { plan: p } = await plan(sqlTask, { query: 'SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1', params: ['agent%'], conn: su() }, { check: true });
    expect(p.changed).toBe(false);
    expect(p.result?.rows).toEqual([{ rolname: 'agent1' }, { rolname: 'agent2' }]);
  });

  it('does not run a mutating statement in plan, even one that starts with WITH', async () => {
    await s.cluster.query('CREATE TABLE IF NOT EXISTS fp_t (v int)', [], 'pem');
    const sneaky = { query: 'WITH x AS (INSERT INTO fp_t VALUES (1) RETURNING v) SELECT v FROM x', conn: su() };
    const { plan: p } = await plan(sqlTask, sneaky, { check: true });
    expect(p.changed).toBe(true);
    expect(p.reason).toMatch(/would run/);
    const { plan: q } = await plan(sqlTask, { query: 'CREATE TABLE fp_new (v int)', conn: su() }, { check: true });
    expect(q.changed).toBe(true);
    expect(await s.cluster.query('SELECT count(*)::int AS n FROM fp_t', [], 'pem')).toEqual([{ n: 0 }]);
    expect(await s.cluster.query("SELECT to_regclass('fp_new') AS t", [], 'pem')).toEqual([{ t: null }]);
    await runCallSteps(p.steps); // apply really inserts
    expect(await s.cluster.query('SELECT count(*)::int AS n FROM fp_t', [], 'pem')).toEqual([{ n: 1 }]);
  });

  it('fails a statement declared read_only that writes', async () => {
    const { plan: p } = await plan(sqlTask, { query: 'INSERT INTO fp_t VALUES (2)', read_only: true, conn: su() });
    expect(p.failed).toMatch(/read-only transaction/);
  });

  it('connects through the host tunnel and as a certificate user', async () => {
    const { plan: p } = await plan(sqlTask, { query: 'SELECT current_user AS u', conn: { ...su(), tunnel: true } }, { tunnel: true });
    expect(p.result?.rows).toEqual([{ u: 'postgres' }]);
    const cert = { user: 'agent1', port: s.cluster.port, host: '127.0.0.1', sslmode: 'verify-full', sslrootcert: s.ca.cert, sslcert: s.agent1.cert, sslkey: s.agent1.key };
    const { plan: q } = await plan(sqlTask, { query: 'SELECT current_user AS u', conn: cert }, { tunnel: true });
    expect(q.result?.rows).toEqual([{ u: 'agent1' }]);
  });

  it('explains a refused password without printing it', async () => {
    process.env.FLEETPLAY_TEST_BADPASS = 'not-the-password-xyz';
    const err = await plan(sqlTask, { query: 'SELECT 1', conn: { ...su(), password_env: 'FLEETPLAY_TEST_BADPASS' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    const e = err as TaskError;
    expect(e.host).toBe('localhost');
    expect(e.message).toMatch(/password authentication failed for user "postgres"/);
    expect(e.hint).toMatch(/password_env/);
    expect(e.userMessage()).not.toContain('not-the-password-xyz');
  });

  it('explains an unreachable server', async () => {
    const err = (await plan(sqlTask, { query: 'SELECT 1', conn: { host: '127.0.0.1', port: 1, tunnel: false } }).catch((e: unknown) => e)) as TaskError;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toMatch(/postgres@127\.0\.0\.1:1\/pem.*ECONNREFUSED/);
    expect(err.hint).toMatch(/is PostgreSQL running/);
  });
});

describe('CRLs (pitfall 1)', () => {
  it('a foreign CRL in root.crl makes every certificate login fail with "unknown ca"', async () => {
    const original = await readFile(s.rootCrl, 'utf8');
    try {
      await s.setRootCrl(await readFile(await foreign.crl(), 'utf8'));
      const { plan: p } = await login(s.agent1, 'agent1');
      expect(p.failed).toMatch(/tlsv1 alert unknown ca/);
    } finally {
      await s.setRootCrl(original);
    }
    const { plan: again } = await login(s.agent1, 'agent1');
    expect(again.result?.connected).toBe(true);
  });

  it('a revoked client certificate is refused', async () => {
    const agent2 = await s.ca.issue('agent2');
    expect((await login(agent2, 'agent2')).plan.result?.connected).toBe(true);
    const original = await readFile(s.rootCrl, 'utf8');
    try {
      await s.ca.revoke(agent2.cert);
      await s.setRootCrl(await readFile(await s.ca.crl(join(dir, 'revoked.crl')), 'utf8'));
      const { plan: p }: { plan: Plan } = await login(agent2, 'agent2');
      expect(p.failed).toMatch(/certificate revoked/);
      expect((await login(s.agent1, 'agent1')).plan.result?.connected).toBe(true);
    } finally {
      await s.setRootCrl(original);
    }
  });
});

/**
 * sql: argument handling, read-only detection, host/tunnel resolution, secrets and rollback data,
 * without a database (the real cluster is in test/integration/postgres-tasks.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { TaskError } from '../../../src/errors.js';
import { looksReadOnly, resolveTarget, sqlArgs, sqlTask } from '../../../src/tasks/sql.js';
import { opensslReason } from '../../../src/tasks/lib/pg.js';
import { testTaskContext } from '../../support/pg-cluster.js';

describe('sql args', () => {
  it('fills the defaults', () => {
    const a = sqlArgs.parse({ query: 'SELECT 1' });
    expect(a).toMatchObject({ db: 'pem', params: [], conn: { port: 5432, user: 'postgres', sslmode: 'prefer' } });
    expect(a.conn.host).toBeUndefined();
    expect(a.read_only).toBeUndefined();
  });

  it.each([
    [{ query: 'SELECT 1', conn: { password: 'x' } }, /password/],
    [{ query: 'SELECT 1', conn: { password_env: 'not a name' } }, /NAME of an environment variable/],
    [{ query: 'SELECT 1', conn: { sslmode: 'allow-ish' } }, /sslmode/],
    [{ query: '' }, /query/],
    [{ query: 'SELECT 1', params: [{ nested: true }] }, /params/],
    [{ query: 'SELECT 1', undo: { params: [] } }, /undo/],
  ])('refuses %j', (raw, msg) => {
    const r = sqlArgs.safeParse(raw);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(msg);
  });

  it('accepts a port from a template as a string', () => {
    expect(sqlArgs.parse({ query: 'SELECT 1', conn: { port: '5444' } }).conn.port).toBe(5444);
  });
});

describe('looksReadOnly', () => {
  it.each([
    ['SELECT 1', true],
    ['  with x as (select 1) select * from x', true],
    ['-- comment\nSHOW ssl', true],
    ['EXPLAIN SELECT 1', true],
    ['CREATE ROLE a', false],
    ['select_into_table()', false],
    ['DO $$ BEGIN END $$', false],
    ['SELECT pg_reload_conf()', false],
    ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'x'", false],
    ["select set_config('a.b', '1', false)", false],
  ])('%j -> %s', (q, ro) => expect(looksReadOnly(q)).toBe(ro));
});

describe('resolveTarget', () => {
  const conn = (extra: object) => sqlArgs.parse({ query: 'SELECT 1', conn: extra }).conn;
  const reachable = (ok: boolean) => async () => ok;

  it('without a host, the database is on the target host: tunnel to 127.0.0.1 when a tunnel exists', async () => {
    expect(await resolveTarget(conn({}), 'pem', true, reachable(true))).toMatchObject({ host: '127.0.0.1', tunnel: true });
    expect(await resolveTarget(conn({}), 'pem', false, reachable(true))).toMatchObject({ host: '127.0.0.1', tunnel: false });
  });

  it('with a host, connects directly when reachable, else through the tunnel', async () => {
    expect(await resolveTarget(conn({ host: 'db1' }), 'pem', true, reachable(true))).toMatchObject({ host: 'db1', tunnel: false });
    expect(await resolveTarget(conn({ host: 'db1' }), 'pem', true, reachable(false))).toMatchObject({ host: 'db1', tunnel: true });
    expect(await resolveTarget(conn({ host: 'db1' }), 'pem', false, reachable(false))).toMatchObject({ tunnel: false });
  });

  it('an explicit tunnel setting wins', async () => {
    expect(await resolveTarget(conn({ host: 'db1', tunnel: true }), 'pem', true, reachable(true))).toMatchObject({ tunnel: true });
    expect(await resolveTarget(conn({ tunnel: false }), 'pem', true, reachable(false))).toMatchObject({ tunnel: false });
  });
});

describe('sql plan without a database', () => {
  it('names a missing password variable before connecting', async () => {
    delete process.env.FLEETPLAY_UNIT_NOPE;
    const { ctx } = testTaskContext(sqlArgs.parse({ query: 'SELECT 1', conn: { password_env: 'FLEETPLAY_UNIT_NOPE', port: 1, host: '127.0.0.1' } }), { host: 'pem1' });
    const err = (await sqlTask.plan(ctx).catch((e: unknown) => e)) as TaskError;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.host).toBe('pem1');
    expect(err.message).toMatch(/FLEETPLAY_UNIT_NOPE/);
    expect(err.hint).toMatch(/export FLEETPLAY_UNIT_NOPE/);
  });

  it('marks the password secret and explains a refused connection without it', async () => {
    process.env.FLEETPLAY_UNIT_PW = 's3cret-unit-pw';
    const { ctx, secrets } = testTaskContext(sqlArgs.parse({ query: 'SELECT 1', conn: { password_env: 'FLEETPLAY_UNIT_PW', port: 1, host: '127.0.0.1' } }));
    const err = (await sqlTask.plan(ctx).catch((e: unknown) => e)) as TaskError;
    expect(secrets).toContain('s3cret-unit-pw');
    expect(err.userMessage()).toMatch(/postgres@127\.0\.0\.1:1\/pem/);
    expect(err.userMessage()).toMatch(/fix: is PostgreSQL running/);
    expect(err.userMessage()).not.toContain('s3cret-unit-pw');
  });

  it('refuses tunnel: true when the host has no tunnel', async () => {
    const { ctx } = testTaskContext(sqlArgs.parse({ query: 'SELECT 1', conn: { tunnel: true } }));
    await expect(sqlTask.plan(ctx)).rejects.toThrow(/no SSH tunnel/);
  });
});

describe('sql rollback', () => {
  const host = { host: { name: 'pem1', vars: {} }, runId: 'r1' };
  it('builds one call step from the recorded undo alone', () => {
    const steps = sqlTask.rollback(
      { query: 'DROP ROLE x', params: [], target: { host: '127.0.0.1', port: 5432, database: 'pem', user: 'postgres', sslmode: 'prefer', tunnel: true }, password_env: 'PW' },
      host,
    );
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ kind: 'call', label: 'sql undo on postgres@127.0.0.1:5432/pem (through the SSH tunnel): DROP ROLE x' });
  });
  it('returns nothing for undo data it does not recognise', () => {
    expect(sqlTask.rollback({ something: 1 }, host)).toEqual([]);
  });
});

describe('opensslReason', () => {
  it('keeps the reason as libpq words it', () => {
    const raw = '80ECC897EB7F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 48\n';
    expect(opensslReason(raw)).toBe('SSL error: tlsv1 alert unknown ca');
    expect(opensslReason('connect ECONNREFUSED 127.0.0.1:1')).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});

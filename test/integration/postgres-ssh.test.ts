/**
 * The database modules over a real OpenSSH connection: sql through the SSH tunnel (direct-tcpip)
 * in plan and on apply, pg_connect from the host (psql run over ssh) and from the controller with
 * the cert/key read over ssh, and tls_probe through the tunnel.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgConnectTask } from '../../src/tasks/pg_connect.js';
import { sqlTask } from '../../src/tasks/sql.js';
import { tlsProbeTask } from '../../src/tasks/tls_probe.js';
import type { TaskModule } from '../../src/tasks/types.js';
import { connectSsh } from '../../src/transport/ssh.js';
import type { Connection } from '../../src/transport/types.js';
import { runCallSteps, startSslPgCluster, testTaskContext } from '../support/pg-cluster.js';
import type { SslTestCluster } from '../support/pg-cluster.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';

let dir = '';
let s: SslTestCluster;
let fleet: TestFleet;
let conn: Connection;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetplay-pgssh-'));
  [s, fleet] = await Promise.all([startSslPgCluster(dir), startTestFleet(['pem1'])]);
  conn = await connectSsh(fleet.spec('pem1'));
  process.env.FLEETPLAY_SSH_PGPASS = s.cluster.superuserPassword;
});

afterAll(async () => {
  await conn?.close();
  await fleet?.dispose();
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function plan(task: TaskModule, raw: unknown) {
  const { ctx } = testTaskContext(task.args.parse(raw), { conn, tunnel: true });
  return task.plan(ctx);
}

describe('over ssh', () => {
  it('sql: the read-only probe and the apply step both go through the SSH tunnel', async () => {
    const connArgs = { port: s.cluster.port, password_env: 'FLEETPLAY_SSH_PGPASS', sslmode: 'require' };
    const args = {
      query: 'CREATE ROLE fp_tunnel_role',
      conn: connArgs, // no host: the database on the target host, reached through the tunnel
      creates_if: { query: 'SELECT 1 FROM pg_roles WHERE rolname = $1', params: ['fp_tunnel_role'] },
      undo: { query: 'DROP ROLE fp_tunnel_role' },
    };
    const first = await plan(sqlTask, args);
    expect(first.changed).toBe(true);
    expect(first.steps[0]).toMatchObject({ label: expect.stringMatching(/through the SSH tunnel/) });
    await runCallSteps(first.steps, conn);
    expect(await s.cluster.query("SELECT 1 AS x FROM pg_roles WHERE rolname = 'fp_tunnel_role'")).toEqual([{ x: 1 }]);
    const second = await plan(sqlTask, args);
    expect(second.changed).toBe(false);
    await runCallSteps(sqlTask.rollback(first.undo ?? {}, { host: { name: 'pem1', vars: {} }, runId: 'r' }), conn);
    expect(await s.cluster.query("SELECT 1 AS x FROM pg_roles WHERE rolname = 'fp_tunnel_role'")).toEqual([]);
  });

  it('pg_connect from: host runs psql over ssh with the agent certificate', async () => {
    const p = await plan(pgConnectTask, { host: '127.0.0.1', port: s.cluster.port, user: 'agent1', sslcert: s.agent1.cert, sslkey: s.agent1.key, from: 'host' });
    expect(p.failed).toBeUndefined();
    expect(p.result).toMatchObject({ connected: true, user: 'agent1', client_dn: '/CN=agent1' });
  });

  it('pg_connect from: controller reads the cert/key over ssh and logs in through the tunnel', async () => {
    const p = await plan(pgConnectTask, { host: '127.0.0.1', port: s.cluster.port, user: 'agent1', sslcert: s.agent1.cert, sslkey: s.agent1.key, tunnel: true, sslmode: 'verify-ca', sslrootcert: s.ca.cert });
    expect(p.failed).toBeUndefined();
    expect(p.result).toMatchObject({ connected: true, user: 'agent1' });
  });

  it('tls_probe through the tunnel sees server.crt', async () => {
    const p = await plan(tlsProbeTask, { host: '127.0.0.1', port: s.cluster.port, tunnel: true });
    const fp = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', s.serverCert]).toString().trim().replace(/^.*=/, '');
    expect(p.result?.fingerprint).toBe(fp);
  });
});

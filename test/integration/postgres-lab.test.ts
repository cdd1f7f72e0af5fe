/**
 * The lab's PostgreSQL cluster: started as the postgres user, reachable over the socket and over
 * 127.0.0.1 with the random superuser password, reattachable, restartable, stopped by pg_ctl.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachPgCluster, startPgCluster } from '../../src/lab/postgres.js';
import type { PgCluster } from '../../src/lab/postgres.js';

let dir = '';
let c: PgCluster;

/** Running and not a zombie (the detached postmaster may be reparented to a process that never reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function tcpLogin(password: string): Promise<string> {
  const client = new pg.Client({ host: '127.0.0.1', port: c.port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    return String((await client.query('SELECT current_user AS u')).rows[0]?.u);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetplay-lab-pg-'));
  await chmod(dir, 0o711);
  c = await startPgCluster({
    dir: join(dir, 'cluster'),
    async configure(dataDir) {
      await writeFile(join(dataDir, 'postgresql.conf'), "\napplication_name = 'configured-by-test'\n", { flag: 'a' });
    },
  });
});

afterAll(async () => {
  if (c && alive(c.pid)) await c.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('startPgCluster', () => {
  it('runs as the postgres user, listens on 127.0.0.1 and applies configure()', async () => {
    expect(alive(c.pid)).toBe(true);
    expect((await stat(c.dataDir)).uid).not.toBe(0);
    const rows = await c.query("SELECT current_setting('listen_addresses') AS l, current_setting('port')::int AS p, current_setting('application_name') AS a");
    expect(rows).toEqual([{ l: '127.0.0.1', p: c.port, a: 'configured-by-test' }]);
    expect(c.host).toBe('127.0.0.1');
  });

  it('accepts the superuser password over TCP (scram) and refuses a wrong one', async () => {
    expect(await tcpLogin(c.superuserPassword)).toBe('postgres');
    await expect(tcpLogin('wrong')).rejects.toThrow(/password authentication failed/);
  });

  it('keeps the password file root-only', async () => {
    const st = await stat(join(c.dir, '.superuser-password'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);
  });

  it('reattaches from its directory, restarts with a new pid, and stops', async () => {
    const a = await attachPgCluster(c.dir);
    expect(a.port).toBe(c.port);
    expect(a.pid).toBe(c.pid);
    expect(a.superuserPassword).toBe(c.superuserPassword);
    const before = c.pid;
    await c.restart();
    expect(c.pid).not.toBe(before);
    expect(await c.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await c.stop();
    expect(alive(c.pid)).toBe(false);
    await expect(c.query('SELECT 1')).rejects.toThrow();
  });

  it('explains an untraversable parent directory', async () => {
    const locked = await mkdtemp(join(tmpdir(), 'fleetplay-locked-')); // 0700: postgres cannot enter
    try {
      await expect(startPgCluster({ dir: join(locked, 'c') })).rejects.toThrow(/cannot traverse/);
    } finally {
      await rm(locked, { recursive: true, force: true });
    }
  });
});

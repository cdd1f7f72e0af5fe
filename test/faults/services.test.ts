/**
 * Faults of the things a playbook talks to besides files: PostgreSQL down or refusing when a `sql`
 * task runs (a real cluster, stopped with pg_ctl as postgres), and a service that does not come
 * back after a change (its restart exits 1, or its status never turns up). Each time the host is
 * put back byte for byte, the service in its previous state, and `rollback <id>` ends clean.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPgCluster } from '../../src/lab/postgres.js';
import type { PgCluster } from '../../src/lab/postgres.js';
import { expectJournalParses, expectRollbackRestores, newestRun, runIds, startFaultEnv, statesOf } from './support.js';
import type { FaultEnv } from './support.js';

const PW_ENV = 'FLEETPLAY_FAULTS_PG_PASSWORD';

/** A fake service on each host: up while <root>/svc/up exists; it refuses to start on a config without `ok`. */
function svcCommands(root: string): Record<string, unknown> {
  const d = `${root}/svc`;
  const conf = `${root}/etc/app/app.conf`;
  const start = ['sh', '-c', 'grep -q "^ok" "$1" && cp "$1" "$0/started-with" && touch "$0/up"', d, conf];
  return {
    svc: {
      start,
      stop: ['rm', '-f', `${d}/up`],
      restart: ['sh', '-c', 'rm -f "$0/up"; grep -q "^ok" "$1" && cp "$1" "$0/started-with" && touch "$0/up"', d, conf],
      status: ['test', '-f', `${d}/up`],
    },
    // Its restart always exits 0; on a bad config the service just never comes up.
    ghost: {
      start,
      stop: ['rm', '-f', `${d}/up`],
      restart: ['sh', '-c', 'rm -f "$0/up"; grep -q "^ok" "$1" && cp "$1" "$0/started-with" && touch "$0/up"; exit 0', d, conf],
      status: ['test', '-f', `${d}/up`],
    },
  };
}

let env: FaultEnv;
let pgc: PgCluster | undefined;

beforeAll(async () => {
  env = await startFaultEnv(['h1', 'h2'], { hostVars: (_n, root) => ({ fleetplay_service_commands: svcCommands(root) }) });
  // The postgres user must traverse the work dir to reach the cluster.
  chmodSync(env.work, 0o711);
  pgc = await startPgCluster({ dir: join(env.work, 'pg') });
  await pgc.query('CREATE TABLE marks (v text)');
  process.env[PW_ENV] = pgc.superuserPassword;
}, 300_000);

afterAll(async () => {
  delete process.env[PW_ENV];
  await pgc?.stop().catch(() => undefined);
  await env?.dispose();
});

function sqlTask(name: string, value: string, port: number): string {
  return `    - name: ${name}
      sql:
        query: "INSERT INTO marks VALUES ($1)"
        params: [${JSON.stringify(value)}]
        db: postgres
        undo: { query: "DELETE FROM marks WHERE v = $1", params: [${JSON.stringify(value)}] }
        conn: { host: 127.0.0.1, port: ${port}, user: postgres, password_env: ${PW_ENV}, sslmode: disable, tunnel: false }
`;
}

async function marks(): Promise<string[]> {
  return (await pgc!.query('SELECT v FROM marks ORDER BY v')).map((r) => String(r.v));
}

describe('PostgreSQL down or refusing when sql runs', () => {
  it('down before the run: a clear error naming host, port and user with a hint; the host is put back', async () => {
    env.seed();
    const before = env.snap();
    await pgc!.stop();
    try {
      const pb = env.writePlaybook(
        'sql-down.yaml',
        `
- name: sql against a stopped server
  hosts: h1
  tasks:
    - name: app.conf
      copy: { dest: "{{ root }}/etc/app/app.conf", content: "new\\n", mode: '0644' }
${sqlTask('mark', 'down', pgc!.port)}`,
      );
      const json = join(env.work, 'sql-down.json');
      const ids = runIds(env.home);
      const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const rep = env.report(json);
      expect(statesOf(rep)).toEqual({ h1: 'rolled-back' });
      const err = rep.results.find((x) => x.task === 'mark')?.error ?? '';
      expect(err).toContain(`postgres@127.0.0.1:${pgc!.port}`);
      expect(err).toMatch(/ECONNREFUSED|refused/i);
      expect(err).toMatch(/is PostgreSQL running/);
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
      expect(env.snap()).toEqual(before);
      const id = newestRun(env.home, ids);
      expect(id).toBeDefined();
      await expectRollbackRestores(env, id!, before);
    } finally {
      await pgc!.restart();
    }
    expect(await marks()).toEqual([]);
  }, 180_000);

  it('refusing the login (wrong password): the error says so, names the user, and nothing changes', async () => {
    env.seed();
    const before = env.snap();
    const pb = env.writePlaybook(
      'sql-refused.yaml',
      `
- name: sql with a rejected password
  hosts: h1
  tasks:
    - name: app.conf
      copy: { dest: "{{ root }}/etc/app/app.conf", content: "new\\n", mode: '0644' }
${sqlTask('mark', 'refused', pgc!.port)}`,
    );
    const json = join(env.work, 'sql-refused.json');
    const ids = runIds(env.home);
    const saved = process.env[PW_ENV];
    process.env[PW_ENV] = 'not-the-password';
    let r;
    try {
      r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    } finally {
      process.env[PW_ENV] = saved;
    }
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const rep = env.report(json);
    expect(statesOf(rep)).toEqual({ h1: 'rolled-back' });
    const err = rep.results.find((x) => x.task === 'mark')?.error ?? '';
    expect(err).toContain(`postgres@127.0.0.1:${pgc!.port}`);
    expect(err).toMatch(/password/i);
    expect(r.stdout + r.stderr).not.toContain('not-the-password');
    expect(env.snap()).toEqual(before);
    await expectRollbackRestores(env, newestRun(env.home, ids)!, before);
    expect(await marks()).toEqual([]);
  }, 180_000);

  it('dies mid-run after a statement was applied: rollback-failed (unknown), then `rollback <id>` with the server back ends clean', async () => {
    env.seed();
    const before = env.snap();
    const c = pgc!;
    const pb = env.writePlaybook(
      'sql-dies.yaml',
      `
- name: the server stops between two statements
  hosts: h1
  tasks:
    - name: app.conf
      copy: { dest: "{{ root }}/etc/app/app.conf", content: "new\\n", mode: '0644' }
${sqlTask('first mark', 'first', c.port)}    - name: the database goes down
      command:
        argv: [runuser, -u, postgres, --, /usr/lib/postgresql/15/bin/pg_ctl, -D, ${JSON.stringify(c.dataDir)}, stop, -m, fast, -w]
${sqlTask('second mark', 'second', c.port)}`,
    );
    const json = join(env.work, 'sql-dies.json');
    const ids = runIds(env.home);
    const r = await env.cli(['run', pb, '-i', env.inventory, '--plain', '--json', json]);
    try {
      expect(r.code, r.stdout + r.stderr).not.toBe(0);
      const rep = env.report(json);
      // The undo of the first statement cannot reach the server: the host's state is unknown, and the report says so.
      expect(statesOf(rep)).toEqual({ h1: 'rollback-failed' });
      expect(rep.hosts[0]?.error ?? '').toContain(`127.0.0.1:${c.port}`);
    } finally {
      await c.restart();
    }
    expect(await marks()).toEqual(['first']);
    const id = newestRun(env.home, ids);
    expectJournalParses(env.home, id!);
    await expectRollbackRestores(env, id!, before);
    expect(await marks()).toEqual([]);
  }, 240_000);
});

describe('a service that does not come back after a change', () => {
  function svcPlaybook(service: string, wait: number): string {
    return env.writePlaybook(
      `svc-${service}.yaml`,
      `
- name: change the config and restart
  hosts: web
  tasks:
    - name: app.conf
      copy: { dest: "{{ root }}/etc/app/app.conf", content: "broken config\\n", mode: '0644' }
    - name: restart
      service: { name: ${service}, state: restarted, manager: command, wait: ${wait} }
`,
    );
  }
  function seedSvc(running: Record<string, boolean>): void {
    env.seed();
    for (const n of env.names) {
      const root = env.root(n);
      writeFileSync(join(root, 'etc', 'app', 'app.conf'), `ok\nhost=${n}\n`);
      const d = join(root, 'svc');
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d);
      if (running[n]) {
        writeFileSync(join(d, 'up'), '');
        writeFileSync(join(d, 'started-with'), 'stale\n');
      }
    }
  }

  for (const [service, wait, why] of [
    ['svc', 5, 'the restart exits 1'],
    ['ghost', 2, 'the status never turns up'],
  ] as const) {
    it(`${why}: the host is restored byte for byte and the service is back in its previous state`, async () => {
      // h1 ran the service, h2 had it stopped.
      seedSvc({ h1: true, h2: false });
      const before = env.snap();
      const json = join(env.work, `svc-${service}.json`);
      const ids = runIds(env.home);
      const r = await env.cli(['run', svcPlaybook(service, wait), '-i', env.inventory, '--plain', '--json', json]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const rep = env.report(json);
      expect(statesOf(rep)).toEqual({ h1: 'rolled-back', h2: 'rolled-back' });
      expect(rep.results.filter((x) => x.task === 'restart').map((x) => x.status)).toEqual(['failed', 'failed']);
      expect(env.snap()).toEqual(before);
      const h1 = join(env.root('h1'), 'svc');
      const h2 = join(env.root('h2'), 'svc');
      // Running before: restarted by the rollback, after the config was restored.
      expect(existsSync(join(h1, 'up')), 'h1 runs again').toBe(true);
      expect(readFileSync(join(h1, 'started-with'), 'utf8')).toBe('ok\nhost=h1\n');
      expect(existsSync(join(h2, 'up')), 'h2 stays stopped').toBe(false);
      await expectRollbackRestores(env, newestRun(env.home, ids)!, before);
    }, 180_000);
  }
});

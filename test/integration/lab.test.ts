/**
 * The local PEM lab end to end: up with 3 agents, every agent heartbeats as agent<ID> with its
 * PEM-CA certificate; an agent given a certificate from another CA keeps its old one until it is
 * restarted (over real SSH, with the inventory's service command), then is refused with
 * `unknown ca` and stops heartbeating; down leaves none of the lab's processes running.
 */
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { connect } from 'node:tls';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labDown, labStatus, labUp } from '../../src/lab/lab.js';
import type { LabState } from '../../src/lab/lab.js';
import { issueCert } from '../../src/lab/openssl.js';
import { issueAgentCert } from '../../src/lab/pem-ca.js';
import { attachPgCluster } from '../../src/lab/postgres.js';
import { isOurProcess } from '../../src/lab/procs.js';
import { shellJoin } from '../../src/shell/quote.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let root = '';
let dir = '';
let lab: LabState;

async function heartbeats(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const db = lab.db;
  if (db === undefined) throw new Error('no db in lab state');
  return (await attachPgCluster(db.clusterDir)).query(sql, params, 'pem');
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('lab', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fleetplay-lab-test-'));
    await chmod(root, 0o755);
    dir = join(root, 'lab');
    lab = await labUp({ dir, agents: 3 });
  });

  afterAll(async () => {
    if (dir) await labDown(dir).catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('brings up a PEM-like fleet where every agent heartbeats with its PEM-CA certificate', async () => {
    expect(lab.agents.map((a) => [a.id, a.host])).toEqual([[1, 'pem-server'], [2, 'agent2'], [3, 'agent3']]);
    const rows = await heartbeats(
      'SELECT DISTINCT ON (agent_id) agent_id, db_user, cert_issuer, cert_subject FROM pem.agent_heartbeat ORDER BY agent_id, at DESC',
    );
    expect(rows).toEqual([1, 2, 3].map((id) => ({ agent_id: id, db_user: `agent${id}`, cert_issuer: 'CN=PEM', cert_subject: `CN=agent${id}` })));

    // The files look like what PEM leaves: data-dir set owned by the DB user 0600, agent pair root 0600.
    const { uid: pgUid } = await stat(join(lab.db?.dataDir ?? '', 'PG_VERSION'));
    for (const f of ['ca_key.key', 'ca_certificate.crt', 'root.crt', 'root.crl', 'server.key', 'server.crt']) {
      const st = await stat(join(lab.db?.dataDir ?? '', f));
      expect([f, st.uid, st.mode & 0o777]).toEqual([f, pgUid, 0o600]);
    }
    const a2 = lab.agents[1];
    if (a2 === undefined) throw new Error('agent2 missing');
    expect(((await stat(a2.keyFile)).mode & 0o777).toString(8)).toBe('600');
    const issuer = await run('openssl', ['x509', '-in', a2.certFile, '-noout', '-issuer']);
    expect(issuer.stdout.trim()).toBe('issuer=CN = PEM');

    // The inventory names groups and paths and never holds the DB password.
    const invText = await readFile(lab.inventoryFile, 'utf8');
    const inv = parse(invText);
    expect(Object.keys(inv.all.children).sort()).toEqual(['pem_agents', 'pem_server']);
    const server = inv.all.children.pem_server.hosts['pem-server'];
    expect(server.pem_data_dir).toBe(lab.db?.dataDir);
    expect(Object.keys(server.fleetplay_service_commands).sort()).toEqual(['httpd', 'pem-db', 'pemagent']);
    const secrets = await readFile(lab.secretsFile, 'utf8');
    const password = /^PEM_DB_PASSWORD=(.+)$/m.exec(secrets)?.[1] ?? '';
    expect(password.length).toBeGreaterThan(10);
    expect(invText.includes(password)).toBe(false);
    expect((await stat(lab.secretsFile)).mode & 0o777).toBe(0o600);

    // Up again on a running lab starts nothing and says so.
    const again = await labUp({ dir, agents: 3 });
    expect(again.alreadyUp).toBe(true);
    expect(again.sshd.pids).toEqual(lab.sshd.pids);
  });

  it('an agent restarted with a certificate from another CA is refused with unknown ca and stops heartbeating', async () => {
    const a3 = lab.agents[2];
    const ca = lab.corporateCa;
    if (a3 === undefined || ca === undefined) throw new Error('lab state incomplete');
    const inv = parse(await readFile(lab.inventoryFile, 'utf8'));
    const host = inv.all.children.pem_agents.hosts.agent3;

    await issueAgentCert({ caCert: ca.issuingCert, caKey: ca.issuingKey, agentId: 3, dir: a3.certDir });
    // Not restarted yet: the running agent still uses the certificate it loaded at start.
    const replacedAt = new Date();
    const stillOld = await waitFor('a heartbeat after the file swap', async () => {
      const r = await heartbeats('SELECT cert_issuer FROM pem.agent_heartbeat WHERE agent_id = 3 AND at > $1 LIMIT 1', [replacedAt]);
      return r[0];
    });
    expect(stillOld.cert_issuer).toBe('CN=PEM');

    // Restart over real SSH with the inventory's command: the new daemon must outlive the session.
    const restart: string[] = host.fleetplay_service_commands.pemagent.restart;
    await run('ssh', [
      '-i', inv.all.vars.ansible_ssh_private_key_file,
      '-o', `UserKnownHostsFile=${inv.all.vars.fleetplay_known_hosts_file}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-p', String(host.ansible_port),
      `root@${host.ansible_host}`,
      shellJoin(restart),
    ]);
    const restartedAt = new Date();
    await waitFor('unknown ca in the agent log', async () => (await readFile(a3.logFile, 'utf8')).includes('unknown ca'));
    await sleep(2500);
    const after = await heartbeats('SELECT agent_id, count(*)::int AS n FROM pem.agent_heartbeat WHERE at > $1 GROUP BY agent_id ORDER BY agent_id', [restartedAt]);
    expect(after.map((r) => r.agent_id)).toEqual([1, 2]);

    const st = await labStatus(dir);
    const s3 = st.agents.find((a) => a.id === 3);
    expect(s3?.running).toBe(true);
    expect(s3?.healthy).toBe(false);
    expect(s3?.cert?.issuer).toBe('O=Corp, CN=Corp Issuing CA 1');
    expect(s3?.lastHeartbeatCert?.issuer).toBe('CN=PEM');
    expect(s3?.lastError?.message).toMatch(/unknown ca/);
    expect(st.agents.filter((a) => a.healthy).map((a) => a.id)).toEqual([1, 2]);
  });

  it('httpd serves the certificate of its conf, configtest catches a mismatched key, reload switches certificates', async () => {
    const h = lab.httpd;
    const ca = lab.corporateCa;
    if (h === undefined || ca === undefined) throw new Error('lab state incomplete');
    const inv = parse(await readFile(lab.inventoryFile, 'utf8'));
    const server = inv.all.children.pem_server.hosts['pem-server'];
    const cmds = server.fleetplay_service_commands;
    const served = () =>
      new Promise<string>((res, rej) => {
        const s = connect({ host: h.address, port: h.port, rejectUnauthorized: false }, () => {
          res(s.getPeerX509Certificate()?.fingerprint256 ?? '');
          s.end();
        });
        s.once('error', rej);
      });
    const fingerprintOf = async (f: string) => new X509Certificate(await readFile(f)).fingerprint256;
    expect(await served()).toBe(await fingerprintOf(h.certFile));
    const exec = (argv: string[]) => run(argv[0] ?? '', argv.slice(1)).then(() => 0, (e: { code?: number }) => e.code ?? -1);
    expect(await exec(server.pem_httpd_configtest)).toBe(0);
    expect(await exec(cmds['pem-db'].status)).toBe(0);

    // A key that does not belong to the certificate: configtest and reload refuse it.
    await issueCert({ caCert: ca.issuingCert, caKey: ca.issuingKey, keyFile: h.keyFile, certFile: join(root, 'unused.crt'), subject: '/CN=x', profile: 'server' });
    expect(await exec(server.pem_httpd_configtest)).toBe(1);
    expect(await exec(cmds.httpd.reload)).not.toBe(0);

    // A new pair from the corporate CA, then reload: the new certificate is served.
    await issueCert({ caCert: ca.issuingCert, caKey: ca.issuingKey, keyFile: h.keyFile, certFile: h.certFile, subject: '/CN=pem-server', profile: 'server' });
    expect(await exec(server.pem_httpd_configtest)).toBe(0);
    expect(await exec(cmds.httpd.reload)).toBe(0);
    const want = await fingerprintOf(h.certFile);
    await waitFor('the new certificate to be served', async () => (await served()) === want);
  });

  it('lab down stops every process of the lab, and is safe to call twice', async () => {
    const st = await labStatus(dir);
    const pids = [
      ...lab.sshd.pids,
      st.db.pid ?? 0,
      st.httpd?.pid ?? 0,
      ...st.agents.map((a) => a.pid ?? 0),
    ];
    expect(pids.every((p) => p > 0 && isOurProcess(p))).toBe(true);
    await labDown(dir);
    expect(pids.filter((p) => isOurProcess(p))).toEqual([]);
    const again = await labDown(dir);
    expect(again.stopped).toEqual([]);
    expect((await labStatus(dir)).up).toBe(false);
  });
});

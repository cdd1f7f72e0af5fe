/**
 * The certificate modules over real SSH (sshd fleet on loopback) and the pki verdicts against a
 * real PostgreSQL with SSL client-certificate auth and ssl_crl_file: what we issue is accepted,
 * and postgresWouldAccept predicts each refusal the server makes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSsh } from '../../src/transport/ssh.js';
import type { Connection } from '../../src/transport/types.js';
import { applySteps } from '../../src/runner/apply.js';
import type { Plan, TaskModule } from '../../src/tasks/types.js';
import type { StepApi } from '../../src/tasks/steps.js';
import { genkeyTask } from '../../src/tasks/genkey.js';
import { csrTask } from '../../src/tasks/csr.js';
import { signTask } from '../../src/tasks/sign.js';
import { verifyTask } from '../../src/tasks/verify.js';
import { createCsr } from '../../src/pki/csr.js';
import { createCrl, postgresWouldAccept } from '../../src/pki/crl.js';
import { generateKey, parsePrivateKey } from '../../src/pki/keys.js';
import { createSelfSignedCa, issueCertificate } from '../../src/pki/sign.js';
import { startTestFleet } from '../support/sshd-fleet.js';
import type { TestFleet } from '../support/sshd-fleet.js';
import { startSslPgCluster } from '../support/pg-cluster.js';
import type { SslTestCluster } from '../support/pg-cluster.js';

describe('certificate modules over real SSH', () => {
  let tf: TestFleet;
  const conns: Record<string, Connection> = {};
  let agentRoot = '';
  let caRoot = '';

  beforeAll(async () => {
    tf = await startTestFleet(['pemserver', 'agent1']);
    conns.pemserver = await connectSsh(tf.spec('pemserver'));
    conns.agent1 = await connectSsh(tf.spec('agent1'));
    caRoot = tf.hosts.find((h) => h.name === 'pemserver')!.root;
    agentRoot = tf.hosts.find((h) => h.name === 'agent1')!.root;
    // the PEM server's own CA, made by its openssl
    const ca = conns.pemserver!;
    await ca.exec(['mkdir', '-p', `${caRoot}/pgdata`]);
    await ca.exec(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${caRoot}/pgdata/ca_key.key`]);
    await ca.exec(['openssl', 'req', '-x509', '-new', '-key', `${caRoot}/pgdata/ca_key.key`, '-subj', '/CN=PEM Test CA', '-days', '30', '-batch', '-out', `${caRoot}/pgdata/ca_certificate.crt`]);
    await conns.agent1!.exec(['mkdir', '-p', '-m', '0700', `${agentRoot}/root/.pem`]);
  }, 60_000);
  afterAll(async () => {
    for (const c of Object.values(conns)) await c.close();
    await tf?.dispose();
  });

  function ctx(mod: TaskModule, conn: Connection, args: unknown, check = false) {
    return {
      args: mod.args.parse(args),
      host: { name: conn.host, vars: {} },
      probe: conn,
      probeHost: async (name: string) => conns[name] ?? conn,
      check,
      runId: 'itest',
      backupDir: `${agentRoot}/backups`,
      taskKey: `t-${mod.name}`,
      runDir: join(tmpdir(), 'fleetplay-itest-run'),
      registered: {},
      addSecret: () => undefined,
      signal: new AbortController().signal,
    };
  }
  async function apply(conn: Connection, plan: Plan): Promise<void> {
    const api: StepApi = { conn, connectionFor: async (n) => conns[n] ?? conn, captures: new Map(), signal: new AbortController().signal, addSecret: () => undefined };
    await applySteps(plan.steps, api);
  }
  async function run(mod: TaskModule, args: unknown): Promise<Plan> {
    const plan = await mod.plan(ctx(mod, conns.agent1!, args));
    expect(plan.failed).toBeUndefined();
    await apply(conns.agent1!, plan);
    return plan;
  }

  it('genkey, csr, sign with the CA on pemserver, verify; a second run changes nothing; rollback restores', async () => {
    const key = `${agentRoot}/root/.pem/agent1.key`;
    const csr = `${agentRoot}/root/.pem/agent1.csr`;
    const crt = `${agentRoot}/root/.pem/agent1.crt`;
    const caArgs = { host: 'pemserver', cert: `${caRoot}/pgdata/ca_certificate.crt`, key: `${caRoot}/pgdata/ca_key.key` };

    const check = await genkeyTask.plan(ctx(genkeyTask, conns.agent1!, { path: key, size: 2048 }, true));
    expect(check.changed).toBe(true);
    expect(() => statSync(key)).toThrow();
    await run(genkeyTask, { path: key, size: 2048 });
    expect(statSync(key).mode & 0o777).toBe(0o600);
    await run(csrTask, { key, path: csr, subject: { O: 'PEM', CN: 'agent1' } });
    writeFileSync(crt, 'old certificate\n', { mode: 0o644 });
    const signed = await run(signTask, { csr, dest: crt, days: 20, renew_days: 5, ca: caArgs });
    expect(readFileSync(crt, 'utf8')).toMatch(/BEGIN CERTIFICATE/);
    expect(readFileSync(`${caRoot}/pgdata/ca_key.key`, 'utf8')).toMatch(/PRIVATE KEY/); // still only on the CA host

    writeFileSync(`${agentRoot}/root/.pem/root.crt`, readFileSync(`${caRoot}/pgdata/ca_certificate.crt`));
    const v = await verifyTask.plan(ctx(verifyTask, conns.agent1!, { cert: crt, key, ca_bundle: `${agentRoot}/root/.pem/root.crt`, cn: 'agent1', role: 'libpq_client_key' }));
    expect(v.failed).toBeUndefined();
    expect(v.reason).toMatch(/agent1\.crt: chain OK to \/CN=PEM Test CA, key matches, 19 days left/);

    for (const [mod, args] of [
      [genkeyTask, { path: key, size: 2048 }],
      [csrTask, { key, path: csr, subject: { O: 'PEM', CN: 'agent1' } }],
      [signTask, { csr, dest: crt, days: 20, renew_days: 5, ca: caArgs }],
    ] as const) {
      const again = await mod.plan(ctx(mod, conns.agent1!, args));
      expect(again.changed, `${mod.name}: ${again.reason}`).toBe(false);
    }
    expect((await signTask.plan(ctx(signTask, conns.agent1!, { csr, dest: crt, days: 20, renew_days: 5, ca: caArgs }))).reason).toMatch(/already issued by PEM Test CA, 19 days left/);

    const back = signTask.rollback(JSON.parse(JSON.stringify(signed.undo)), { host: { name: 'agent1', vars: {} }, runId: 'itest' });
    await apply(conns.agent1!, { changed: true, steps: back });
    expect(readFileSync(crt, 'utf8')).toBe('old certificate\n');
  }, 60_000);
});

describe('postgresWouldAccept against a real PostgreSQL with ssl_crl_file', () => {
  let s: SslTestCluster;
  let dir: string;
  let ca: { certPem: string; key: ReturnType<typeof parsePrivateKey> };
  let certFile: string;
  let keyFile: string;
  let serialHex: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetplay-pki-pg-'));
    chmodSync(dir, 0o711); // the postgres user must traverse it
    s = await startSslPgCluster(join(dir, 'cluster'));
    ca = { certPem: readFileSync(s.ca.cert, 'utf8'), key: parsePrivateKey(readFileSync(s.ca.key)) };
    const k = await generateKey({ type: 'rsa', bits: 2048 });
    const issued = await issueCertificate({ csrPem: await createCsr({ key: k.privateKey, subject: '/CN=agent1' }), ca, days: 30, usage: 'client' });
    serialHex = issued.serialHex;
    certFile = join(dir, 'agent1.crt');
    keyFile = join(dir, 'agent1.key');
    writeFileSync(certFile, issued.certPem);
    writeFileSync(keyFile, k.privateKeyPem, { mode: 0o600 });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function login(): { ok: boolean; stderr: string } {
    const r = spawnSync('/usr/lib/postgresql/15/bin/psql', ['-XAtc', 'SELECT current_user'], {
      env: { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(s.cluster.port), PGUSER: 'agent1', PGDATABASE: 'pem', PGSSLMODE: 'require', PGSSLCERT: certFile, PGSSLKEY: keyFile, PGCONNECT_TIMEOUT: '10' },
      encoding: 'utf8',
    });
    return { ok: r.status === 0 && r.stdout.trim() === 'agent1', stderr: r.stderr };
  }
  async function predict(crl: string) {
    return postgresWouldAccept({ leafChain: readFileSync(certFile, 'utf8'), trustAnchors: readFileSync(s.rootCrt, 'utf8'), crls: crl });
  }

  it('accepts what pki issued, and refuses exactly when postgresWouldAccept says so', async () => {
    const good = readFileSync(s.rootCrl, 'utf8');
    expect(await predict(good)).toMatchObject({ ok: true });
    expect(login()).toMatchObject({ ok: true });

    const otherKey = await generateKey({ type: 'ec', curve: 'P-256' });
    const foreign = await createCrl({ ca: { certPem: await createSelfSignedCa({ key: otherKey.privateKey, subject: '/CN=Corp Intermediate', days: 30 }), key: otherKey.privateKey }, days: 30 });
    await s.setRootCrl(foreign);
    const p1 = await predict(foreign);
    expect(p1).toMatchObject({ ok: false, error: 'unknown ca' });
    const l1 = login();
    expect(l1.ok).toBe(false);
    expect(l1.stderr).toMatch(/unknown ca/);

    const revoking = await createCrl({ ca, days: 30, revoked: [{ serial: serialHex }] });
    await s.setRootCrl(revoking);
    expect(await predict(revoking)).toMatchObject({ ok: false, error: 'certificate revoked' });
    expect(login().stderr).toMatch(/certificate revoked/);

    const fresh = await createCrl({ ca, days: 30 });
    await s.setRootCrl(fresh);
    expect(await predict(fresh)).toMatchObject({ ok: true });
    expect(login()).toMatchObject({ ok: true });
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signTask } from '../../../src/tasks/sign.js';
import { createCsr } from '../../../src/pki/csr.js';
import { generateKey } from '../../../src/pki/keys.js';
import { parseCertificate, parseCertificates } from '../../../src/pki/inspect.js';
import { issueCertificate } from '../../../src/pki/sign.js';
import type { ExecStep } from '../../../src/tasks/steps.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, makeCtx, rollbackOn } from '../../support/fake-steps.js';
import { makeIntermediate, makeRoot } from '../pki/fixtures.js';
import type { TestCa } from '../pki/fixtures.js';
import { opensslVerify, workdir } from '../pki/referee.js';
import type { Plan } from '../../../src/tasks/types.js';
import type { CommandResult, ExecOptions } from '../../../src/transport/types.js';

const wd = workdir();
afterAll(() => wd.cleanup());
let root: TestCa;
let inter: TestCa;
let csrPem: string;
const leafKey = await generateKey({ type: 'rsa', bits: 2048 });

beforeAll(async () => {
  root = await makeRoot('Corp Root', { type: 'rsa', bits: 2048 });
  inter = await makeIntermediate('Corp Intermediate', root);
  csrPem = await createCsr({ key: leafKey.privateKey, subject: '/CN=agent1', san: ['DNS:agent1.example'] });
});

const CSR = '/root/.pem/agent1.csr';
const DEST = '/root/.pem/agent1.crt';

/** The CA host: its `sh -c SIGN_SCRIPT` runs the real script with real openssl on temp copies. */
class RecordingHost extends FakeHost {
  lastStdin = '';
  override async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<CommandResult> {
    this.lastStdin = opts.stdin === undefined ? '' : String(opts.stdin);
    return super.exec(argv, opts);
  }
}

function caHost(ca: TestCa): RecordingHost {
  const h = new RecordingHost('pemserver');
  h.file('/pgdata/ca_certificate.crt', ca.certPem, { mode: 0o600 });
  h.file('/pgdata/ca_key.key', ca.key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  h.on(['sh', '-c'], (argv) => {
    const args = argv.slice(4);
    args[0] = wd.file('ca.crt', h.content(args[0] ?? '') ?? '');
    args[1] = wd.file('ca.key', h.content(args[1] ?? '') ?? '');
    return { stdout: execFileSync('sh', ['-c', argv[2] ?? '', 'sh', ...args], { input: h.lastStdin, encoding: 'utf8' }) };
  });
  // The plan checks the CA key on its host: only the public key comes back.
  h.on(['openssl', 'pkey'], (argv) => {
    const key = wd.file('ca-probe.key', h.content(argv[3] ?? '') ?? '');
    return { stdout: execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-passin', 'pass:'], { encoding: 'utf8' }) };
  });
  return h;
}

async function plan(target: FakeHost, args: Record<string, unknown>, others: Record<string, FakeHost> = {}, check = false): Promise<Plan> {
  const ctx = makeCtx(signTask, target, args, { check });
  ctx.probeHost = async (name) => others[name] ?? target;
  return signTask.plan(ctx);
}

function target(): FakeHost {
  return new FakeHost('agent1').file(CSR, csrPem).dir('/root/.pem');
}

describe('sign with a CA on an inventory host', () => {
  it('sends the CSR to the CA host, writes the certificate back, reruns as ok, rolls back', async () => {
    const ca = caHost(root);
    const t = target().file(DEST, 'old cert\n', { mode: 0o644 });
    const before = t.snapshot();
    const args = { csr: CSR, dest: DEST, usage: 'client', ca: { host: 'pemserver', cert: '/pgdata/ca_certificate.crt', key: '/pgdata/ca_key.key' } };
    const p = await plan(t, args, { pemserver: ca });
    expect(p.changed).toBe(true);
    const exec = p.steps.find((s): s is ExecStep => s.kind === 'exec');
    expect(exec).toMatchObject({ host: 'pemserver', stdin: expect.stringContaining('BEGIN CERTIFICATE REQUEST') });
    expect(JSON.stringify(p.steps)).not.toContain('PRIVATE KEY');
    await applyFakeSteps(t, p.steps, { others: { pemserver: ca } });
    const certPem = t.content(DEST) ?? '';
    const lf = wd.file('leaf.pem', certPem);
    expect(opensslVerify(['-purpose', 'sslclient', '-CAfile', wd.file('root.pem', root.certPem), lf]).ok).toBe(true);
    const info = parseCertificate(certPem);
    expect(info.san).toEqual([]);
    expect(info.serial).toBe(p.result?.serial);
    const again = await plan(t, args, { pemserver: ca });
    expect(again.changed).toBe(false);
    expect(again.reason).toMatch(/^agent1\.crt already issued by Corp Root, 36[45] days left$/);
    await rollbackOn(signTask, t, p);
    expect(t.snapshot()).toEqual(before);
  });

  it('renews when fewer than renew_days are left, and copies SANs only when asked', async () => {
    const ca = caHost(root);
    const t = target();
    const args = { csr: CSR, dest: DEST, days: 20, copy_san: true, ca: { host: 'pemserver', cert: '/pgdata/ca_certificate.crt', key: '/pgdata/ca_key.key' } };
    const p = await plan(t, args, { pemserver: ca });
    await applyFakeSteps(t, p.steps, { others: { pemserver: ca } });
    expect(parseCertificate(t.content(DEST) ?? '').san).toEqual([{ type: 'dns', value: 'agent1.example' }]);
    expect((await plan(t, args, { pemserver: ca })).changed).toBe(true);
    expect((await plan(t, { ...args, renew_days: 10 }, { pemserver: ca })).changed).toBe(false);
  });

  it('replaces a certificate for another key even if it is from the CA', async () => {
    const other = await generateKey({ type: 'ec', curve: 'P-256' });
    const issued = await issueCertificate({ csrPem: await createCsr({ key: other.privateKey, subject: '/CN=agent1' }), ca: root, days: 365, usage: 'client' });
    const t = target().file(DEST, issued.certPem);
    expect((await plan(t, { csr: CSR, dest: DEST, ca: { host: 'pemserver', cert: '/pgdata/ca_certificate.crt', key: '/pgdata/ca_key.key' } }, { pemserver: caHost(root) })).changed).toBe(true);
  });

  it('depends on the csr task in check mode when the CSR is missing', async () => {
    const p = await plan(new FakeHost(), { csr: '/x.csr', dest: '/x.crt', ca: { external: wd.dir } }, {}, true);
    expect(p).toMatchObject({ changed: true, dependsOn: 'the task that creates /x.csr' });
  });
});

describe('sign with a controller-held CA', () => {
  it('signs in a call step, appends the intermediate with chain: true, passes openssl verify', async () => {
    const certP = wd.file('inter.crt', inter.certPem);
    const keyP = wd.file('inter.key', inter.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString());
    process.env.FLEETPLAY_TEST_CA_PASS = 'pw';
    const t = target();
    const p = await plan(t, { csr: CSR, dest: DEST, chain: true, usage: 'both', ca: { cert: certP, key: keyP, key_passphrase_env: 'FLEETPLAY_TEST_CA_PASS' } });
    expect(p.steps.map((s) => s.kind)).toEqual(['call', 'write']);
    await applyFakeSteps(t, p.steps);
    const file = t.content(DEST) ?? '';
    expect(parseCertificates(file).map((c) => c.cn)).toEqual(['agent1', 'Corp Intermediate']);
    const lf = wd.file('chain.pem', file);
    expect(opensslVerify(['-CAfile', wd.file('root.pem', root.certPem), '-untrusted', lf, lf]).ok).toBe(true);
    const again = await plan(t, { csr: CSR, dest: DEST, chain: true, ca: { cert: certP, key: keyP, key_passphrase_env: 'FLEETPLAY_TEST_CA_PASS' } });
    expect(again.reason).toMatch(/already issued by Corp Intermediate/);
  });

  it('fails the apply with a clear error when the passphrase variable is unset', async () => {
    const certP = wd.file('inter.crt', inter.certPem);
    const keyP = wd.file('inter2.key', inter.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString());
    const t = target();
    const p = await plan(t, { csr: CSR, dest: DEST, ca: { cert: certP, key: keyP, key_passphrase_env: 'FLEETPLAY_TEST_UNSET_VAR' } });
    await expect(applyFakeSteps(t, p.steps)).rejects.toThrow(/FLEETPLAY_TEST_UNSET_VAR .* is not set/);
  });
});

describe('sign with an external CA', () => {
  it('exports the CSR and waits; installs the dropped certificate; then stays ok', async () => {
    const dir = join(wd.dir, 'external');
    const t = target();
    const args = { csr: CSR, dest: DEST, ca: { external: dir } };
    const check = await plan(t, args, {}, true);
    expect(check.changed).toBe(true);
    expect(existsSync(join(dir, 'agent1-agent1.csr'))).toBe(false);
    const w = await plan(t, args);
    expect(w.waiting).toBe(`CSR written to ${dir}/agent1-agent1.csr, drop the signed certificate at ${dir}/agent1-agent1.crt and run fleetplay resume run1`);
    expect(readFileSync(join(dir, 'agent1-agent1.csr'), 'utf8')).toBe(csrPem);
    const wrong = await issueCertificate({ csrPem: await createCsr({ key: (await generateKey({ type: 'ec', curve: 'P-256' })).privateKey, subject: '/CN=agent1' }), ca: root, days: 30, usage: 'client' });
    writeFileSync(join(dir, 'agent1-agent1.crt'), wrong.certPem);
    expect((await plan(t, args)).failed).toMatch(/is not for the key of/);
    const right = await issueCertificate({ csrPem, ca: root, days: 30, usage: 'client' });
    writeFileSync(join(dir, 'agent1-agent1.crt'), right.certPem);
    const inst = await plan(t, args);
    expect(inst.reason).toMatch(/install .* \(issued by Corp Root, 29 days left\)/);
    await applyFakeSteps(t, inst.steps);
    expect(t.content(DEST)).toBe(right.certPem);
    expect((await plan(t, args)).changed).toBe(false);
  });
});

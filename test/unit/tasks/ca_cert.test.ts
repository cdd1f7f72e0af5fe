import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { caCertTask } from '../../../src/tasks/ca_cert.js';
import { generateKey } from '../../../src/pki/keys.js';
import type { CallStep, ExecStep, StepApi } from '../../../src/tasks/steps.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn, rollbackOn } from '../../support/fake-steps.js';
import { withPkeyProbe } from '../pki/fixtures.js';
import { workdir } from '../pki/referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());
const key = await generateKey({ type: 'ec', curve: 'P-256' });
const other = await generateKey({ type: 'ec', curve: 'P-256' });
const ARGS = { key: '/pgdata/ca_key.key', path: '/pgdata/ca_certificate.crt', subject: { O: 'PEM', CN: 'PEM CA 2027' }, days: 3650 };

/** A host whose `openssl req -x509` really runs openssl on a temp copy of the in-memory key. */
function host(k = key): FakeHost {
  const h = withPkeyProbe(new FakeHost('pem-server')).file('/pgdata/ca_key.key', k.privateKeyPem, { mode: 0o600 });
  h.on(['openssl', 'req'], (argv) => {
    const i = argv.indexOf('-key');
    const real = wd.file('ca.pem', h.content(argv[i + 1] ?? '') ?? '');
    const args = [...argv.slice(1)];
    args[i] = real;
    return { stdout: execFileSync('openssl', args, { encoding: 'utf8' }) };
  });
  return h;
}

describe('ca_cert', () => {
  it('makes a self-signed CA certificate for the key; openssl agrees it is a CA; a rerun keeps it', async () => {
    const h = host();
    const plan = await planOn(caCertTask, h, ARGS);
    expect(plan.changed).toBe(true);
    const exec = plan.steps.find((s): s is ExecStep => s.kind === 'exec');
    expect(exec?.argv).toContain('/O=PEM/CN=PEM CA 2027');
    expect(plan.result?.fingerprint_sha256).toBeUndefined();
    await applyFakeSteps(h, plan.steps);
    const pem = h.content('/pgdata/ca_certificate.crt') ?? '';
    const x = new X509Certificate(pem);
    expect(x.ca).toBe(true);
    expect(x.subject).toBe('O=PEM\nCN=PEM CA 2027');
    expect(x.checkIssued(x)).toBe(true);
    expect(x.verify(key.publicKey)).toBe(true);
    const call = plan.steps.find((s): s is CallStep => s.kind === 'call');
    const facts = await call?.run({ captures: new Map([['ca_cert', pem]]) } as unknown as StepApi);
    expect(facts).toMatchObject({ fingerprint_sha256: x.fingerprint256 });
    const file = wd.file('ca.crt', pem);
    expect(execFileSync('openssl', ['verify', '-CAfile', file, '-x509_strict', file], { encoding: 'utf8' })).toContain(': OK');
    expect(execFileSync('openssl', ['x509', '-in', file, '-noout', '-ext', 'keyUsage'], { encoding: 'utf8' })).toMatch(/Certificate Sign, CRL Sign/);

    const again = await planOn(caCertTask, h, ARGS);
    expect(again.changed).toBe(false);
    expect(again.reason).toMatch(/is already the CA certificate of \/pgdata\/ca_key\.key for \/O=PEM\/CN=PEM CA 2027, 36\d\d days left/);
  });

  it('replaces a certificate of another key or subject, and rollback puts the old one back', async () => {
    const h = host();
    await applyFakeSteps(h, (await planOn(caCertTask, h, { ...ARGS, subject: '/CN=PEM' })).steps);
    const old = h.content('/pgdata/ca_certificate.crt');
    const plan = await planOn(caCertTask, h, ARGS);
    expect(plan.reason).toMatch(/its subject is .*CN=PEM\b/);
    await applyFakeSteps(h, plan.steps);
    expect(h.content('/pgdata/ca_certificate.crt')).not.toBe(old);
    await applyFakeSteps(h, await rollbackOn(caCertTask, h, plan));
    expect(h.content('/pgdata/ca_certificate.crt')).toBe(old);

    const h2 = host(other).file('/pgdata/ca_certificate.crt', old ?? '');
    expect((await planOn(caCertTask, h2, { ...ARGS, subject: '/CN=PEM' })).reason).toMatch(/it is for another key/);
  });

  it('a missing key fails a run and depends on genkey in check mode', async () => {
    const h = new FakeHost('pem-server');
    expect((await planOn(caCertTask, h, ARGS)).failed).toMatch(/key \/pgdata\/ca_key\.key does not exist/);
    const c = await planOn(caCertTask, h, ARGS, { check: true });
    expect(c).toMatchObject({ changed: true, steps: [] });
    expect(c.dependsOn).toMatch(/ca_key\.key/);
  });
});

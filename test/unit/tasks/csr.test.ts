import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { csrTask } from '../../../src/tasks/csr.js';
import { createCsr, parseCsr } from '../../../src/pki/csr.js';
import { generateKey } from '../../../src/pki/keys.js';
import type { ExecStep } from '../../../src/tasks/steps.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn, rollbackOn } from '../../support/fake-steps.js';
import { withPkeyProbe } from '../pki/fixtures.js';
import { workdir } from '../pki/referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());
const key = await generateKey({ type: 'ec', curve: 'P-256' });
const other = await generateKey({ type: 'ec', curve: 'P-256' });
const SUBJ = '/C=IN/O=PEM/CN=agent1';

/** A host whose `openssl req` really runs openssl on a temp copy of the in-memory key. */
function host(): FakeHost {
  const h = withPkeyProbe(new FakeHost('agent1')).file('/root/.pem/agent1.key', key.privateKeyPem, { mode: 0o600 });
  h.on(['openssl', 'req'], (argv) => {
    const i = argv.indexOf('-key');
    const real = wd.file('k.pem', h.content(argv[i + 1] ?? '') ?? '');
    const args = [...argv.slice(1)];
    args[i] = real;
    return { stdout: execFileSync('openssl', args, { encoding: 'utf8' }) };
  });
  return h;
}

describe('csr plan', () => {
  it('creates a CSR with openssl on the host; the subject is one argv element', async () => {
    const h = host();
    const plan = await planOn(csrTask, h, { key: '/root/.pem/agent1.key', path: '/root/.pem/agent1.csr', subject: { C: 'IN', O: 'PEM; rm -rf /', CN: 'agent1' }, san: ['DNS:a1.example'] });
    expect(plan.changed).toBe(true);
    const exec = plan.steps.find((s): s is ExecStep => s.kind === 'exec');
    expect(exec?.argv).toContain('/C=IN/O=PEM; rm -rf \\//CN=agent1');
    expect(exec?.argv).toContain('subjectAltName=DNS:a1.example');
    await applyFakeSteps(h, plan.steps);
    const made = parseCsr(h.content('/root/.pem/agent1.csr') ?? '');
    expect(made.subjectMap).toEqual({ C: 'IN', O: 'PEM; rm -rf /', CN: 'agent1' });
    expect(made.san).toEqual([{ type: 'dns', value: 'a1.example' }]);
    expect(made.spki.equals(key.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('keeps a CSR with the same subject and key, with the CSR in the result', async () => {
    const h = host().file('/root/.pem/agent1.csr', await createCsr({ key: key.privateKey, subject: SUBJ }));
    const plan = await planOn(csrTask, h, { key: '/root/.pem/agent1.key', path: '/root/.pem/agent1.csr', subject: SUBJ });
    expect(plan).toMatchObject({ changed: false, reason: `CSR /root/.pem/agent1.csr for ${SUBJ} matches /root/.pem/agent1.key` });
    expect(plan.result?.csr).toMatch(/BEGIN CERTIFICATE REQUEST/);
  });

  it.each([
    ['another key', async () => createCsr({ key: other.privateKey, subject: SUBJ }), /for another key/],
    ['another subject', async () => createCsr({ key: key.privateKey, subject: '/CN=agent2' }), /subject is \/CN=agent2/],
    ['other SANs', async () => createCsr({ key: key.privateKey, subject: SUBJ, san: ['DNS:x'] }), /SANs differ/],
    ['not a CSR', async () => 'junk', /not a readable CSR/],
  ])('replaces a CSR for %s (backup first)', async (_n, make, why) => {
    const h = host().file('/root/.pem/agent1.csr', await make());
    const before = h.snapshot();
    const plan = await planOn(csrTask, h, { key: '/root/.pem/agent1.key', path: '/root/.pem/agent1.csr', subject: SUBJ });
    expect(plan.reason).toMatch(why);
    expect(plan.steps[0]?.kind).toBe('backup');
    await applyFakeSteps(h, plan.steps);
    expect(parseCsr(h.content('/root/.pem/agent1.csr') ?? '').subject).toBe(SUBJ);
    await rollbackOn(csrTask, h, plan);
    expect(h.snapshot()).toEqual(before);
  });

  it('depends on genkey in check mode when the key is missing, fails otherwise', async () => {
    const h = new FakeHost();
    const c = await planOn(csrTask, h, { key: '/k.key', path: '/a.csr', subject: SUBJ }, { check: true });
    expect(c).toMatchObject({ changed: true, dependsOn: 'the task that generates /k.key' });
    const r = await planOn(csrTask, h, { key: '/k.key', path: '/a.csr', subject: SUBJ });
    expect(r.failed).toMatch(/key \/k.key does not exist/);
  });

  it('validates subjects and SANs when the playbook loads', () => {
    expect(() => csrTask.args.parse({ key: '/k', path: '/c', subject: 'CN=x' })).toThrow(/must start with/);
    expect(() => csrTask.args.parse({ key: '/k', path: '/c', subject: { C: 'Norway' } })).toThrow(/two-letter/);
    expect(() => csrTask.args.parse({ key: '/k', path: '/c', subject: '/CN=x', san: ['DNS:a,DNS:b'] })).toThrow(/comma/);
  });
});

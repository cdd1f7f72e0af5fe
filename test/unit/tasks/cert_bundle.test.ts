import { beforeAll, describe, expect, it } from 'vitest';
import { certBundleTask, appendPems } from '../../../src/tasks/cert_bundle.js';
import { parseCertificates } from '../../../src/pki/inspect.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn, rollbackOn } from '../../support/fake-steps.js';
import { makeRoot } from '../pki/fixtures.js';
import type { TestCa } from '../pki/fixtures.js';

let oldCa: TestCa;
let newCa: TestCa;
beforeAll(async () => {
  oldCa = await makeRoot('PEM');
  newCa = await makeRoot('PEM CA 2027');
});

const ARGS = { path: '/pgdata/root.crt', certs: ['/pgdata/ca_certificate.crt'], mode: '0600' };

describe('cert_bundle', () => {
  it('appends the new CA after the old one, keeps the old one, and a rerun changes nothing', async () => {
    const h = new FakeHost('pem-server').file('/pgdata/root.crt', oldCa.certPem, { mode: 0o600 }).file('/pgdata/ca_certificate.crt', newCa.certPem);
    const plan = await planOn(certBundleTask, h, ARGS);
    expect(plan.changed).toBe(true);
    expect(plan.reason).toMatch(/^add PEM CA 2027 to \/pgdata\/root\.crt \(1 certificate\(s\) kept\)/);
    await applyFakeSteps(h, plan.steps);
    const cns = parseCertificates(h.content('/pgdata/root.crt') ?? '').map((c) => c.cn);
    expect(cns).toEqual(['PEM', 'PEM CA 2027']);
    expect(((await h.stat('/pgdata/root.crt'))?.mode ?? 0) & 0o777).toBe(0o600);
    const again = await planOn(certBundleTask, h, ARGS);
    expect(again.changed).toBe(false);
    expect(again.reason).toBe('/pgdata/root.crt already holds the 1 certificate(s)');
    await applyFakeSteps(h, await rollbackOn(certBundleTask, h, plan));
    expect(h.content('/pgdata/root.crt')).toBe(oldCa.certPem);
  });

  it('a missing certificate fails a run and depends on an earlier task in check mode', async () => {
    const h = new FakeHost('pem-server').file('/pgdata/root.crt', oldCa.certPem);
    expect((await planOn(certBundleTask, h, ARGS)).failed).toBe('/pgdata/ca_certificate.crt does not exist');
    const c = await planOn(certBundleTask, h, ARGS, { check: true });
    expect(c.changed).toBe(true);
    expect(c.dependsOn).toMatch(/ca_certificate\.crt/);
  });

  it('appendPems adds a newline only where one is missing', () => {
    expect(appendPems('A', ['B\n'])).toBe('A\nB\n');
    expect(appendPems('', ['B'])).toBe('B\n');
    expect(appendPems('A\n', [])).toBe('A\n');
  });
});

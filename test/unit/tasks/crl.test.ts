import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { crlTask } from '../../../src/tasks/crl.js';
import { createCrl, parseCrls } from '../../../src/pki/crl.js';
import type { ExecStep } from '../../../src/tasks/steps.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn, rollbackOn } from '../../support/fake-steps.js';
import { makeIntermediate, makeRoot } from '../pki/fixtures.js';
import type { TestCa } from '../pki/fixtures.js';
import { openssl, workdir } from '../pki/referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());
let root: TestCa;
let inter: TestCa;
beforeAll(async () => {
  root = await makeRoot('Corp Root', { type: 'rsa', bits: 2048 });
  inter = await makeIntermediate('Corp Intermediate', root);
});

/** A CA host whose `sh -c GENCRL_SCRIPT` runs for real on temp copies of the CA files. */
function host(ca: TestCa): FakeHost {
  const h = new FakeHost('pemserver');
  h.file('/pgdata/ca.crt', ca.certPem, { mode: 0o600 });
  h.file('/pgdata/ca.key', ca.key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  h.on(['sh', '-c'], (argv) => {
    const args = argv.slice(4);
    args[0] = wd.file('c.crt', h.content(args[0] ?? '') ?? '');
    args[1] = wd.file('c.key', h.content(args[1] ?? '') ?? '');
    return { stdout: execFileSync('sh', ['-c', argv[2] ?? '', 'sh', ...args], { encoding: 'utf8' }) };
  });
  return h;
}

const ARGS = { path: '/pgdata/root.crl', ca_cert: '/pgdata/ca.crt', ca_key: '/pgdata/ca.key', days: 30 };

describe('crl state: present', () => {
  it('creates a CRL with openssl ca -gencrl in a temp config, keeps it, revokes, rolls back', async () => {
    const h = host(root);
    const p = await planOn(crlTask, h, ARGS);
    expect(p.reason).toBe('create CRL /pgdata/root.crl for Corp Root');
    expect(JSON.stringify(p.steps)).not.toContain('PRIVATE KEY');
    await applyFakeSteps(h, p.steps);
    const text = h.content('/pgdata/root.crl') ?? '';
    expect(openssl(['crl', '-noout', '-CAfile', wd.file('root.pem', root.certPem)], text)).toBe('');
    expect(parseCrls(text)[0]?.issuerCn).toBe('Corp Root');
    const again = await planOn(crlTask, h, ARGS);
    expect(again.changed).toBe(false);
    expect(again.reason).toMatch(/CRL from Corp Root is current, 29 days left/);
    const before = h.snapshot();
    const rev = await planOn(crlTask, h, { ...ARGS, revoke: ['0x1A2B'] });
    expect(rev.reason).toMatch(/^refresh CRL/);
    await applyFakeSteps(h, rev.steps);
    await rollbackOn(crlTask, h, rev);
    expect(h.snapshot()).toEqual(before);
    await applyFakeSteps(h, (await planOn(crlTask, h, { ...ARGS, revoke: ['0x1A2B'] })).steps);
    expect(parseCrls(h.content('/pgdata/root.crl') ?? '')[0]?.revoked.map((r) => r.serial)).toEqual(['1A2B']);
    // the revoked serial is carried over on the next refresh
    const keep = await planOn(crlTask, h, { ...ARGS, renew_days: 40 });
    await applyFakeSteps(h, keep.steps);
    expect(parseCrls(h.content('/pgdata/root.crl') ?? '')[0]?.revoked.map((r) => r.serial)).toEqual(['1A2B']);
    await rollbackOn(crlTask, h, keep);
    expect(parseCrls(h.content('/pgdata/root.crl') ?? '')[0]?.revoked.map((r) => r.serial)).toEqual(['1A2B']);
    void before;
  });

  it("keep_other_issuers: a new CA's CRL is added to root.crl and the old CA's CRL stays (dual trust)", async () => {
    const otherCrl = await createCrl({ ca: inter, days: 30 });
    const h = host(root).file('/pgdata/root.crl', otherCrl);
    const p = await planOn(crlTask, h, { ...ARGS, keep_other_issuers: true });
    expect(p.reason).toBe("create CRL /pgdata/root.crl for Corp Root (the other CAs' CRLs kept)");
    await applyFakeSteps(h, p.steps);
    const crls = parseCrls(h.content('/pgdata/root.crl') ?? '');
    expect(crls.map((c) => c.issuerCn)).toEqual(['Corp Intermediate', 'Corp Root']);
    expect((await planOn(crlTask, h, { ...ARGS, keep_other_issuers: true })).changed).toBe(false);
    // without it, the file holds only this CA's CRL (the old behaviour)
    const h2 = host(root).file('/pgdata/root.crl', otherCrl);
    await applyFakeSteps(h2, (await planOn(crlTask, h2, ARGS)).steps);
    expect(parseCrls(h2.content('/pgdata/root.crl') ?? '').map((c) => c.issuerCn)).toEqual(['Corp Root']);
  });

  it('refreshes a CRL that is about to expire', async () => {
    const h = host(root).file('/pgdata/root.crl', await createCrl({ ca: root, days: 3 }));
    const p = await planOn(crlTask, h, ARGS);
    expect(p.reason).toBe('refresh CRL /pgdata/root.crl for Corp Root');
    expect(p.steps.map((s) => s.kind)).toEqual(['backup', 'exec', 'write']);
  });

  it('signs on the controller when the CA key is controller-held', async () => {
    const h = new FakeHost('pemserver').dir('/pgdata');
    const certP = wd.file('i.crt', inter.certPem);
    const keyP = wd.file('i.key', inter.key.export({ type: 'pkcs8', format: 'pem' }).toString());
    const p = await planOn(crlTask, h, { path: '/pgdata/inter.crl', ca_cert: certP, ca_key: keyP, controller_ca: true });
    expect(p.steps.map((s) => s.kind)).toEqual(['call', 'write']);
    await applyFakeSteps(h, p.steps);
    expect(parseCrls(h.content('/pgdata/inter.crl') ?? '')[0]?.issuerCn).toBe('Corp Intermediate');
  });

  it('runs on the CA host when ca_host is given', async () => {
    const ca = host(root);
    const t = new FakeHost('pgserver').dir('/pgdata');
    const ctxPlan = await crlTask.plan({
      ...(await import('../../support/fake-steps.js')).makeCtx(crlTask, t, { ...ARGS, ca_host: 'pemserver' }),
      probeHost: async () => ca,
    });
    expect((ctxPlan.steps.find((s): s is ExecStep => s.kind === 'exec'))?.host).toBe('pemserver');
  });
});

describe('crl state: checked (pitfall 1)', () => {
  it.each([
    ['a current CRL from each CA', async () => (await createCrl({ ca: root, days: 30 })) + (await createCrl({ ca: inter, days: 30 })), undefined],
    ['no CRL from the intermediate', async () => createCrl({ ca: root, days: 30 }), /no CRL from O=Fleet Test, CN=Corp Intermediate.*either add a current CRL from every CA in \/pgdata\/root.crt, or comment out ssl_crl_file/],
    ['an expired CRL', async () => (await createCrl({ ca: root, days: 30 })) + (await createCrl({ ca: inter, days: 1, thisUpdate: new Date(Date.now() - 9e8), nextUpdate: new Date(Date.now() - 1e6) })), /CRL from O=Fleet Test, CN=Corp Intermediate is not current/],
  ])('%s', async (_n, make, failed) => {
    const h = new FakeHost().file('/pgdata/root.crt', root.certPem + inter.certPem).file('/pgdata/root.crl', await make());
    const p = await planOn(crlTask, h, { path: '/pgdata/root.crl', state: 'checked', ca_bundle: '/pgdata/root.crt' });
    expect(p.changed).toBe(false);
    if (failed) expect(p.failed).toMatch(failed);
    else {
      expect(p.failed).toBeUndefined();
      expect(p.reason).toBe('/pgdata/root.crl has a current CRL from each of the 2 CA(s) in /pgdata/root.crt');
    }
  });

  it('needs ca_bundle for checked and CA files for present', () => {
    expect(() => crlTask.args.parse({ path: '/a', state: 'checked' })).toThrow(/ca_bundle/);
    expect(() => crlTask.args.parse({ path: '/a' })).toThrow(/ca_cert and ca_key/);
  });
});

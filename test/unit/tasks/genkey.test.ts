import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { genkeyTask } from '../../../src/tasks/genkey.js';
import { genpkeyArgv, underUmask } from '../../../src/tasks/lib/openssl.js';
import { describeKey, generateKey, parsePrivateKey } from '../../../src/pki/keys.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planAndApply, planOn, rollbackOn } from '../../support/fake-steps.js';
import { withPkeyProbe } from '../pki/fixtures.js';
import { workdir } from '../pki/referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());

const rsa = await generateKey({ type: 'rsa', bits: 2048 });
const ec = await generateKey({ type: 'ec', curve: 'P-256' });

/** A host whose `sh -c 'umask 077 && exec "$@"' sh openssl genpkey ... -out TMP` makes an EC/RSA key in memory. */
function host(): FakeHost {
  const h = withPkeyProbe(new FakeHost('agent1'));
  h.dir('/root/.pem', { mode: 0o700 });
  h.on(['sh', '-c'], (argv) => {
    const out = argv[argv.indexOf('-out') + 1] ?? '';
    const key = argv.some((a) => a.startsWith('rsa_keygen_bits')) ? rsa.privateKeyPem : ec.privateKeyPem;
    h.file(out, key, { mode: 0o600 });
    return {};
  });
  return h;
}

describe('genkey plan', () => {
  const cases: Array<{ name: string; setup: (h: FakeHost) => void; args: Record<string, unknown>; changed: boolean; reason?: RegExp; kinds?: string[]; check?: boolean; dependsOn?: RegExp; failed?: RegExp }> = [
    { name: 'missing key: generate under umask, set attrs, rename', setup: () => {}, args: { path: '/root/.pem/agent1.key' }, changed: true, kinds: ['remove', 'exec', 'attrs', 'rename'], reason: /generate RSA 4096 key/ },
    { name: 'matching key is kept with its reason', setup: (h) => h.file('/root/.pem/a.key', rsa.privateKeyPem, { mode: 0o600 }), args: { path: '/root/.pem/a.key', size: 2048 }, changed: false, reason: /^key exists, RSA 2048$/ },
    { name: 'EC key where RSA is wanted: backup and regenerate', setup: (h) => h.file('/root/.pem/a.key', ec.privateKeyPem, { mode: 0o600 }), args: { path: '/root/.pem/a.key' }, changed: true, kinds: ['backup', 'remove', 'exec', 'attrs', 'rename'], reason: /replace EC P-256 key .* with a new RSA 4096 key/ },
    { name: 'regenerate: never keeps a mismatching key', setup: (h) => h.file('/root/.pem/a.key', ec.privateKeyPem, { mode: 0o600 }), args: { path: '/root/.pem/a.key', regenerate: 'never' }, changed: false, reason: /key exists, EC P-256/ },
    { name: 'regenerate: always replaces a matching key', setup: (h) => h.file('/root/.pem/a.key', ec.privateKeyPem, { mode: 0o600 }), args: { path: '/root/.pem/a.key', type: 'ec', regenerate: 'always' }, changed: true, reason: /regenerate: always/ },
    { name: 'right key, loose mode: attrs only', setup: (h) => h.file('/root/.pem/a.key', ec.privateKeyPem, { mode: 0o644 }), args: { path: '/root/.pem/a.key', type: 'ec' }, changed: true, kinds: ['attrs'], reason: /mode 0644 -> 0600/ },
    { name: 'unreadable key is replaced', setup: (h) => h.file('/root/.pem/a.key', 'garbage', { mode: 0o600 }), args: { path: '/root/.pem/a.key', type: 'ec' }, changed: true, reason: /openssl cannot read/ },
    { name: 'missing directory fails with the fix', setup: () => {}, args: { path: '/nope/a.key' }, changed: false, failed: /directory \/nope does not exist/ },
    { name: 'missing directory in check mode depends on an earlier task', setup: () => {}, args: { path: '/nope/a.key' }, changed: true, check: true, dependsOn: /\/nope/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const h = host();
      c.setup(h);
      const plan = await planOn(genkeyTask, h, c.args, { check: c.check ?? false });
      if (c.failed) return expect(plan.failed).toMatch(c.failed);
      expect(plan.failed).toBeUndefined();
      expect(plan.changed).toBe(c.changed);
      if (c.reason) expect(plan.reason).toMatch(c.reason);
      if (c.kinds) expect(plan.steps.map((s) => s.kind)).toEqual(c.kinds);
      if (c.dependsOn) expect(plan.dependsOn).toMatch(c.dependsOn);
    });
  }

  it('refuses size with type ec, and unknown sizes', () => {
    expect(() => genkeyTask.args.parse({ path: '/a', type: 'ec', size: 2048 })).toThrow(/size goes with type: rsa/);
    expect(() => genkeyTask.args.parse({ path: '/a', size: 1024 })).toThrow();
  });

  it('apply, rerun unchanged, rollback restores the old key byte for byte', async () => {
    const h = host().file('/root/.pem/a.key', ec.privateKeyPem, { mode: 0o600 });
    const before = h.snapshot();
    const plan = await planAndApply(genkeyTask, h, { path: '/root/.pem/a.key', size: 2048, owner: 'root' });
    expect(describeKey(parsePrivateKey(h.content('/root/.pem/a.key') ?? '')).label).toBe('RSA 2048');
    expect((await h.stat('/root/.pem/a.key'))?.mode).toBe(0o600);
    expect(JSON.stringify(plan)).not.toContain('PRIVATE KEY');
    const again = await planOn(genkeyTask, h, { path: '/root/.pem/a.key', size: 2048, owner: 'root' });
    expect(again).toMatchObject({ changed: false, reason: 'key exists, RSA 2048' });
    await rollbackOn(genkeyTask, h, plan);
    expect(h.snapshot()).toEqual(before);
  });
});

describe('the genkey command itself (real sh + openssl)', () => {
  it.each([
    [{ type: 'rsa', size: 2048 } as const, 'RSA 2048'],
    [{ type: 'ec', curve: 'P-384' } as const, 'EC P-384'],
  ])('%o makes a 0600 key from the first byte', (algo, label) => {
    const out = join(wd.dir, `k-${label.replace(' ', '')}.key`);
    execFileSync(underUmask(genpkeyArgv(algo, out))[0] ?? 'sh', underUmask(genpkeyArgv(algo, out)).slice(1), { env: { ...process.env } });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(describeKey(parsePrivateKey(execFileSync('cat', [out]))).label).toBe(label);
  });
});

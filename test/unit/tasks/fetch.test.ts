import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchTask, fetchDestination } from '../../../src/tasks/fetch.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn } from '../../support/fake-steps.js';

describe('fetch', () => {
  it('destination layout follows Ansible', () => {
    expect(fetchDestination('agent7', '/root/.pem/agent7.csr', '/out', false)).toBe('/out/agent7/root/.pem/agent7.csr');
    expect(fetchDestination('agent7', '/root/.pem/agent7.csr', '/out/a.csr', true)).toBe('/out/a.csr');
    expect(fetchDestination('agent7', '/root/.pem/agent7.csr', '/out/', true)).toBe('/out/agent7.csr');
  });

  it('fetches to the controller atomically with a narrowed mode, is idempotent, and rollback removes it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fp-fetch-'));
    const h = new FakeHost('agent7').file('/root/.pem/agent7.key', 'KEYDATA', { mode: 0o600 });
    const args = { src: '/root/.pem/agent7.key', dest: out };
    const runDir = join(out, 'run');
    const plan = await planOn(fetchTask, h, args, { runDir });
    expect(plan.changed).toBe(true);
    expect(plan.steps.map((s) => s.kind)).toEqual(['call']);
    const dest = join(out, 'agent7/root/.pem/agent7.key');
    expect(existsSync(dest)).toBe(false);
    await applyFakeSteps(h, plan.steps);
    expect(readFileSync(dest, 'utf8')).toBe('KEYDATA');
    expect(statSync(dest).mode & 0o777).toBe(0o600);
    const again = await planOn(fetchTask, h, args, { runDir });
    expect(again.changed).toBe(false);
    expect(again.reason).toMatch(/already has the content of agent7:\/root\/.pem\/agent7.key/);
    await applyFakeSteps(h, fetchTask.rollback(JSON.parse(JSON.stringify(plan.undo)), { host: { name: 'agent7', vars: {} }, runId: 'r' }));
    expect(existsSync(dest)).toBe(false);
  });

  it('rollback puts back a previous controller copy', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fp-fetch-'));
    const dest = join(out, 'a.crt');
    writeFileSync(dest, 'OLD');
    mkdirSync(join(out, 'run'));
    const h = new FakeHost().file('/etc/a.crt', 'NEW', { mode: 0o644 });
    const plan = await planOn(fetchTask, h, { src: '/etc/a.crt', dest, flat: true }, { runDir: join(out, 'run') });
    await applyFakeSteps(h, plan.steps);
    expect(readFileSync(dest, 'utf8')).toBe('NEW');
    expect(statSync(dest).mode & 0o777).toBe(0o644);
    await applyFakeSteps(h, fetchTask.rollback(JSON.parse(JSON.stringify(plan.undo)), { host: { name: 'h1', vars: {} }, runId: 'r' }));
    expect(readFileSync(dest, 'utf8')).toBe('OLD');
  });

  it('a missing source fails, or is ok with fail_on_missing: no', async () => {
    const h = new FakeHost();
    expect((await planOn(fetchTask, h, { src: '/nope', dest: '/tmp/x' })).failed).toMatch(/\/nope does not exist on h1/);
    expect((await planOn(fetchTask, h, { src: '/nope', dest: '/tmp/x', fail_on_missing: false })).reason).toMatch(/fail_on_missing is off/);
  });
});

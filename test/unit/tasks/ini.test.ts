import { describe, expect, it } from 'vitest';
import { iniTask } from '../../../src/tasks/ini.js';
import { findTask } from '../../../src/tasks/index.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planAndApply, planOn, rollbackOn } from '../../support/fake-steps.js';

const AGENT = '/usr/edb/pem/agent/etc/agent.cfg';
const CFG = [
  '[PEM/agent]',
  'pem_host=10.0.0.5',
  'pem_port=5444',
  'agent_id=7',
  '; the key and certificate the agent logs in with',
  'agent_ssl_key=/root/.pem/agent7.key',
  'agent_ssl_crt=/root/.pem/agent7.crt',
  '',
  '[PEM/agent/extra]',
  'x = 1',
  '',
].join('\n');

describe('ini (agent.cfg)', () => {
  const cases: Array<{ name: string; content?: string; args: Record<string, unknown>; after?: string; reason?: RegExp }> = [
    {
      name: 'change a key, keeping key=value style and every other byte',
      args: { section: 'PEM/agent', option: 'agent_ssl_key', value: '/etc/pem/agent.key' },
      after: CFG.replace('agent_ssl_key=/root/.pem/agent7.key', 'agent_ssl_key=/etc/pem/agent.key'),
    },
    { name: 'value already set', args: { section: 'PEM/agent', option: 'agent_id', value: 7 }, reason: /\[PEM\/agent\] agent_id is already 7/ },
    {
      name: 'add a key at the end of its section, in the section style',
      args: { section: 'PEM/agent', option: 'agent_user', value: 'pem_agent_common_user' },
      after: CFG.replace('agent7.crt\n', 'agent7.crt\nagent_user=pem_agent_common_user\n'),
    },
    {
      name: 'spaced style is kept in a spaced section',
      args: { section: 'PEM/agent/extra', option: 'y', value: '2' },
      after: CFG.replace('x = 1\n', 'x = 1\ny = 2\n'),
    },
    { name: 'new section appended', args: { section: 'New', option: 'k', value: 'v' }, after: `${CFG}\n[New]\nk=v\n` },
    { name: 'remove a key', args: { section: 'PEM/agent', option: 'pem_port', state: 'absent' }, after: CFG.replace('pem_port=5444\n', '') },
    { name: 'remove a key that is not there', args: { section: 'PEM/agent', option: 'nope', state: 'absent' }, reason: /is not set/ },
    { name: 'the same option in another section is not touched', args: { section: 'PEM/agent', option: 'x', value: '9' }, after: CFG.replace('agent7.crt\n', 'agent7.crt\nx=9\n') },
    { name: 'comments are never rewritten', content: '[s]\n;k=old\n', args: { section: 's', option: 'k', value: 'new' }, after: '[s]\n;k=old\nk = new\n' },
    { name: 'options before the first section', content: 'top = 1\n[s]\nk=v\n', args: { option: 'top', value: '2' }, after: 'top = 2\n[s]\nk=v\n' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const h = new FakeHost().file(AGENT, c.content ?? CFG, { mode: 0o644 });
      const before = h.snapshot();
      const args = { path: AGENT, ...c.args };
      const plan = await planOn(iniTask, h, args);
      expect(plan.failed).toBeUndefined();
      if (c.reason) {
        expect(plan.changed).toBe(false);
        expect(plan.reason).toMatch(c.reason);
        return;
      }
      await planAndApply(iniTask, h, args);
      expect(h.content(AGENT)).toBe(c.after);
      expect((await planOn(iniTask, h, args)).changed).toBe(false);
      await rollbackOn(iniTask, h, plan);
      expect(h.snapshot()).toEqual(before);
    });
  }

  it('is registered as ini and ini_file', () => {
    expect(findTask('ini_file')).toBe(iniTask);
    expect(findTask('ini')).toBe(iniTask);
  });

  it('creates a missing file by default, refuses with create: no', async () => {
    const h = new FakeHost().dir('/etc/app');
    expect((await planOn(iniTask, h, { path: '/etc/app/a.cfg', section: 's', option: 'k', value: 'v', create: 'no' })).failed).toMatch(/does not exist/);
    await planAndApply(iniTask, h, { path: '/etc/app/a.cfg', section: 's', option: 'k', value: 'v' });
    expect(h.content('/etc/app/a.cfg')).toBe('[s]\nk = v\n');
  });
});

import { describe, expect, it } from 'vitest';
import { serviceTask } from '../../../src/tasks/service.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn } from '../../support/fake-steps.js';

const CMDS = {
  start: ['/opt/pem/agent-ctl', 'start'],
  stop: ['/opt/pem/agent-ctl', 'stop'],
  status: ['/opt/pem/agent-ctl', 'status'],
};

function systemd(active: boolean, enabled = true): FakeHost {
  return new FakeHost()
    .on(['systemctl', 'is-active'], { exitCode: active ? 0 : 3 })
    .on(['systemctl', 'is-enabled'], { exitCode: enabled ? 0 : 1 });
}

const argvs = (steps: { kind: string; argv?: string[] }[]) => steps.map((s) => (s.kind === 'exec' ? s.argv?.join(' ') : s.kind));

describe('service plan (systemd)', () => {
  const cases: Array<{ name: string; active: boolean; enabled?: boolean; args: Record<string, unknown>; steps?: (string | undefined)[]; reason: RegExp }> = [
    { name: 'started when active is ok', active: true, args: { name: 'pemagent', state: 'started' }, reason: /^pemagent is active$/ },
    { name: 'started when inactive starts and waits', active: false, args: { name: 'pemagent', state: 'started' }, steps: ['systemctl start pemagent', 'call'], reason: /start pemagent/ },
    { name: 'stopped when inactive is ok', active: false, args: { name: 'pemagent', state: 'stopped' }, reason: /not active/ },
    { name: 'stopped when active stops', active: true, args: { name: 'pemagent', state: 'stopped' }, steps: ['systemctl stop pemagent'], reason: /stop/ },
    { name: 'restarted always restarts', active: true, args: { name: 'pemagent', state: 'restarted' }, steps: ['systemctl restart pemagent', 'call'], reason: /restart/ },
    { name: 'restarted without wait does not poll', active: true, args: { name: 'pemagent', state: 'restarted', wait: 0 }, steps: ['systemctl restart pemagent'], reason: /restart/ },
    { name: 'reloaded when active reloads', active: true, args: { name: 'httpd', state: 'reloaded' }, steps: ['systemctl reload httpd'], reason: /reload/ },
    { name: 'reloaded when inactive starts', active: false, args: { name: 'httpd', state: 'reloaded' }, steps: ['systemctl start httpd', 'call'], reason: /start/ },
    { name: 'enable a disabled service', active: true, enabled: false, args: { name: 'pemagent', enabled: 'yes' }, steps: ['systemctl enable pemagent'], reason: /enable/ },
    { name: 'enabled and active is ok', active: true, enabled: true, args: { name: 'pemagent', enabled: true, state: 'started' }, reason: /active, enabled/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const plan = await planOn(serviceTask, systemd(c.active, c.enabled), c.args);
      expect(plan.failed).toBeUndefined();
      expect(plan.reason).toMatch(c.reason);
      expect(plan.changed).toBe(c.steps !== undefined);
      expect(argvs(plan.steps)).toEqual(c.steps ?? []);
    });
  }
});

describe('service rollback from undo alone', () => {
  it('restarts a service that was active, stops one that was not, restores enablement', async () => {
    const wasUp = await planOn(serviceTask, systemd(true), { name: 'pemagent', state: 'restarted', wait: 0 });
    expect(argvs(serviceTask.rollback(wasUp.undo ?? {}, { host: { name: 'h1', vars: {} }, runId: 'r' }))).toEqual(['systemctl restart pemagent']);
    const wasDown = await planOn(serviceTask, systemd(false, false), { name: 'pemagent', state: 'started', enabled: true, wait: 0 });
    expect(argvs(serviceTask.rollback(JSON.parse(JSON.stringify(wasDown.undo)), { host: { name: 'h1', vars: {} }, runId: 'r' }))).toEqual([
      'systemctl disable pemagent',
      'systemctl stop pemagent',
    ]);
  });
});

describe('service (command manager)', () => {
  it('takes commands from the inventory var, and rollback keeps them without the vars', async () => {
    let up = false;
    const h = new FakeHost()
      .on(CMDS.status, () => ({ exitCode: up ? 0 : 1 }))
      .on(CMDS.start, () => {
        up = true;
        return {};
      })
      .on(CMDS.stop, () => {
        up = false;
        return {};
      });
    const vars = { fleetplay_service_commands: { pemagent: CMDS } };
    const plan = await planOn(serviceTask, h, { name: 'pemagent', state: 'restarted', wait: 2 }, { vars });
    expect(argvs(plan.steps)).toEqual(['/opt/pem/agent-ctl start', 'call']);
    expect(plan.reason).toBe('start (was not running) pemagent');
    await applyFakeSteps(h, plan.steps);
    expect(up).toBe(true);
    const rb = serviceTask.rollback(JSON.parse(JSON.stringify(plan.undo)), { host: { name: 'h1', vars: {} }, runId: 'r' });
    expect(argvs(rb)).toEqual(['/opt/pem/agent-ctl stop']);
    await applyFakeSteps(h, rb);
    expect(up).toBe(false);
  });

  it('the wait step fails with the exit code when the service never comes up', async () => {
    const h = new FakeHost().on(CMDS.status, { exitCode: 3, stderr: 'agent not running' }).on(CMDS.start, {});
    const plan = await planOn(serviceTask, h, { name: 'pemagent', state: 'started', manager: 'command', commands: CMDS, wait: 1 });
    await expect(applyFakeSteps(h, plan.steps)).rejects.toThrow(/pemagent is not up after 1s \(exit 3: agent not running\)/);
  });

  it('fails clearly without commands, and for reload without a reload command', async () => {
    const h = new FakeHost().on(CMDS.status, { exitCode: 0 });
    expect((await planOn(serviceTask, h, { name: 'x', state: 'started', manager: 'command' })).failed).toMatch(/fleetplay_service_commands.x/);
    expect((await planOn(serviceTask, h, { name: 'x', state: 'reloaded', commands: CMDS })).failed).toMatch(/no reload command/);
    expect((await planOn(serviceTask, h, { name: 'x', enabled: true, commands: CMDS })).failed).toMatch(/needs systemd/);
    const restart = await planOn(serviceTask, h, { name: 'x', state: 'restarted', commands: CMDS });
    expect(argvs(restart.steps)).toEqual(['/opt/pem/agent-ctl stop', '/opt/pem/agent-ctl start', 'call']);
  });
});
